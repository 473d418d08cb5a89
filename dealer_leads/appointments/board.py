"""Read side: the advisor's board (today, this week), the supervisor's side-by-side view, and
the calendar feed. A fixed number of queries whatever the number of visits: no lazy loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.admin.services import dealership_zone
from dealer_leads.appointments.calendar import CalendarEvent, feed
from dealer_leads.appointments.models import (
    ACTIVE_STATUSES,
    APPOINTMENT_KINDS,
    Appointment,
    AppointmentVehicle,
)
from dealer_leads.appointments.notify import feed_location
from dealer_leads.appointments.services import BOOKABLE_ROLES
from dealer_leads.appointments.slots import local_instant
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.leads.models import Customer, Lead, LeadEvent, LeadVehicle
from dealer_leads.messaging.merge_fields import format_price

HISTORY_LINES = 4
FEED_PAST = timedelta(days=90)  # calendars keep recent history; older visits drop off the feed
FEED_AHEAD = timedelta(days=366)


@dataclass
class VehicleLine:
    """A vehicle on a board card: what it is, its hero photo, and what changed since booking."""

    title: str
    stock: str
    status: str
    price: Decimal | None
    photo_url: str = ""
    changes: list[str] = field(default_factory=list)
    vehicle_id: int = 0


@dataclass
class Card:
    """One visit on the board, with everything the advisor needs on a phone."""

    appointment: Appointment
    vehicles: list[VehicleLine]
    history: list[LeadEvent]

    @property
    def alerts(self) -> list[str]:
        return [change for vehicle in self.vehicles for change in vehicle.changes]


@dataclass(frozen=True)
class Departed:
    """Someone who no longer takes visits (deactivated, or now in another role) but still has
    some to come: the supervisor's board keeps their column so the visits can be moved."""

    advisor: User
    visits: int
    first_at: datetime


