"""Demo appointments for `flask demo seed`: the visits the demo's story already tells (shown,
sold, no-shows in the past), and a full board today and this week for every advisor."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from dealer_leads.appointments import notify
from dealer_leads.appointments.models import Appointment, AppointmentVehicle
from dealer_leads.appointments.slots import opening_on
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead, LeadEvent
from dealer_leads.leads.timeline import record_event

SLOT_TIMES = (
    time(9, 30),
    time(10, 30),
    time(11, 30),
    time(13, 0),
    time(14, 0),
    time(15, 30),
    time(16, 30),
)
KINDS = ("test_drive", "test_drive", "test_drive", "appraisal", "general", "delivery")


def seed_appointments(rng: random.Random, now: datetime) -> None:
    """Appointments for the demo leads: past ones shown or not, today's and this week's."""
    if db.session.scalar(select(Appointment.id).limit(1)) is not None:
        return
    advisors = list(
        db.session.scalars(select(User).where(User.role == "advisor", User.active.is_(True)))
    )
    if not advisors:
        return
    booked: dict[int, set] = {a.id: set() for a in advisors}
    _past_visits(rng, now, booked)
    _coming_visits(rng, now, advisors, booked)
    db.session.commit()


def _past_visits(rng: random.Random, now: datetime, booked: dict[int, set]) -> None:
    """The story's visits: a lead that went to shown had a visit then; sold ones bought."""
    shown = db.session.scalars(
        select(LeadEvent)
        .where(LeadEvent.kind == "status", LeadEvent.at < now)
        .order_by(LeadEvent.at)
    )
    for event in shown:
        if (event.data or {}).get("new") != "shown":
            continue
        lead = event.lead
        if lead.assigned_to_id not in booked:
            continue
        starts = event.at.replace(minute=(event.at.minute // 15) * 15, second=0, microsecond=0)
        status = "sold" if lead.status == "sold" else "shown"
        _add(lead, lead.assigned_to_id, starts, rng, status, now, booked)


def _coming_visits(rng, now, advisors, booked) -> None:
    """Today (some already past: shown or no-show) and the rest of the week, per advisor."""
    hours = notify.showroom_hours()
    today = notify.local(now).date()
    open_leads = list(
        db.session.scalars(
            select(Lead)
            .where(
                Lead.status.in_(("appointment", "engaged", "contacted")),
                Lead.merged_into_id.is_(None),
                Lead.assigned_to_id.in_([a.id for a in advisors]),
            )
            .order_by(Lead.last_activity_at.desc())
            .limit(200)
        )
    )
    rng.shuffle(open_leads)
    by_advisor: dict[int, list[Lead]] = {}
    for lead in open_leads:
        by_advisor.setdefault(lead.assigned_to_id, []).append(lead)
    for advisor in advisors:
        leads = by_advisor.get(advisor.id, [])
        for offset in range(7):
            day = today + timedelta(days=offset)
            wanted = rng.randint(3, 5) if offset == 0 else rng.randint(0, 2)
            for _ in range(wanted):
                if not leads:
                    break
                starts = _free_time(day, hours, rng, booked[advisor.id])
                if starts is None:
                    break
                lead = leads.pop()
                status = _status_for(starts, now, rng)
                _add(lead, advisor.id, starts, rng, status, now, booked)


def _free_time(day: date, hours, rng: random.Random, taken: set) -> datetime | None:
    opening = opening_on(day, hours)
    if opening is None:
        return None
    choices = [notify.local(opening[0]).replace(hour=t.hour, minute=t.minute) for t in SLOT_TIMES]
    choices = [c for c in choices if opening[0] <= c and c + timedelta(hours=1) <= opening[1]]
    free = [c for c in choices if c not in taken]
    return rng.choice(free) if free else None


def _status_for(starts: datetime, now: datetime, rng: random.Random) -> str:
    if starts + timedelta(hours=1) < now:
        return rng.choice(("shown", "shown", "shown", "no_show", "sold"))
    if starts < now:
        return "shown"
    return "confirmed" if rng.random() < 0.45 else "booked"


def _add(lead, advisor_id, starts, rng, status, now, booked) -> Appointment:
    starts = notify.local(starts)
    booked.setdefault(advisor_id, set()).add(starts)
    at = min(now, starts - timedelta(days=rng.uniform(0.5, 4)))
    appointment = Appointment(
        lead=lead,
        advisor_id=advisor_id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=rng.choice((45, 60, 60))),  # slots are an hour apart
        kind=rng.choice(KINDS),
        status=status,
        notes="",
        uid=f"{uuid.UUID(int=rng.getrandbits(128))}@{notify.uid_domain()}",
        sequence=0 if status == "booked" else 1,
        booked_via=rng.choice(("staff", "staff", "customer", "api")),
        created_at=at,
        updated_at=at,
        confirmed_at=at + timedelta(hours=2) if status != "booked" else None,
        shown_at=starts if status in ("shown", "sold") else None,
    )
    wanted = next((v for v in lead.vehicles if v.vehicle is not None), None)
    if wanted is not None:
        appointment.vehicles = [
            AppointmentVehicle(
                vehicle=wanted.vehicle,
                price_at_booking=wanted.vehicle.price,
                status_at_booking="available",
                change_noticed="",
            )
        ]
    db.session.add(appointment)
    record_event(lead, "appointment", f"Appointment booked: {starts:%a %b %d at %H:%M}", at=at)
    if status in ("booked", "confirmed") and lead.status in ("engaged", "contacted"):
        lead.status = "appointment"
    return appointment
