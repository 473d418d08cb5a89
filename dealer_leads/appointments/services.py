"""Booking, rescheduling, cancelling and marking appointments; one transaction each.

Two bookings racing for one advisor's slot: the booking transaction first takes the advisor's
booking lock (PostgreSQL: a transaction-scoped advisory lock keyed on the advisor; SQLite: the
writer already holds the database's write lock from BEGIN IMMEDIATE), then reads the advisor's
visits and inserts. The second transaction waits for the first to commit, then sees its visit
and is refused with SlotTaken. An advisory lock rather than FOR UPDATE on the user row, so the
intake's round robin (which skips locked advisor rows) never notices a booking in progress.
Messages to the customer (the invitation e-mail) go after the commit, never inside the lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, text

from dealer_leads.appointments import notify
from dealer_leads.appointments.models import (
    ACTIVE_STATUSES,
    APPOINTMENT_KINDS,
    Appointment,
    AppointmentVehicle,
)
from dealer_leads.appointments.slots import SlotProblem, check_slot
from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Lead
from dealer_leads.leads.services import mark_responded
from dealer_leads.leads.timeline import record_event

BOOKABLE_ROLES = ("advisor", "supervisor")
MIN_MINUTES, MAX_MINUTES = 15, 480
MAX_NOTES = 2000
BOOKING_LOCK_SPACE = 0x4150  # "AP": the advisory-lock key space of appointment bookings
MAX_VEHICLES = 5
# Lead statuses a booking moves to "appointment" (a shown or sold lead keeps its status).
BOOKING_MOVES = ("new", "contacted", "engaged", "appointment", "lost")
TRADED = ("trade-in", "sell")  # a lead's vehicles the customer brings rather than wants


class AppointmentError(ValueError):
    """A request that cannot be done as asked; `code` for the API, `fields` name the inputs."""

    status = 422

    def __init__(self, message: str, code: str = "invalid", fields: dict | None = None):
        super().__init__(message)
        self.code, self.fields = code, fields or {}


class SlotTaken(AppointmentError):
    """The advisor has another visit then (including one booked a moment ago)."""

    status = 409


class AppointmentNotFound(AppointmentError):
    """No such appointment, or not one the viewer may see."""

    status = 404


@dataclass
class Booking:
    """What a booking asks for, in plain values (from the form, the API or the customer)."""

    advisor_id: int
    starts_at: datetime
    duration_minutes: int = 60
    kind: str = "general"
    vehicle_refs: list[str] = field(default_factory=list)  # VINs or stock numbers
    vehicle_ids: list[int] = field(default_factory=list)
    notes: str = ""


# --- reading ------------------------------------------------------------------------------------


def _visible(viewer: User | None):
    """Advisors see their own visits and those of their leads; supervisors and admins all."""
    if viewer is None or viewer.role in SUPERVISING_ROLES:
        return True
    return or_(Appointment.advisor_id == viewer.id, Lead.assigned_to_id == viewer.id)


def get_appointment(viewer: User | None, appointment_id: int) -> Appointment:
    """One appointment the viewer may see, or AppointmentNotFound."""
    query = (
        select(Appointment)
        .join(Lead, Lead.id == Appointment.lead_id)
        .where(Appointment.id == appointment_id, _visible(viewer))
    )
    appointment = db.session.scalar(query)
    if appointment is None:
        raise AppointmentNotFound(f"there is no appointment #{appointment_id}", "not_found")
    return appointment


def list_bookable_advisors() -> list[User]:
    """Active staff who see customers, advisors first."""
    query = select(User).where(User.active.is_(True), User.role.in_(BOOKABLE_ROLES))
    return sorted(db.session.scalars(query), key=lambda u: (u.role != "advisor", u.name.lower()))


def advisor_by_email(email: str) -> User:
    """An active advisor by e-mail (the API names advisors so), or AppointmentError."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active or user.role not in BOOKABLE_ROLES:
        raise AppointmentError(
            f"no active advisor has the e-mail {email!r}",
            "invalid_advisor",
            {"advisor_email": "must be the e-mail of an active advisor"},
        )
    return user