def list_departed_advisors(now: datetime) -> list[Departed]:
    """Users who may no longer be booked but have active visits still to come."""
    rows = db.session.execute(
        select(Appointment.advisor_id, func.count(Appointment.id), func.min(Appointment.starts_at))
        .join(User, User.id == Appointment.advisor_id)
        .where(
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.ends_at > now,
            or_(User.active.is_(False), User.role.not_in(BOOKABLE_ROLES)),
        )
        .group_by(Appointment.advisor_id)
    ).all()
    users = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_(r[0] for r in rows)))
    }
    found = [Departed(users[advisor_id], n, first) for advisor_id, n, first in rows]
    return sorted(found, key=lambda d: d.advisor.name.lower())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants of a local day's start and the next day's start."""
    zone = dealership_zone()
    return local_instant(day, time(0), zone), local_instant(day + timedelta(days=1), time(0), zone)


def week_bounds(day: date) -> tuple[datetime, datetime]:
    """Monday to Monday around `day`, in local time."""
    monday = day - timedelta(days=day.weekday())
    return day_bounds(monday)[0], day_bounds(monday + timedelta(days=7))[0]


def board_cards(advisor_ids: list[int] | None, start: datetime, end: datetime) -> list[Card]:
    """The visits of these advisors (None: everyone) starting in [start, end), as cards."""
    query = (
        select(Appointment)
        .where(Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at, Appointment.id)
        .options(
            joinedload(Appointment.lead).joinedload(Lead.customer),
            joinedload(Appointment.advisor),
            selectinload(Appointment.vehicles).joinedload(AppointmentVehicle.vehicle),
            selectinload(Appointment.lead, Lead.vehicles).joinedload(LeadVehicle.vehicle),
        )
    )
    if advisor_ids is not None:
        query = query.where(Appointment.advisor_id.in_(advisor_ids))
    appointments = list(db.session.scalars(query).unique())
    history = _recent_events({a.lead_id for a in appointments})
    lines = {a.id: _vehicle_lines(a) for a in appointments}
    _add_photos([line for group in lines.values() for line in group])
    return [Card(a, lines[a.id], history.get(a.lead_id, [])) for a in appointments]


def _vehicle_lines(appointment: Appointment) -> list[VehicleLine]:
    """The vehicles to have ready; without any, the stock vehicle the lead asked about."""
    lines = []
    still_to_come = appointment.status in ACTIVE_STATUSES  # after the visit, a sale is news
    for booked in appointment.vehicles:
        line = _line(booked.vehicle)
        line.changes = describe_changes(booked) if still_to_come else []
        lines.append(line)
    if not lines:
        wanted = next(
            (v for v in appointment.lead.vehicles if v.interest not in ("trade-in", "sell")), None
        )
        if wanted is not None and wanted.vehicle is not None:
            lines.append(_line(wanted.vehicle))
        elif wanted is not None:
            title = " ".join(str(p) for p in (wanted.year, wanted.make, wanted.model) if p)
            lines.append(VehicleLine(title, wanted.stock, "", wanted.price))
    return lines


def _line(vehicle) -> VehicleLine:
    title = " ".join(str(p) for p in (vehicle.year, vehicle.make, vehicle.model, vehicle.trim) if p)
    return VehicleLine(
        title, vehicle.stock_number, vehicle.status, vehicle.price, vehicle_id=vehicle.id
    )


def describe_changes(booked: AppointmentVehicle) -> list[str]:
    """What changed on the vehicle since the booking, in plain words."""
    vehicle, changes = booked.vehicle, []
    if vehicle.status == "sold" and booked.status_at_booking != "sold":
        changes.append(f"{vehicle.stock_number or 'The vehicle'} has SOLD since the booking")
    elif vehicle.status != booked.status_at_booking and vehicle.status in ("pending", "hidden"):
        changes.append(f"{vehicle.stock_number or 'The vehicle'} is now {vehicle.status}")
    if (
        booked.price_at_booking is not None
        and vehicle.price is not None
        and Decimal(vehicle.price) != Decimal(booked.price_at_booking)
    ):
        changes.append(
            f"Price changed from {format_price(booked.price_at_booking)} "
            f"to {format_price(vehicle.price)}"
        )
    return changes


def _add_photos(lines: list[VehicleLine]) -> None:
    """Each vehicle's hero photo (first ready one, smallest size) in one query."""
    ids = {line.vehicle_id for line in lines} - {0}
    if not ids:
        return
    rows = db.session.execute(
        select(VehiclePhoto.vehicle_id, VehiclePhoto.derivatives)
        .where(VehiclePhoto.vehicle_id.in_(ids), VehiclePhoto.status == "ready")
        .order_by(VehiclePhoto.vehicle_id, VehiclePhoto.position, VehiclePhoto.id)
    )
    heroes: dict[int, str] = {}
    for vehicle_id, derivatives in rows:
        if vehicle_id not in heroes:
            heroes[vehicle_id] = _smallest_jpeg(derivatives or {})
    for line in lines:
        line.photo_url = heroes.get(line.vehicle_id, "")


def _smallest_jpeg(derivatives: dict) -> str:
    from dealer_leads.inventory.photo_publishing import photo_sizes, public_url

    sizes = photo_sizes(derivatives, lambda name: public_url(name))
    for kind in ("thumb", "medium", "large"):
        if sizes.get(kind, {}).get("jpeg"):
            return sizes[kind]["jpeg"]
    return ""


def _recent_events(lead_ids: set[int]) -> dict[int, list[LeadEvent]]:
    """The last few timeline lines of each lead, newest first, in one windowed query."""
    if not lead_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=LeadEvent.lead_id, order_by=(LeadEvent.at.desc(), LeadEvent.id.desc()))
        .label("rank")
    )
    # Plan bookkeeping (started, switched, paused) is not what an advisor needs before a visit.
    ranked = (
        select(LeadEvent.id, rank)
        .where(LeadEvent.lead_id.in_(lead_ids), LeadEvent.kind.not_like("plan\\_%", escape="\\"))
        .subquery()
    )
    query = (
        select(LeadEvent)
        .join(ranked, ranked.c.id == LeadEvent.id)
        .where(ranked.c.rank <= HISTORY_LINES)
        .order_by(LeadEvent.lead_id, LeadEvent.at.desc(), LeadEvent.id.desc())
    )
    found: dict[int, list[LeadEvent]] = {}
    for event in db.session.scalars(query):
        found.setdefault(event.lead_id, []).append(event)
    return found


# --- the calendar feed --------------------------------------------------------------------------


def advisor_for_calendar(token: str) -> User | None:
    """The active user whose calendar token this is."""
    if not token or len(token) > 64:
        return None
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    return user if user is not None and user.active else None


