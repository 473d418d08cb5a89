"""The customer confirms a visit: through the link in the invitation, or by texting C or YES."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from dealer_leads.appointments.marks import apply_mark
from dealer_leads.appointments.models import Appointment
from dealer_leads.appointments.services import AppointmentError
from dealer_leads.appointments.tokens import LinkRefused, read_confirm_token
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.compliance import sms_keyword

CONFIRM_WORDS = frozenset({"C", "YES", "Y", "CONFIRM", "CONFIRMED", "OUI"})
# A reply may come a little after the start ("YES, on my way"): still the same visit.
LATE_REPLY = timedelta(hours=1)


def appointment_for_link(token: str, now: datetime | None = None) -> Appointment:
    """The visit a confirmation link is for; LinkRefused when forged or expired."""
    now = now or now_utc()
    appointment_id, uid = read_confirm_token(current_app.config["SECRET_KEY"], token, now)
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.uid != uid:
        raise LinkRefused("invalid", "this link is for a visit we no longer have")
    return appointment


def confirm_by_link(token: str, now: datetime | None = None) -> Appointment:
    """Confirm the visit the link names (commits); a second click changes nothing."""
    now = now or now_utc()
    appointment = appointment_for_link(token, now)
    if appointment.status == "booked":
        if appointment.ends_at < now:
            raise AppointmentError("this visit is over: it can no longer be confirmed", "over")
        apply_mark(appointment, "confirmed", now, None)
        db.session.commit()
    elif appointment.status == "cancelled":
        raise AppointmentError(
            "this visit was cancelled: reply to the e-mail to rebook", "cancelled"
        )
    return appointment


def confirm_by_text(lead: Lead, body: str, now: datetime) -> bool:
    """A text that is C or YES confirms the lead's next booked visit (flushes); False when the
    text is something else or there is nothing to confirm, so it is handled as a reply."""
    if sms_keyword(body) not in CONFIRM_WORDS:
        return False
    query = (
        select(Appointment)
        .where(
            Appointment.lead_id == lead.id,
            Appointment.status.in_(("booked", "confirmed")),
            Appointment.starts_at >= now - LATE_REPLY,
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )
    appointment = db.session.scalar(query)
    if appointment is None:
        return False
    if appointment.status == "booked":
        apply_mark(appointment, "confirmed", now, None)
    db.session.flush()
    return True