# --- helpers (add and flush) --------------------------------------------------------------------


def lock_advisors(advisor_ids: list[int]) -> None:
    """Serialise bookings per advisor until commit: their locks taken in id order (no
    deadlock between a booking and a hand-over that lock the same two advisors)."""
    if db.session.get_bind().dialect.name == "postgresql":
        for advisor_id in sorted(set(advisor_ids)):
            db.session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": BOOKING_LOCK_SPACE, "key": advisor_id},
            )
    # SQLite: this transaction began with BEGIN IMMEDIATE and already excludes other writers.


def busy_spans(advisor_id: int, around: datetime, exclude_id: int | None = None) -> list:
    """The advisor's active visits within a day of `around`, as (start, end)."""
    query = select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.advisor_id == advisor_id,
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < around + timedelta(days=1),
        Appointment.ends_at > around - timedelta(days=1),
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    return [(row.starts_at, row.ends_at) for row in db.session.execute(query)]


def _check(advisor: User, starts: datetime, ends: datetime, now: datetime, exclude=None) -> None:
    try:
        check_slot(
            starts, ends, now, notify.showroom_hours(), busy_spans(advisor.id, starts, exclude)
        )
    except SlotProblem as problem:
        kind = SlotTaken if problem.code == "slot_taken" else AppointmentError
        raise kind(str(problem), problem.code, {problem.field: str(problem)}) from None


def _advisor(advisor_id: int) -> User:
    advisor = db.session.get(User, advisor_id) if advisor_id else None
    if advisor is None or not advisor.active or advisor.role not in BOOKABLE_ROLES:
        raise AppointmentError(
            "choose an active advisor", "invalid_advisor", {"advisor": "choose an active advisor"}
        )
    return advisor


def _validate(booking: Booking) -> None:
    if booking.kind not in APPOINTMENT_KINDS:
        kinds = ", ".join(APPOINTMENT_KINDS)
        raise AppointmentError(f"kind must be one of {kinds}", "invalid_kind", {"kind": kinds})
    if not MIN_MINUTES <= booking.duration_minutes <= MAX_MINUTES:
        message = f"a visit lasts from {MIN_MINUTES} to {MAX_MINUTES} minutes"
        raise AppointmentError(message, "invalid_duration", {"duration_minutes": message})
    if booking.starts_at.tzinfo is None:
        message = "give the time with its offset, e.g. 2026-03-14T10:30:00-04:00"
        raise AppointmentError(message, "invalid_time", {"starts_at": message})
    if len(booking.notes) > MAX_NOTES:
        message = f"notes are limited to {MAX_NOTES} characters"
        raise AppointmentError(message, "invalid_notes", {"notes": message})


def _vehicles(booking: Booking) -> list[Vehicle]:
    refs = [r.strip().upper() for r in booking.vehicle_refs if r and r.strip()]
    if len(refs) + len(booking.vehicle_ids) > MAX_VEHICLES:
        message = f"at most {MAX_VEHICLES} vehicles per visit"
        raise AppointmentError(message, "too_many_vehicles", {"vehicles": message})
    found = list(db.session.scalars(select(Vehicle).where(Vehicle.id.in_(booking.vehicle_ids))))
    for ref in refs:
        vehicle = db.session.scalar(
            select(Vehicle).where(or_(Vehicle.vin == ref, Vehicle.stock_number == ref)).limit(1)
        )
        if vehicle is None:
            message = f"no vehicle in stock has the VIN or stock number {ref!r}"
            raise AppointmentError(message, "unknown_vehicle", {"vehicles": message})
        found.append(vehicle)
    unique = {v.id: v for v in found}
    return list(unique.values())


def _wanted_stock(lead: Lead) -> list[Vehicle]:
    """The stock vehicles the lead asked about: what a visit booked without vehicles is for,
    so that a sale or a price change before the visit reaches the advisor."""
    wanted = [
        v.vehicle for v in lead.vehicles if v.vehicle is not None and v.interest not in TRADED
    ]
    return list({v.id: v for v in wanted}.values())[:MAX_VEHICLES]