def calendar_feed(advisor: User, now: datetime) -> bytes:
    """The advisor's visits from 90 days back to a year ahead, cancelled ones included.

    Plain rows, not ORM objects: a feed holds a thousand visits and is fetched by every
    subscribed phone every few minutes."""
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.uid,
            Appointment.sequence,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.updated_at,
            Appointment.kind,
            Appointment.status,
            Appointment.notes,
            Appointment.lead_id,
            Customer.first_name,
            Customer.last_name,
            Customer.phone,
            Customer.email,
        )
        .join(Lead, Lead.id == Appointment.lead_id)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(
            Appointment.advisor_id == advisor.id,
            Appointment.starts_at >= now - FEED_PAST,
            Appointment.starts_at < now + FEED_AHEAD,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    vehicles = _vehicle_labels([row.id for row in rows])
    location = feed_location()
    events = [
        CalendarEvent(
            uid=row.uid,
            sequence=row.sequence,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            stamp=row.updated_at,
            summary=f"{APPOINTMENT_KINDS.get(row.kind, row.kind)}: "
            + (" ".join(p for p in (row.first_name, row.last_name) if p) or "(no name)"),
            description="\n".join(
                line
                for line in (
                    row.phone,
                    row.email,
                    vehicles.get(row.id, ""),
                    row.notes,
                    f"Lead #{row.lead_id}",
                )
                if line
            ),
            location=location,
            status=row.status,
        )
        for row in rows
    ]
    name = f"{advisor.name} · {current_app.config.get('DEALERSHIP_NAME', '')}".strip(" ·")
    return feed(name, events)


def _vehicle_labels(appointment_ids: list[int]) -> dict[int, str]:
    """'2025 Honda CR-V (stock H2519), …' per appointment, in one query."""
    if not appointment_ids:
        return {}
    labels: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(
            AppointmentVehicle.appointment_id,
            Vehicle.year,
            Vehicle.make,
            Vehicle.model,
            Vehicle.stock_number,
        )
        .join(Vehicle, Vehicle.id == AppointmentVehicle.vehicle_id)
        .where(AppointmentVehicle.appointment_id.in_(appointment_ids))
        .order_by(AppointmentVehicle.id)
    )
    for appointment_id, year, make, model, stock in rows:
        title = " ".join(str(p) for p in (year, make, model) if p)
        labels.setdefault(appointment_id, []).append(f"{title} (stock {stock})" if stock else title)
    return {key: ", ".join(values) for key, values in labels.items()}


# --- lists and calendar addresses ---------------------------------------------------------------


def list_appointments(
    advisor_id: int | None,
    start: datetime | None,
    end: datetime | None,
    *,
    lead_ids: Select | None = None,
    page: int = 1,
    per_page: int = 100,
) -> tuple[list[Appointment], int]:
    """A page of appointments by start time, of one advisor or all, starting in [start, end)
    (of the leads `lead_ids` selects, when given), and how many there are in all."""
    conditions = []
    if advisor_id is not None:
        conditions.append(Appointment.advisor_id == advisor_id)
    if start is not None:
        conditions.append(Appointment.starts_at >= start)
    if end is not None:
        conditions.append(Appointment.starts_at < end)
    if lead_ids is not None:
        conditions.append(Appointment.lead_id.in_(lead_ids))
    total = db.session.scalar(select(func.count(Appointment.id)).where(*conditions))
    query = (
        select(Appointment)
        .where(*conditions)
        .order_by(Appointment.starts_at, Appointment.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(db.session.scalars(query)), total


def list_lead_appointments(lead_id: int) -> list[Appointment]:
    """The lead's visits, latest first."""
    query = select(Appointment).where(Appointment.lead_id == lead_id)
    return list(db.session.scalars(query.order_by(Appointment.starts_at.desc()).limit(20)))


def calendar_token(user: User, *, reset: bool = False) -> str:
    """The user's calendar token, made on first use or replaced on `reset` (commits)."""
    from dealer_leads.appointments.tokens import new_calendar_token

    if reset or not user.calendar_token:
        user.calendar_token = new_calendar_token()
        db.session.commit()
    return user.calendar_token


def calendar_url_for(email: str, *, reset: bool = False) -> str:
    """The public .ics address of the user with this e-mail (LookupError when none)."""
    from flask import current_app

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise LookupError(f"no user has the e-mail {email!r}")
    token = calendar_token(user, reset=reset)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    path = current_app.url_map.bind("localhost").build("booking.calendar_feed", {"token": token})
    return base + path
