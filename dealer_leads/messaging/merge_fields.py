"""Merge fields: the variables message templates may use, built as plain values from a lead.

The sandbox never sees an ORM object: every value here is a str, int, bool, or a dict or list of
them, so a template cannot reach the database or lazy-load anything while it renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dealer_leads.inventory.models import IN_STOCK_STATUSES

_VEHICLE = {
    "known": "true when the customer named a vehicle",
    "title": "year make model trim, e.g. 2025 Honda CR-V EX-L ('' when unknown)",
    "year": "model year",
    "make": "make",
    "model": "model",
    "trim": "trim",
    "condition": "new, used or certified",
    "stock": "stock number",
    "vin": "VIN",
    "price": "formatted price, e.g. $34,995 ('' when unknown)",
    "odometer": "formatted odometer, e.g. 42,000 km",
    "color": "exterior colour",
    "photo_url": "absolute URL of the main photo ('' when none)",
    "in_stock": "true when it is on the lot or arriving",
    "sale_price": "formatted price while a promotion runs, e.g. $33,495 ('' when none)",
    "promotion": "the running promotion's text, as in the feeds ('' when none)",
    "promotion_ends": "the promotion's last day, e.g. November 30 ('' when none)",
}
_PERSON = {
    "name": "full name",
    "first_name": "first name",
    "phone": "phone (the dealership's when they have none)",
    "email": "e-mail address",
    "signature": "several lines: name, title, dealership, phone, e-mail",
    "assigned": "true when a person is named (false: the sales team signs)",
}
ALLOWED_VARIABLES: dict[str, dict[str, str]] = {
    "customer": {
        "first_name": "first name ('' when unknown: write {{ customer.first_name or 'there' }})",
        "last_name": "last name",
        "name": "full name",
        "email": "e-mail address",
        "phone": "phone, E.164",
    },
    "vehicle": _VEHICLE,
    "similar_vehicles": {},  # a list of vehicles, each with the fields of `vehicle`
    "advisor": _PERSON,
    "manager": _PERSON,
    "dealership": {
        "name": "dealership name",
        "address": "one-line postal address",
        "street": "street",
        "city": "city",
        "region": "province or state",
        "postal_code": "postal code",
        "phone": "main phone",
        "email": "main e-mail",
        "website": "web site",
    },
    "lead": {
        "id": "lead number",
        "source": "where the inquiry came from",
        "comments": "what the customer wrote",
        "trade_in": "the trade-in vehicle, e.g. 2016 Mazda 3 ('' when none)",
        "received_on": "date of the inquiry, e.g. March 3",
    },
    "appointment": {
        "when": "e.g. Saturday, March 14 at 10:30 AM",
        "date": "e.g. Saturday, March 14",
        "time": "e.g. 10:30 AM",
        "kind": "e.g. test drive",
    },
    "unsubscribe_url": {},
    "booking_url": {},  # may be '' until online booking exists
}

NOT_WANTED = ("trade-in", "sell")
ROLE_TITLES = {"advisor": "Sales Advisor", "supervisor": "Internet Sales Manager"}


def build_context(
    lead: Any,
    *,
    advisor: Any | None,
    dealership: Any,
    similar_vehicles: Iterable[Any],
    unsubscribe_url: str,
    photo_url: str | None = None,
    booking_url: str = "",
    manager: Any | None = None,
    appointment: Any | None = None,
    photo_lookup: Callable[[Any], str] | None = None,
) -> dict:
    """Plain-value merge fields for one lead: customer, vehicle of interest, people, dealership."""
    lookup = photo_lookup or first_photo_url
    wanted = next((v for v in lead.vehicles if v.interest not in NOT_WANTED), None)
    vehicle = _lead_vehicle(wanted, lookup) if wanted else _vehicle_values(None)
    if photo_url is not None:
        vehicle["photo_url"] = photo_url
    place = dealership_values(dealership)
    return {
        "customer": _customer_values(lead.customer),
        "vehicle": vehicle,
        "similar_vehicles": [_stock_vehicle(v, lookup) for v in similar_vehicles],
        "advisor": _person_values(advisor, place, "The sales team"),
        "manager": _person_values(manager, place, "Sales Manager"),
        "dealership": place,
        "lead": _lead_values(lead, _zone(dealership)),
        "appointment": _appointment_values(appointment, _zone(dealership)),
        "unsubscribe_url": unsubscribe_url,
        "booking_url": booking_url or "",
    }


def format_price(amount: Decimal | int | float | None) -> str:
    """$34,995 (cents only when there are some); '' when unknown."""
    if amount is None:
        return ""
    amount = Decimal(str(amount))
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


def first_photo_url(vehicle: Any) -> str:
    """The main real photo of a stock vehicle (medium JPEG), through the photo service if any."""
    try:
        from dealer_leads.inventory.photo_publishing import photo_urls
    except ImportError:  # photos not installed in this build: e-mails go out without a picture
        return ""
    if getattr(vehicle, "id", None) is None:
        return ""
    for photo in photo_urls(vehicle):
        sizes = photo.get("sizes", {})
        for kind in ("medium", "large", "thumb"):
            if not photo.get("placeholder") and sizes.get(kind, {}).get("jpeg"):
                return sizes[kind]["jpeg"]
    return ""


def _customer_values(customer: Any) -> dict:
    first, last = customer.first_name or "", customer.last_name or ""
    return {
        "first_name": first,
        "last_name": last,
        "name": " ".join(p for p in (first, last) if p),
        "email": customer.email or "",
        "phone": customer.phone or "",
    }


def _vehicle_values(source: Any | None, **values: Any) -> dict:
    named = {k: getattr(source, k, None) or "" for k in ("year", "make", "model", "trim")}
    title = " ".join(str(part) for part in named.values() if part)
    base = dict.fromkeys(_VEHICLE, "")
    base.update(named, known=bool(title), in_stock=False, title=title)
    base.update(values)
    return base


def _stock_vehicle(vehicle: Any, lookup: Callable[[Any], str]) -> dict:
    odometer = f"{vehicle.odometer:,} {vehicle.odometer_unit}" if vehicle.odometer else ""
    return _vehicle_values(
        vehicle,
        condition=vehicle.condition or "",
        stock=vehicle.stock_number or "",
        vin=vehicle.vin or "",
        price=format_price(vehicle.price),
        odometer=odometer,
        color=vehicle.exterior_color or "",
        photo_url=lookup(vehicle),
        in_stock=vehicle.status in IN_STOCK_STATUSES,
        **promotion_values(vehicle),
    )


def promotion_values(vehicle: Any) -> dict:
    """The running promotion of a stock vehicle, so e-mails quote what the feeds show."""
    try:
        from dealer_leads.admin.services import dealership_zone
        from dealer_leads.inventory.promotions import offer_for
    except ImportError:  # promotions not installed in this build
        return {}
    if getattr(vehicle, "id", None) is None:
        return {}
    offer = offer_for(vehicle)
    if offer is None:
        return {}
    last = (offer.ends_at - timedelta(microseconds=1)).astimezone(dealership_zone())
    return {
        "sale_price": format_price(offer.sale_price),
        "promotion": offer.text,
        "promotion_ends": f"{last:%B} {last.day}",
    }


def _lead_vehicle(wanted: Any, lookup: Callable[[Any], str]) -> dict:
    if wanted.vehicle is not None:
        return _stock_vehicle(wanted.vehicle, lookup)
    unit = wanted.odometer_units or "km"
    return _vehicle_values(
        wanted,
        condition=wanted.status or "",
        stock=wanted.stock or "",
        vin=wanted.vin or "",
        price=format_price(wanted.price),
        odometer=f"{wanted.odometer:,} {unit}" if wanted.odometer else "",
        color=wanted.color or "",
    )


def dealership_values(dealership: Any) -> dict:
    """The dealership's merge fields from the settings row (or anything with those names)."""
    parts = [
        dealership.street,
        dealership.city,
        " ".join(p for p in (dealership.region, dealership.postal_code) if p),
    ]
    return {
        "name": dealership.name or "",
        "phone": display_phone(dealership.phone or ""),
        "address": ", ".join(p for p in parts if p),
        **{
            key: getattr(dealership, key, "") or ""
            for key in ("street", "city", "region", "postal_code", "email", "website")
        },
    }