def _lead_for_booking(viewer: User | None, lead_id: int) -> Lead:
    query = select(Lead).where(Lead.id == lead_id)
    if viewer is not None and viewer.role not in SUPERVISING_ROLES:
        query = query.where(Lead.assigned_to_id == viewer.id)
    lead = db.session.scalar(query)
    if lead is None:
        raise AppointmentNotFound(f"there is no lead #{lead_id}", "not_found")
    if lead.merged_into_id:
        message = f"lead #{lead_id} was merged into lead #{lead.merged_into_id}: book on that one"
        raise AppointmentError(message, "merged_lead")
    return lead


def describe(appointment: Appointment) -> str:
    local = notify.local(appointment.starts_at)
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    kind = APPOINTMENT_KINDS.get(appointment.kind, appointment.kind)
    return f"{kind} {local:%a %b} {local.day} at {local:%H:%M} ({minutes} min)"


def touch(appointment: Appointment, now: datetime) -> None:
    """Every change raises the calendar SEQUENCE, so calendars replace their copy."""
    appointment.sequence += 1
    appointment.updated_at = now


# --- booking ------------------------------------------------------------------------------------


def book_appointment(
    viewer: User | None,
    lead_id: int,
    booking: Booking,
    *,
    via: str = "staff",
    now: datetime | None = None,
    mailer=None,
) -> Appointment:
    """Book a visit for a lead (commits); AppointmentError, SlotTaken or AppointmentNotFound.

    The lead goes to status "appointment" and onto the confirmation plan; the customer gets
    the invitation e-mail with its .ics after the commit."""
    now = now or now_utc()
    _validate(booking)
    lead = _lead_for_booking(viewer, lead_id)
    advisor = _advisor(booking.advisor_id)
    vehicles = _vehicles(booking) if booking.vehicle_refs or booking.vehicle_ids else []
    vehicles = vehicles or _wanted_stock(lead)
    lock_advisors([advisor.id])
    appointment = _insert(lead, advisor, booking, vehicles, via, viewer, now)
    db.session.commit()
    notify.send_invitation(appointment, now, mailer)
    return appointment


def _insert(lead, advisor, booking, vehicles, via, viewer, now) -> Appointment:
    starts = booking.starts_at.astimezone(now.tzinfo)
    ends = starts + timedelta(minutes=booking.duration_minutes)
    _check(advisor, starts, ends, now)
    appointment = Appointment(
        lead=lead,
        advisor=advisor,
        starts_at=starts,
        ends_at=ends,
        kind=booking.kind,
        status="booked",
        notes=booking.notes.strip(),
        uid=f"{uuid.uuid4()}@{notify.uid_domain()}",
        sequence=0,
        booked_via=via,
        created_by=viewer,
        created_at=now,
        updated_at=now,
    )
    appointment.vehicles = [
        AppointmentVehicle(
            vehicle=v, price_at_booking=v.price, status_at_booking=v.status, change_noticed=""
        )
        for v in vehicles
    ]
    db.session.add(appointment)
    db.session.flush()
    who = {"staff": "", "api": " through the API", "customer": " by the customer online"}[via]
    record_event(
        lead,
        "appointment",
        f"Appointment booked{who}: {describe(appointment)} with {advisor.name}",
        user=viewer,
        at=now,
        appointment_id=appointment.id,
    )
    if via == "staff":
        mark_responded(lead, now)  # booked with the customer: the first human contact
    if via == "customer" and lead.assigned_to_id is None:
        notify.give_lead(lead, advisor, viewer, now, "booked a visit online")
    if lead.status in BOOKING_MOVES and lead.status != "appointment":
        notify.set_lead_status(lead, "appointment", viewer, now, "appointment booked")
    notify.start_confirmation(lead, appointment, now, viewer)
    return appointment


# --- changes ------------------------------------------------------------------------------------


