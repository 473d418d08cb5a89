"""`seed_demo`: a living demo dealership, built through the real intake and triage services.

This module builds the world (dealership, staff, stock) and runs the entry point; the data tables
live in `catalog`, the raw payloads per channel in `payloads`, and the sixty days of staff
working leads in `showroom`.
"""

from __future__ import annotations

import copy
import itertools
import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from dealer_leads.admin.models import Dealership
from dealer_leads.admin.services import save_dealership
from dealer_leads.appointments.demo import seed_appointments
from dealer_leads.auth.models import User
from dealer_leads.auth.services import create_user
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, Touch
from dealer_leads.database import now_utc
from dealer_leads.demo.catalog import (
    COLORS,
    DAY,
    DEALERSHIP,
    DEMO_PASSWORD,
    NEW_MODELS,
    STAFF,
    USED_MODELS,
    ZONE,
)
from dealer_leads.demo.mail import seed_mail
from dealer_leads.demo.payloads import BROKEN_PAYLOADS, make_people
from dealer_leads.demo.showroom import Showroom
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_demo import seed_feeds
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadEvent
from dealer_leads.messaging.template_services import ensure_default_templates
from dealer_leads.reports.demo import seed_objectives

__all__ = ["DEMO_PASSWORD", "STAFF", "echo_log_ins", "list_demo_log_ins", "seed_demo"]

FIRST_INQUIRIES = 236


# --- VINs -----------------------------------------------------------------------------------

_VIN_VALUES = dict(zip("0123456789", range(10), strict=True)) | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980 (and 2010) is A, a 30-year cycle


