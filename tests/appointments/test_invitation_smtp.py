"""The invitation goes through a real SMTP server (aiosmtpd on loopback); the received
message carries the text, the HTML and a text/calendar part that both parsers read."""

from __future__ import annotations

from email import message_from_bytes, policy

import icalendar
import vobject
from appointments.helpers import local, next_weekday
from support import free_port, smtp_server

from dealer_leads.appointments import services
from dealer_leads.extensions import db
from dealer_leads.messaging.models import OutboundMessage
from dealer_leads.messaging.senders import SmtpSender


def test_invitation_over_smtp(lead, advisor, dealership):
    with smtp_server() as (handler, port):
        sender = SmtpSender("127.0.0.1", port, use_tls=False, timeout=5)
        booking = services.Booking(advisor.id, local(next_weekday(days=2), 10), 60, "test_drive")
        appointment = services.book_appointment(None, lead.id, booking, mailer=sender)
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [lead.customer.email]
    received = message_from_bytes(envelope.content, policy=policy.default)
    types = [part.get_content_type() for part in received.walk()]
    assert {"text/plain", "text/html", "text/calendar", "application/ics"} <= set(types)
    calendar = next(p for p in received.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    body = calendar.get_content()
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["uid"]) == appointment.uid and event["sequence"] == 0
    assert event["dtstart"].dt == appointment.starts_at
    assert vobject.readOne(body).vevent.uid.value == appointment.uid
    assert "Maple Ridge Motors" in str(event["location"])
    recorded = db.session.scalar(
        db.select(OutboundMessage).where(OutboundMessage.lead_id == lead.id)
    )
    assert recorded.channel == "email" and recorded.message_id == received["Message-ID"]


def test_a_refused_invitation_keeps_the_booking_and_says_so(lead, advisor, dealership):
    sender = SmtpSender("127.0.0.1", free_port(), use_tls=False, timeout=2)  # nobody listens
    booking = services.Booking(advisor.id, local(next_weekday(days=2), 10), 60, "test_drive")
    appointment = services.book_appointment(None, lead.id, booking, mailer=sender)
    assert appointment.id and appointment.status == "booked"
    summaries = [e.summary for e in lead.events]
    assert any(s.startswith("Invitation e-mail failed") for s in summaries)
