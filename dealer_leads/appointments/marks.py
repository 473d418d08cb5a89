"""One tap on the board, a link or a text: confirmed, shown, no-show, sold; notes.

Each mark moves the lead along (status, follow-up plan) through notify; one commit per call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dealer_leads.appointments import notify
from dealer_leads.appointments.models import Appointment
from dealer_leads.appointments.services import (
    MAX_NOTES,
    AppointmentError,
    cancel_appointment,
    describe,
    get_appointment,
    touch,
)
from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.timeline import record_event

# Which status each mark may come from; shown may follow an automatic no-show (late arrival).
TRANSITIONS = {
    "confirmed": ("booked",),
    "shown": ("booked", "confirmed", "no_show"),
    "no_show": ("booked", "confirmed"),
    "sold": ("booked", "confirmed", "shown", "no_show"),
}
# A customer may walk in a little early; "shown" hours ahead is a mis-tap on the wrong card.
SHOWN_EARLIEST = timedelta(hours=1)


def mark_appointment(
    viewer: User | None, appointment_id: int, status: str, *, now: datetime | None = None
) -> Appointment:
    """Confirmed, shown, no-show or sold (commits), with what each means for the lead."""
    now = now or now_utc()
    if status == "cancelled":
        return cancel_appointment(viewer, appointment_id, now=now)
    if status not in TRANSITIONS:
        allowed = ", ".join([*TRANSITIONS, "cancelled"])
        raise AppointmentError(
            f"status must be one of {allowed}", "invalid_status", {"status": allowed}
        )
    appointment = get_appointment(viewer, appointment_id)
    if appointment.status == status:
        return appointment  # a double tap changes nothing
    if appointment.status not in TRANSITIONS[status]:
        message = (
            f"a {appointment.status.replace('_', '-')} appointment cannot be marked "
            f"{status.replace('_', '-')}"
        )
        raise AppointmentError(message, "invalid_transition", {"status": message})
    _check_timing(appointment, status, now)
    apply_mark(appointment, status, now, viewer)
    db.session.commit()
    return appointment


def _check_timing(appointment: Appointment, status: str, now: datetime) -> None:
    """No-show only once the visit has begun; shown from an hour before it at the earliest."""
    starts = notify.local(appointment.starts_at)
    at = f"{starts:%a %b} {starts.day} at {starts:%H:%M}"
    if status == "no_show" and now < appointment.starts_at:
        message = f"the visit has not started yet (it starts {at}): it cannot be a no-show"
        raise AppointmentError(message, "too_early", {"status": message})
    if status == "shown" and now < appointment.starts_at - SHOWN_EARLIEST:
        earliest = notify.local(appointment.starts_at - SHOWN_EARLIEST)
        message = (
            f"the visit starts {at}: it can be marked shown from {earliest:%H:%M} (an hour before)"
        )
        raise AppointmentError(message, "too_early", {"status": message})


def apply_mark(appointment: Appointment, status: str, now: datetime, viewer: User | None) -> None:
    """Set the status and its timestamps, and move the lead and its plan along (flushes)."""
    previous = appointment.status
    appointment.status = status
    if status == "confirmed":
        appointment.confirmed_at = now
    elif status in ("shown", "sold"):
        appointment.shown_at = appointment.shown_at or now
    touch(appointment, now)
    labels = {
        "confirmed": "confirmed",
        "shown": "customer came in",
        "no_show": "no-show",
        "sold": "sold",
    }
    by = "" if viewer else " (automatic)"
    record_event(
        appointment.lead,
        "appointment",
        f"Appointment {labels[status]}{by}: {describe(appointment)}",
        user=viewer,
        at=now,
        appointment_id=appointment.id,
        old=previous,
        new=status,
    )
    notify.after_mark(appointment, status, now, viewer)


def add_appointment_note(viewer: User, appointment_id: int, text: str) -> Appointment:
    """Add a line to the visit's notes and the lead's timeline (commits)."""
    text = text.strip()
    if not text:
        raise AppointmentError("the note is empty", "empty_note", {"note": "write something"})
    appointment = get_appointment(viewer, appointment_id)
    if len(appointment.notes) + len(text) + 1 > MAX_NOTES * 2:
        raise AppointmentError("the notes are full", "invalid_notes")
    appointment.notes = f"{appointment.notes}\n{text}".strip()
    now = now_utc()
    touch(appointment, now)
    record_event(
        appointment.lead,
        "note",
        f"Appointment note: {text[:400]}",
        user=viewer,
        at=now,
        appointment_id=appointment.id,
    )
    db.session.commit()
    return appointment
