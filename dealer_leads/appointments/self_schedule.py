"""Self-scheduling: the customer opens a signed link, sees open times with the lead's advisor
(or, when nobody is assigned, with any advisor) and books one.

Two customers choosing one slot: the booking locks the advisors' rows (see services), so the
second sees the first's visit and gets SlotTaken, and the page offers fresh times. A customer
who already has a visit to come and chooses again through the link moves that visit: one
customer, one visit, however often the link is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from dealer_leads.appointments import notify
from dealer_leads.appointments.models import ACTIVE_STATUSES, Appointment
from dealer_leads.appointments.services import (
    AppointmentError,
    Booking,
    SlotTaken,
    book_appointment,
    list_bookable_advisors,
    lock_advisors,
    reschedule_appointment,
)
from dealer_leads.appointments.slots import open_slots
from dealer_leads.appointments.tokens import LinkRefused, read_schedule_token
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.leads.models import OPEN_STATUSES, Lead


@dataclass(frozen=True)
class Offer:
    """What the page shows: who the visit would be with, and the open times by local day."""

    lead: Lead
    advisor_name: str
    days: list[tuple[date, list[datetime]]]
    current: Appointment | None = None  # the visit a new choice would move


@dataclass(frozen=True)
class Chosen:
    """What choosing a time did: booked a visit, or moved the lead's visit from `moved_from`."""

    appointment: Appointment
    moved_from: datetime | None = None


def lead_for_link(token: str, now: datetime) -> Lead:
    """The lead a self-scheduling link is for; LinkRefused when forged, expired or closed."""
    lead_id = read_schedule_token(current_app.config["SECRET_KEY"], token, now)
    lead = db.session.get(Lead, lead_id)
    if lead is None or lead.merged_into_id or lead.status not in OPEN_STATUSES:
        raise LinkRefused("closed", "this link is no longer open: call or reply to us instead")
    return lead


def _advisors(lead: Lead) -> list[User]:
    """The lead's own advisor when there is one and they see customers; otherwise everyone."""
    if lead.assigned_to is not None and lead.assigned_to.active:
        return [lead.assigned_to]
    return [u for u in list_bookable_advisors() if u.role == "advisor"] or list_bookable_advisors()


def current_visit(lead: Lead, now: datetime) -> Appointment | None:
    """The lead's next active visit still to come, if any."""
    query = (
        select(Appointment)
        .where(
            Appointment.lead_id == lead.id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .execution_options(populate_existing=True)  # read again after the lock: fresh values
    )
    return db.session.scalar(query.limit(1))


def _busy(
    advisor_ids: list[int], start: datetime, end: datetime, exclude_id: int | None = None
) -> dict[int, list]:
    query = select(Appointment.advisor_id, Appointment.starts_at, Appointment.ends_at).where(
        Appointment.advisor_id.in_(advisor_ids),
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < end,
        Appointment.ends_at > start,
    )
    if exclude_id is not None:  # the visit being moved does not block its own new time
        query = query.where(Appointment.id != exclude_id)
    rows = db.session.execute(query)
    busy: dict[int, list] = {advisor_id: [] for advisor_id in advisor_ids}
    for advisor_id, starts_at, ends_at in rows:
        busy[advisor_id].append((starts_at, ends_at))
    return busy


def _settings() -> tuple[int, timedelta, timedelta, timedelta]:
    config = current_app.config
    return (
        config["SELF_SCHEDULE_DAYS"],
        timedelta(minutes=config["APPOINTMENT_MINUTES"]),
        timedelta(minutes=config["APPOINTMENT_SLOT_MINUTES"]),
        timedelta(minutes=config["SELF_SCHEDULE_NOTICE_MINUTES"]),
    )


def free_slots(
    advisors: list[User], now: datetime, moving: Appointment | None = None
) -> dict[datetime, list[int]]:
    """Start time → the advisors free then, over the coming days (the visit `moving` aside)."""
    days, length, step, notice = _settings()
    exclude_id = moving.id if moving is not None else None
    busy = _busy([a.id for a in advisors], now, now + timedelta(days=days + 1), exclude_id)
    hours = notify.showroom_hours()
    free: dict[datetime, list[int]] = {}
    for advisor in advisors:
        for start in open_slots(
            hours, now, busy[advisor.id], days=days, duration=length, step=step, notice=notice
        ):
            free.setdefault(start, []).append(advisor.id)
    return dict(sorted(free.items()))


def offer(lead: Lead, now: datetime) -> Offer:
    """The open times for this lead, grouped by local day."""
    advisors, current = _advisors(lead), current_visit(lead, now)
    by_day: dict[date, list[datetime]] = {}
    for start in free_slots(advisors, now, current):
        if current is None or start != current.starts_at:
            by_day.setdefault(notify.local(start).date(), []).append(start)
    name = advisors[0].name if len(advisors) == 1 else "the first available advisor"
    return Offer(lead, name, sorted(by_day.items()), current)


def parse_choice(value: str) -> datetime:
    """The chosen start (ISO 8601 with offset, as the page sends it)."""
    try:
        moment = datetime.fromisoformat((value or "").strip()[:40])
    except ValueError:
        raise AppointmentError("choose one of the times shown", "invalid_time") from None
    if moment.tzinfo is None:
        raise AppointmentError("choose one of the times shown", "invalid_time")
    return moment


def book_chosen_slot(token: str, choice: str, kind: str, now: datetime, mailer=None) -> Chosen:
    """Book the time the customer chose, or move their visit still to come there (commits);
    SlotTaken when someone was quicker."""
    lead = lead_for_link(token, now)
    starts = parse_choice(choice).astimezone(now.tzinfo)
    advisors = _advisors(lead)
    if not advisors:
        raise AppointmentError(
            "nobody is taking appointments right now: please call us", "no_advisor"
        )
    current = current_visit(lead, now)
    held = [a.id for a in advisors] + ([current.advisor_id] if current else [])
    lock_advisors(held)  # the look-ups below must see every commit before
    current = current_visit(lead, now)  # again: the same link may have been used meanwhile
    if current is not None and current.starts_at == starts:
        return Chosen(current)  # the time they already have
    free = free_slots(advisors, now, current).get(starts)
    if not free:
        raise SlotTaken(
            "that time is no longer available (someone may have just booked it): "
            "please choose another",
            "slot_taken",
        )
    if current is not None:
        return _move(current, starts, free, now, mailer)
    minutes = int(_settings()[1].total_seconds() // 60)
    booking = Booking(
        advisor_id=free[0],
        starts_at=starts,
        duration_minutes=minutes,
        kind=kind if kind in ("test_drive", "appraisal", "general") else "general",
    )
    return Chosen(book_appointment(None, lead.id, booking, via="customer", now=now, mailer=mailer))


def _move(current: Appointment, starts: datetime, free: list[int], now, mailer) -> Chosen:
    """The customer's visit goes to the new time, with the same advisor when they are free."""
    moved_from = current.starts_at
    advisor_id = current.advisor_id if current.advisor_id in free else free[0]
    moved = reschedule_appointment(
        None,
        current.id,
        starts_at=starts,
        advisor_id=advisor_id,
        via="customer",
        now=now,
        mailer=mailer,
    )
    return Chosen(moved, moved_from)
