"""Texting C or YES confirms the next visit; other texts are replies as before."""

from __future__ import annotations

import pytest
from appointments.helpers import local, next_weekday

from dealer_leads.appointments import board, services
from dealer_leads.cadence.models import LeadCadence
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.messaging.sms_inbound import receive_sms


def _book(lead, advisor, mail):
    booking = services.Booking(advisor.id, local(next_weekday(days=2), 11), 60, "test_drive")
    return services.book_appointment(None, lead.id, booking, mailer=mail)


def _text(lead, body: str, sid: str):
    params = {"MessageSid": sid, "From": lead.customer.phone, "Body": body}
    return receive_sms(params, b"raw", now_utc())


@pytest.mark.parametrize("body", ["C", "yes", " Yes! ", "c."])
def test_c_or_yes_confirms(lead, advisor, mail, body):
    appointment = _book(lead, advisor, mail)
    outcome = _text(lead, body, "SM1")
    assert outcome.action == "reply"
    db.session.refresh(appointment)
    assert appointment.status == "confirmed" and appointment.confirmed_at is not None
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.state == "active"  # the reminders go on


def test_another_text_pauses_as_a_reply(lead, advisor, mail):
    appointment = _book(lead, advisor, mail)
    _text(lead, "Can we make it 2pm instead?", "SM2")
    db.session.refresh(appointment)
    assert appointment.status == "booked"
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.state == "paused"


def test_yes_without_a_visit_is_just_a_reply(lead):
    _text(lead, "YES", "SM3")
    assert lead.id and board.list_lead_appointments(lead.id) == []