def _for_change(viewer: User | None, appointment_id: int) -> Appointment:
    appointment = get_appointment(viewer, appointment_id)
    if appointment.status not in ACTIVE_STATUSES:
        message = f"the appointment is {appointment.status.replace('_', ' ')}: it cannot change"
        raise AppointmentError(message, "not_active")
    return appointment


def reschedule_appointment(
    viewer: User | None,
    appointment_id: int,
    *,
    starts_at: datetime | None = None,
    duration_minutes: int | None = None,
    advisor_id: int | None = None,
    via: str = "staff",
    now: datetime | None = None,
    mailer=None,
) -> Appointment:
    """Move a visit in time and/or to another advisor (commits); the customer gets the update.

    A new advisor takes the lead as well when the previous one owned it, and gets a task."""
    now = now or now_utc()
    appointment = _for_change(viewer, appointment_id)
    handing_over = advisor_id is not None and advisor_id != appointment.advisor_id
    if handing_over and viewer is not None and viewer.role not in SUPERVISING_ROLES:
        raise AppointmentError("only the supervisor moves a visit to another advisor", "forbidden")
    advisor = _advisor(advisor_id) if advisor_id else appointment.advisor
    old_minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    minutes = duration_minutes or old_minutes
    starts = (starts_at or appointment.starts_at).astimezone(now.tzinfo)
    _validate(Booking(advisor.id, starts, minutes, appointment.kind))
    lock_advisors([advisor.id, appointment.advisor_id])
    before, previous = describe(appointment), appointment.advisor
    _check(advisor, starts, starts + timedelta(minutes=minutes), now, exclude=appointment.id)
    moved_time = starts != appointment.starts_at or minutes != old_minutes
    handed = advisor.id != previous.id
    appointment.starts_at, appointment.ends_at = starts, starts + timedelta(minutes=minutes)
    appointment.advisor = advisor
    touch(appointment, now)
    summary = _change_summary(before, appointment, previous, moved_time, via)
    record_event(
        appointment.lead, "appointment", summary, user=viewer, at=now, appointment_id=appointment.id
    )
    if moved_time:
        appointment.status, appointment.confirmed_at = "booked", None
        notify.start_confirmation(appointment.lead, appointment, now, viewer)
    if handed:
        notify.after_hand_over(appointment, previous, now, viewer)
    db.session.commit()
    if moved_time or handed:
        changes = (["has moved"] if moved_time else []) + (
            [f"is now with {advisor.name}"] if handed else []
        )
        headline = f"Your visit {' and '.join(changes)}."
        notify.send_invitation(appointment, now, mailer, headline=headline)
    return appointment


def _change_summary(before: str, appointment: Appointment, previous: User, moved_time, via) -> str:
    parts = []
    if moved_time:
        parts.append(f"moved from {before} to {describe(appointment)}")
    if appointment.advisor.id != previous.id:
        parts.append(f"handed from {previous.name} to {appointment.advisor.name}")
    who = " by the customer online" if via == "customer" and parts else ""
    return "Appointment " + ("; ".join(parts) or "saved unchanged") + who


def cancel_appointment(
    viewer: User | None, appointment_id: int, reason: str = "", *, now=None, mailer=None
) -> Appointment:
    """Cancel a visit (commits): calendars get STATUS:CANCELLED, the customer the cancellation,
    the reminders stop and the lead's owner gets a task to rebook."""
    now = now or now_utc()
    appointment = _for_change(viewer, appointment_id)
    appointment.status, appointment.cancelled_at = "cancelled", now
    touch(appointment, now)
    reason = reason.strip()[:200]
    record_event(
        appointment.lead,
        "appointment",
        f"Appointment cancelled: {describe(appointment)}" + (f" ({reason})" if reason else ""),
        user=viewer,
        at=now,
        appointment_id=appointment.id,
    )
    notify.after_cancel(appointment, now, viewer)
    db.session.commit()
    notify.send_invitation(appointment, now, mailer)
    return appointment
