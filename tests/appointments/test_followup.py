"""The follow-up around a visit, sent by the real cadence engine with fake senders: the
confirming text at once, reminders that name the visit, and the booking link in messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from appointments.helpers import TORONTO, FakeMail, local
from builders import ingest, lead_json

from dealer_leads.appointments import services
from dealer_leads.cadence.engine import run_due_touches
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

NOW = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)  # a Tuesday
THURSDAY = date(2026, 6, 4)


class FakeSms:
    def __init__(self):
        self.sent = []

    def send(self, to, body, status_callback=None) -> str:
        self.sent.append((to, body))
        return f"SM{len(self.sent):04d}"


def test_confirmation_text_and_reminders_name_the_visit(dealership, advisor):
    lead = db.session.get(Lead, ingest(lead_json(), now=NOW - timedelta(days=3)).lead_id)
    senders = Senders(mail=FakeMail(), sms=FakeSms())
    starts = local(THURSDAY, 10, 30)
    booking = services.Booking(advisor.id, starts, 60, "test_drive")
    services.book_appointment(None, lead.id, booking, now=NOW, mailer=FakeMail())
    run_due_touches(NOW, senders)
    [(to, text)] = senders.sms.sent
    assert to == lead.customer.phone
    assert "Thursday, June 4 at 10:30 AM" in text and "Reply C to confirm" in text
    run_due_touches(starts - timedelta(days=1), senders)
    [reminder] = senders.mail.sent
    assert reminder["Subject"] == "See you Thursday, June 4 at 10:30 AM"
    assert "Thursday, June 4 at 10:30 AM" in senders.sms.sent[-1][1]


def test_follow_up_messages_carry_the_self_scheduling_link(dealership, advisor):
    senders = Senders(mail=FakeMail(), sms=FakeSms())
    lead = db.session.get(Lead, ingest(lead_json(), now=NOW).lead_id)
    run_due_touches(NOW, senders)
    [answer] = senders.mail.sent
    text = answer.get_body(("plain",)).get_content()
    assert "/book/" in text
    assert lead.id
