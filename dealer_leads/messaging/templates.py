"""Message templates: a locked-down Jinja sandbox, checks at save time, rendering, merge fields.

Templates are edited by staff, so they run in an immutable sandbox with StrictUndefined: only the
documented variables exist, a misspelt one fails when saved (not when a customer's e-mail is
due), and nothing reaches Python internals. The context is plain dicts and strings built here
from the ORM objects; no model object is ever handed to the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

from dealer_leads.inventory.models import IN_STOCK_STATUSES
from dealer_leads.messaging.default_copy import DEFAULT_TEMPLATES, SAMPLE_CONTEXT

__all__ = [
    "ALLOWED_VARIABLES",
    "DEFAULT_TEMPLATES",
    "SAMPLE_CONTEXT",
    "Rendered",
    "build_context",
    "render_template",
    "template_warnings",
    "validate_template",
]

SMS_STATIC_LIMIT = 480  # three concatenated GSM-7 segments, roughly; longer texts get split badly

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


class _MessageSandbox(ImmutableSandboxedEnvironment):
    """Dicts expose their keys only: `customer.items` is unknown, not dict.items."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            return obj[argument] if argument in obj else self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _nl2br(value: Any) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _environment(autoescape: bool) -> _MessageSandbox:
    # No trim_blocks: a line ending in an inline {% endif %} keeps its line break, as staff
    # expect; blank lines left by blocks on lines of their own are tidied after rendering.
    env = _MessageSandbox(undefined=StrictUndefined, autoescape=autoescape)
    env.globals.clear()  # no range, lipsum, cycler…: only the documented variables exist
    env.filters["nl2br"] = _nl2br if autoescape else str
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


@lru_cache(maxsize=256)
def _compile(source: str, html: bool) -> Template:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


# --- checks --------------------------------------------------------------------------------------


def validate_template(channel: str, subject: str, body_text: str, body_html: str) -> list[str]:
    """Every reason this template cannot be saved (syntax, unknown fields, missing parts)."""
    if channel not in ("email", "sms"):
        return [f"Unknown channel {channel!r}: email or sms."]
    problems = []
    if channel == "email" and not subject.strip():
        problems.append("An e-mail needs a subject.")
    if not body_text.strip():
        problems.append(
            "A text message needs a body."
            if channel == "sms"
            else "An e-mail needs a plain-text body (some people only read that part)."
        )
    parts = [("Subject", subject, False), ("Text body", body_text, False)]
    if channel == "email":
        parts.append(("HTML body", body_html, True))
    for label, source, html in parts:
        if source:
            problems += _check_part(label, source, html)
    return problems


def template_warnings(channel: str, body_text: str) -> list[str]:
    """Things worth a second look that do not stop a save (a text message that is too long)."""
    if channel != "sms":
        return []
    try:
        ast = TEXT_ENV.parse(body_text)
    except TemplateSyntaxError:
        return []
    static = sum(len(node.data) for node in ast.find_all(nodes.TemplateData))
    if static > SMS_STATIC_LIMIT:
        return [
            f"The text message has {static} characters before merge fields (over "
            f"{SMS_STATIC_LIMIT}): phones split it into several messages."
        ]
    return []


def _check_part(label: str, source: str, html: bool) -> list[str]:
    env = HTML_ENV if html else TEXT_ENV
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as error:
        return [f"{label}, line {error.lineno}: {error.message}"]
    problems = [
        f"{label}: unknown variable {name!r} (known: {', '.join(ALLOWED_VARIABLES)})"
        for name in sorted(meta.find_undeclared_variables(ast) - set(ALLOWED_VARIABLES))
    ]
    problems += _check_fields(label, ast)
    if not problems:
        problems += _trial_render(label, source, html)
    return problems


def _check_fields(label: str, ast: nodes.Template) -> list[str]:
    """`customer.frist_name` is refused even inside an {% if %} a sample would not take."""
    problems = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        field = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(field, str) and field.startswith("_"):
            problems.append(f"{label}, line {node.lineno}: names starting with _ are not allowed")
        elif isinstance(node.node, nodes.Name) and isinstance(field, str):
            known = ALLOWED_VARIABLES.get(node.node.name)
            if known and field not in known:
                problems.append(
                    f"{label}, line {node.lineno}: {node.node.name}.{field} is not a known field "
                    f"(known: {', '.join(known)})"
                )
    return problems


def _trial_render(label: str, source: str, html: bool) -> list[str]:
    try:
        _compile(source, html).render(SAMPLE_CONTEXT)
    except SecurityError as error:
        return [f"{label}: not allowed: {error}"]
    except TemplateError as error:
        return [f"{label}: {error.message}"]
    except Exception as error:  # noqa: BLE001  (staff input: any failure is a message, not a 500)
        return [f"{label}: {type(error).__name__}: {error}"]
    return []


# --- rendering -----------------------------------------------------------------------------------


class TemplateLike(Protocol):
    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True)
class Rendered:
    """A template filled in: one-line subject, plain text, HTML ('' when the template has none)."""

    subject: str
    text: str
    html: str


def render_template(tpl: TemplateLike, context: dict) -> Rendered:
    """Fill a saved template with a context from build_context (errors: jinja2 exceptions)."""
    subject = " ".join(_compile(tpl.subject, False).render(context).split()) if tpl.subject else ""
    text = _tidy(_compile(tpl.body_text, False).render(context))
    html = _compile(tpl.body_html, True).render(context) if tpl.body_html.strip() else ""
    return Rendered(subject=subject, text=text, html=html)


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")

# --- merge fields --------------------------------------------------------------------------------

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
        from dealer_leads.inventory.photo_services import photo_urls
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
    )


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