def vin_check_digit(vin: str) -> str:
    """The North-American check digit (49 CFR 565) for a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def make_vin(prefix: str, year: int, plant: str, serial: int) -> str:
    """A VIN from its maker prefix (positions 1-8), year, plant and serial, check digit set."""
    draft = f"{prefix}0{YEAR_CODES[(year - 1980) % 30]}{plant}{serial:06d}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


# --- the world: dealership, staff, stock ----------------------------------------------------


def _create_staff(now: datetime) -> list[User]:
    users = [create_user(email, role, name, DEMO_PASSWORD) for role, email, name in STAFF]
    for user in users:
        user.created_at = now - timedelta(days=400)
    db.session.commit()
    return users


def _new_unit(rng: random.Random, today: date, n: int) -> dict:
    model, trims, body, msrp, prefix = rng.choice(NEW_MODELS)
    year = today.year + (today.month >= 8 and rng.random() < 0.6)
    step = rng.randrange(len(trims))
    msrp = Decimal(msrp + 3200 * step + rng.choice((0, 450, 900)))
    return {
        "prefix": prefix,
        "stock_number": f"N{n:04d}",
        "year": year,
        "make": "Toyota",
        "model": model,
        "trim": trims[step],
        "body_style": body,
        "odometer": None,
        "price": msrp - rng.choice((0, 0, 500, 1000)),
        "msrp": msrp,
    }


def _used_unit(rng: random.Random, today: date, condition: str, n: int) -> dict:
    make, model, trim, body, prefix = rng.choice(USED_MODELS)
    if condition == "certified":
        make, model, trim, body, prefix = rng.choice(USED_MODELS[-4:])
    age = rng.randint(1, 6 if condition == "certified" else 9)
    odometer = age * rng.randrange(11_000, 21_000, 500)
    letter = "C" if condition == "certified" else "U"
    return {
        "prefix": prefix,
        "stock_number": f"{letter}{n:04d}{rng.choice(('', '', 'A'))}",
        "year": today.year - age,
        "make": make,
        "model": model,
        "trim": trim,
        "body_style": body,
        "odometer": odometer,
        "price": Decimal(max(7995, 46_000 - age * 4300 - odometer // 20) // 100 * 100 - 5),
        "msrp": None,
    }


def _vehicle_row(rng: random.Random, now: datetime, condition: str, n: int) -> Vehicle:
    today = now.astimezone(ZONE).date()
    new = condition == "new"
    unit = _new_unit(rng, today, n) if new else _used_unit(rng, today, condition, n)
    prefix = unit.pop("prefix")
    plant = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
    serial = rng.randrange(10_000, 999_999)
    return Vehicle(
        vin=make_vin(prefix, unit["year"], plant, serial),
        condition=condition,
        exterior_color=rng.choice(COLORS),
        in_stock_on=today - timedelta(days=rng.randint(1, 120)),
        **unit,
    )


def _statuses(rng: random.Random, count: int, **special: int) -> list[str]:
    statuses = [status for status, n in special.items() for _ in range(n)]
    statuses += ["available"] * (count - len(statuses))
    rng.shuffle(statuses)
    return statuses


def _create_vehicles(rng: random.Random, now: datetime) -> list[Vehicle]:
    """Fifty units: mostly available, a few in transit, pending, sold or hidden."""
    plan = (
        ("new", 26, {"in_transit": 4, "pending": 1, "sold": 1}),
        ("used", 16, {"pending": 1, "sold": 2, "hidden": 1}),
        ("certified", 8, {"pending": 1}),
    )
    vehicles, number = [], itertools.count(101)
    for condition, count, special in plan:
        for status in _statuses(rng, count, **special):
            vehicle = _vehicle_row(rng, now, condition, next(number))
            vehicle.status = status
            if status == "in_transit":
                vehicle.in_stock_on = None
            vehicle.created_at = datetime.combine(vehicle.in_stock_on or now.date(), time(14), UTC)
            vehicle.updated_at = min(now, vehicle.created_at + DAY)
            vehicles.append(vehicle)
    db.session.add_all(vehicles)
    db.session.commit()
    return vehicles


# --- the entry point ------------------------------------------------------------------------

COUNTED = {
    "users": User,
    "vehicles": Vehicle,
    "customers": Customer,
    "leads": Lead,
    "events": LeadEvent,
    "inbound": InboundPayload,
}


def _counts() -> dict[str, int]:
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in COUNTED.items()
    }
    counts["needs_review"] = db.session.scalar(
        select(func.count()).where(InboundPayload.status == "failed")
    )
    return counts


def seed_demo(
    if_empty: bool = False, echo=print, now: datetime | None = None, rng_seed: int = 7
) -> dict:
    """Fill the database with a living demo dealership; returns how many rows were added."""
    started = clock.perf_counter()
    if _not_wanted(if_empty, echo):
        return dict.fromkeys([*COUNTED, "needs_review", "skipped_actions"], 0)
    now, rng, before = now or now_utc(), random.Random(rng_seed), _counts()
    if db.session.scalar(select(Dealership.id).limit(1)) is None:
        save_dealership(copy.deepcopy(DEALERSHIP))
    else:
        echo("Dealership settings exist already; they are kept as they are.")
    ensure_default_templates()
    ensure_default_plans()
    showroom = _play_showroom(rng, now)
    _settle_touches(rng, now)
    for seed_more in (seed_appointments, seed_feeds, seed_objectives, seed_mail):
        seed_more(rng, now)
    added = {name: count - before[name] for name, count in _counts().items()}
    added["skipped_actions"] = showroom.skipped
    _echo_summary(echo, added, clock.perf_counter() - started)
    return added


def _settle_touches(rng: random.Random, now: datetime) -> None:
    """The plans started in the past: what fell due before now has happened (sent, or done by
    the advisor), except some calls of the last two days, left open for the task list."""
    due = select(Touch).where(Touch.status == "scheduled", Touch.due_at <= now)
    for touch in db.session.scalars(due).all():
        if touch.channel in AUTOMATIC_CHANNELS:
            touch.status, touch.finished_at, touch.outcome = "sent", touch.due_at, "sent"
        elif now - touch.due_at < timedelta(days=2) and rng.random() < 0.5:
            touch.status, touch.assigned_to_id = "open", touch.lead.assigned_to_id
        else:
            touch.status = "done"
            touch.finished_at = min(now, touch.due_at + timedelta(minutes=rng.randint(2, 240)))
            touch.finished_by_id = touch.lead.assigned_to_id
    db.session.commit()


def _not_wanted(if_empty: bool, echo) -> bool:
    """True, having said why, when the demo must not be added to this database."""
    if if_empty and db.session.scalar(select(func.count(User.id))):
        echo("Users exist already; demo data not added.")
        return True
    if db.session.scalar(select(User.id).where(User.email == STAFF[0][1])):
        echo(f"The demo log-ins exist already ({STAFF[0][1]}); demo data not added again.")
        return True
    return False


def _play_showroom(rng: random.Random, now: datetime) -> Showroom:
    """Staff and stock, then the demo period played up to `now`."""
    staff = _create_staff(now)
    showroom = Showroom(rng, now, staff, _create_vehicles(rng, now))
    showroom.schedule_inquiries(make_people(rng, FIRST_INQUIRIES))
    showroom.at(now - timedelta(days=5, hours=20), showroom.advisor_goes_off_shift, staff[4])
    for number, (channel, content_type, raw) in enumerate(BROKEN_PAYLOADS):
        when = now - timedelta(hours=7 + 13 * number)
        showroom.at(when, showroom.needs_review, channel, content_type, raw)
    showroom.run()
    return showroom


def _echo_summary(echo, added: dict, seconds: float) -> None:
    echo(
        f"Demo dealership {DEALERSHIP['name']} ({DEALERSHIP['city']}): {added['users']} users, "
        f"{added['vehicles']} vehicles, {added['leads']} leads from {added['inbound']} inbound "
        f"payloads ({added['needs_review']} need review), {added['events']} timeline events "
        f"in {seconds:.1f} s."
    )
    if added["skipped_actions"]:
        echo(f"Warning: {added['skipped_actions']} staff actions were refused and skipped.")
    echo_log_ins(echo)


def list_demo_log_ins() -> list[tuple[str, str, str]]:
    """The demo staff (role, e-mail, name) whose accounts are in the database."""
    emails = [email for _, email, _ in STAFF]
    present = set(db.session.scalars(select(User.email).where(User.email.in_(emails))))
    return [row for row in STAFF if row[1] in present]


def echo_log_ins(echo, log_ins=STAFF) -> None:
    """Print the demo log-ins, one line each, with the password they were created with."""
    echo(f"Demo log-ins (password for all: {DEMO_PASSWORD}):")
    for role, email, name in log_ins:
        echo(f"  {role:<10} {email:<24} {DEMO_PASSWORD}   {name}")