def display_phone(value: str) -> str:
    """+14165550123 as (416) 555-0123 (North America) or +44 20 7946 0018; others as typed."""
    if not value.startswith("+"):
        return value
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return value
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(
        number, style.NATIONAL if number.country_code == 1 else style.INTERNATIONAL
    )


def _person_values(user: Any | None, place: dict, fallback: str) -> dict:
    """A named person, or the team (or role) signing when nobody is assigned yet."""
    name = (user.name if user else "") or ""
    phone = display_phone((getattr(user, "phone", "") if user else "") or place["phone"])
    email = (user.email if user else "") or place["email"]
    title = ROLE_TITLES.get(getattr(user, "role", ""), "Sales")
    lines = [name, f"{title}, {place['name']}"] if user else [fallback, place["name"]]
    return {
        "name": name or fallback,
        "first_name": name.split()[0] if name else fallback.lower(),
        "phone": phone,
        "email": email,
        "signature": "\n".join(line for line in [*lines, phone, email] if line),
        "assigned": user is not None,
    }


def _zone(dealership: Any) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(dealership, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(moment: datetime) -> str:
    return f"{moment:%A, %B} {moment.day}"


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M %p}"


def _lead_values(lead: Any, zone: ZoneInfo) -> dict:
    trade = next((v for v in lead.vehicles if v.interest == "trade-in"), None)
    received = lead.received_at.astimezone(zone) if lead.received_at else None
    return {
        "id": lead.id,
        "source": lead.source or "",
        "comments": lead.comments or "",
        "trade_in": trade.title if trade else "",
        "received_on": f"{received:%B} {received.day}" if received else "",
    }


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _appointment_values(appointment: Any | None, zone: ZoneInfo) -> dict:
    """An appointment object or dict with an aware `starts_at`; shown in the dealership's zone."""
    if appointment is None:
        return dict.fromkeys(ALLOWED_VARIABLES["appointment"], "")
    starts = _field(appointment, "starts_at").astimezone(zone)
    kind = (_field(appointment, "kind") or "visit").replace("_", " ")
    return {
        "when": f"{_day(starts)} at {_clock(starts)}",
        "date": _day(starts),
        "time": _clock(starts),
        "kind": kind,
    }
