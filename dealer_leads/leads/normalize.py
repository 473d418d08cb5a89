"""Plain values every intake channel produces, and the normalisers that clean them.

Pure functions only: no database, no Flask. The web form, the JSON API, the ADF parser and the
mailbox all turn what they receive into a `LeadIn`; the intake service takes it from there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

INTERESTS = ("buy", "lease", "sell", "trade-in", "test-drive")
VEHICLE_STATUSES = ("new", "used", "")
DEPARTMENTS = ("sales", "service", "parts", "finance")


@dataclass
class VehicleIn:
    """A vehicle named in an inquiry: wanted, or offered as a trade-in."""

    interest: str = "buy"
    status: str = ""
    year: int | None = None
    make: str = ""
    model: str = ""
    trim: str = ""
    vin: str = ""
    stock: str = ""
    odometer: int | None = None
    odometer_units: str = ""
    price: Decimal | None = None
    color: str = ""
    comments: str = ""


@dataclass
class ContactIn:
    """The customer as the channel gave it, before normalisation."""

    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    email: str = ""
    phones: list[tuple[str, str]] = field(default_factory=list)  # (type, number as given)
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass
class LeadIn:
    """One prospect from one inbound payload."""

    contact: ContactIn = field(default_factory=ContactIn)
    vehicles: list[VehicleIn] = field(default_factory=list)
    comments: str = ""
    source: str = ""
    provider_lead_id: str = ""
    requested_at: datetime | None = None
    is_resend: bool = False
    department: str = ""
    vendor_name: str = ""
    extensions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class NormalContact:
    """A contact after normalisation; invalid values are kept as given and flagged."""

    first_name: str
    last_name: str
    email: str
    email_valid: bool
    phone: str
    phone_valid: bool
    warnings: list[str]


_SPACES = re.compile(r"\s+")


def clean_text(value: str | None, limit: int = 0) -> str:
    """Strip, fold inner whitespace runs on one line, and cut to `limit` characters if set."""
    text = _SPACES.sub(" ", (value or "").replace("\x00", "")).strip()
    return text[:limit] if limit else text


def whole_number(value: str | None) -> int | None:
    """A whole number written in decimal digits (at most 18), or None: '²', '1e3', '-4' and a
    thousand digits are not numbers a query string or form field may give."""
    text = (value or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 18 else None


def split_name(full: str) -> tuple[str, str]:
    """Split a whole name into first and last: 'Smith, John' and 'John Q. Smith' both work."""
    full = clean_text(full)
    if "," in full:
        last, _, first = full.partition(",")
        return clean_text(first), clean_text(last)
    parts = full.split(" ")
    if len(parts) == 1:
        return parts[0], ""
    return " ".join(parts[:-1]), parts[-1]


def normalize_email(raw: str) -> tuple[str, bool]:
    """Lower-case and syntax-check an address; an invalid one comes back as given, flagged."""
    raw = clean_text(raw)
    if not raw:
        return "", True
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return raw, False
    return checked.normalized.lower(), True


def normalize_phone(raw: str, region: str = "US") -> tuple[str, bool]:
    """Parse a phone number into E.164; an unparseable one comes back as given, flagged."""
    raw = clean_text(raw)
    if not raw:
        return "", True
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return raw, False
    if not phonenumbers.is_valid_number(number):
        return raw, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


# North American numbers do not tell a mobile from a landline, so "either" has to count.
_TEXTABLE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def may_receive_texts(phone: str) -> bool:
    """Whether a phone in E.164 is valid and may be a mobile (not a known landline, toll-free
    or premium number)."""
    try:
        number = phonenumbers.parse(phone or "", None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        _TEXTABLE_TYPES
    )


_PHONE_PREFERENCE = ("cellphone", "mobile", "cell", "voice", "phone", "home", "work", "business")


def _best_phone(phones: list[tuple[str, str]]) -> str:
    """The number to text and call first: a mobile if there is one, else the first given."""
    usable = [(kind.lower(), number) for kind, number in phones if clean_text(number)]
    if not usable:
        return ""
    rank = {kind: i for i, kind in enumerate(_PHONE_PREFERENCE)}
    usable.sort(key=lambda item: rank.get(item[0], len(rank)))
    return usable[0][1]


def normalize_contact(contact: ContactIn, region: str = "US") -> NormalContact:
    """Names split and trimmed, e-mail lower-cased, phone in E.164, problems listed."""
    first, last = clean_text(contact.first_name, 100), clean_text(contact.last_name, 100)
    if not (first or last) and contact.full_name:
        first, last = (clean_text(part, 100) for part in split_name(contact.full_name))
    email, email_ok = normalize_email(contact.email)
    phone, phone_ok = normalize_phone(_best_phone(contact.phones), region)
    warnings = []
    if not email_ok:
        warnings.append(f"e-mail address {email!r} is not valid; kept as given")
    if not phone_ok:
        warnings.append(f"phone number {phone!r} could not be read; kept as given")
    return NormalContact(first, last, email[:254], email_ok, phone[:40], phone_ok, warnings)


def normalize_vin(raw: str) -> str:
    """Upper-case a VIN and drop spaces and dashes people type into it."""
    return re.sub(r"[\s-]", "", raw or "").upper()[:17]


SERVICE_WORDS = re.compile(
    r"\b(service|oil change|brakes?|tires? rotation|recall|maintenance|repair|inspection)\b", re.I
)
PARTS_WORDS = re.compile(r"\b(parts?|accessor(y|ies)|floor mats?|part number)\b", re.I)
FINANCE_WORDS = re.compile(
    r"\b(credit application|pre-?approv\w*|financing|refinanc\w*|loan)\b", re.I
)


def route_department(lead: LeadIn) -> tuple[str, str]:
    """Choose the department and say which rule chose it.

    An explicit department wins; a vehicle to buy or lease keeps the lead in sales (a question about
    financing a car is still a sales lead); otherwise the words of the inquiry decide.
    """
    if lead.department in DEPARTMENTS:
        return lead.department, f"department given by the channel ({lead.department})"
    wants_vehicle = any(v.interest in ("buy", "lease", "test-drive") for v in lead.vehicles)
    text = lead.comments
    if not wants_vehicle:
        for department, words in (
            ("service", SERVICE_WORDS),
            ("parts", PARTS_WORDS),
            ("finance", FINANCE_WORDS),
        ):
            match = words.search(text)
            if match:
                return department, f"inquiry text mentions {match.group(0).lower()!r}"
    return "sales", "vehicle of interest" if wants_vehicle else "default department"


def sales_kind(lead: LeadIn) -> str:
    """'new' or 'used' for a sales lead, from the first wanted vehicle's status."""
    for vehicle in lead.vehicles:
        if vehicle.interest != "trade-in" and vehicle.interest != "sell":
            return "used" if vehicle.status == "used" else "new"
    return "new"
