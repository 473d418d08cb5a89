"""The raw payloads demo customers send: JSON (api), form posts (form, manual) and ADF (adf).

Each inquiry is encoded as its channel would send it, so the seed goes through the same parsing
as real traffic; `BROKEN_PAYLOADS` are the ones that end up in needs review.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

import phonenumbers

from dealer_leads.demo.catalog import (
    AREA_CODES,
    CITIES,
    DEALERSHIP,
    DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    POSTAL_LETTERS,
    STREETS,
    ZONE,
)

# --- customers and their inquiries ----------------------------------------------------------


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str  # ten digits
    street: str
    city: str
    postal_code: str


@dataclass
class Inquiry:
    person: Person
    source: str
    channel: str
    at: datetime
    wanted: dict | None = None
    trade: dict | None = None
    comments: str = ""
    department: str = ""
    provider_id: str = ""
    give_email: bool = True
    give_phone: bool = True
    raw: tuple[bytes, str] | None = None  # the body and content type, once encoded


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = f"{rng.choice(AREA_CODES)}{rng.randint(201, 989)}{rng.randrange(10_000):04d}"
        if (
            number[3:6] not in ("555", "911", "411")
            and number not in taken
            and phonenumbers.is_valid_number(phonenumbers.parse(number, "CA"))
        ):
            taken.add(number)
            return number


def make_people(rng: random.Random, count: int) -> list[Person]:
    """`count` demo customers with distinct e-mails and valid, distinct phone numbers."""
    people, emails, phones = [], set(), set()
    while len(people) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_ascii(first)}{rng.choice(('.', '', '_'))}{_ascii(last)}"
        email += f"{rng.randint(2, 98) if rng.random() < 0.4 else ''}@{rng.choice(DOMAINS)}"
        if email in emails:
            continue
        emails.add(email)
        city, letter = rng.choice(CITIES)
        postal = (
            f"{letter}{rng.randint(1, 9)}{rng.choice(POSTAL_LETTERS)} "
            f"{rng.randint(0, 9)}{rng.choice(POSTAL_LETTERS)}{rng.randint(0, 9)}"
        )
        street = f"{rng.randint(12, 3900)} {rng.choice(STREETS)}"
        people.append(Person(first, last, email, _phone(rng, phones), street, city, postal))
    return people


# --- the raw payload per channel ------------------------------------------------------------


def _phone_as_typed(rng: random.Random, digits: str) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", digits))


def _json_customer(rng: random.Random, inq: Inquiry) -> dict:
    person, customer = inq.person, {}
    if rng.random() < 0.3:
        customer["name"] = f"{person.first} {person.last}"
    else:
        customer |= {"first_name": person.first, "last_name": person.last}
    if inq.give_email:
        customer["email"] = person.email.upper() if rng.random() < 0.1 else person.email
    if inq.give_phone:
        customer["phone"] = _phone_as_typed(rng, person.phone)
    if rng.random() < 0.5:
        customer["address"] = {
            "street": person.street,
            "city": person.city,
            "region": "ON",
            "postal_code": person.postal_code,
            "country": "CA",
        }
    return customer


def _json_payload(rng: random.Random, inq: Inquiry) -> bytes:
    body = {
        "source": inq.source,
        "provider_lead_id": inq.provider_id,
        "customer": _json_customer(rng, inq),
        "requested_at": inq.at.isoformat().replace("+00:00", "Z"),
        "vehicles": [v for v in (inq.wanted, inq.trade) if v],
        "comments": inq.comments,
    }
    if inq.department:
        body["department"] = inq.department
    return json.dumps(body, default=str, ensure_ascii=False).encode()


def _form_payload(rng: random.Random, inq: Inquiry) -> bytes:
    person, wanted, trade = inq.person, inq.wanted or {}, inq.trade or {}
    form = {
        "first_name": person.first,
        "last_name": person.last,
        "email": person.email if inq.give_email else "",
        "phone": _phone_as_typed(rng, person.phone) if inq.give_phone else "",
        "comments": inq.comments,
    }
    if inq.channel == "manual":
        form["source"] = inq.source
    if inq.department:
        form["department"] = inq.department
    for key in ("interest", "year", "make", "model", "stock", "vin"):
        if wanted.get(key):
            form[key] = wanted[key]
    if wanted.get("status"):
        form["condition"] = wanted["status"]
    for key in ("year", "make", "model", "odometer"):
        if trade.get(key):
            form[f"trade_{key}"] = trade[key]
    return urlencode(form).encode()


def _adf_vehicle(vehicle: dict) -> str:
    tags = "".join(
        f"<{key}>{escape(str(vehicle[key]))}</{key}>"
        for key in ("year", "make", "model", "vin", "stock", "trim")
        if vehicle.get(key)
    )
    if vehicle.get("odometer"):
        tags += f'<odometer status="original" units="km">{vehicle["odometer"]}</odometer>'
    if vehicle.get("price"):
        tags += f'<price type="asking" currency="CAD">{vehicle["price"]}</price>'
    return (
        f"<vehicle interest={quoteattr(vehicle.get('interest', 'buy'))} "
        f"status={quoteattr(vehicle.get('status') or 'used')}>{tags}</vehicle>"
    )


def _adf_payload(rng: random.Random, inq: Inquiry) -> bytes:
    person = inq.person
    contact = (
        f'<name part="first">{escape(person.first)}</name>'
        f'<name part="last">{escape(person.last)}</name>'
    )
    if inq.give_email:
        contact += f"<email>{escape(person.email)}</email>"
    if inq.give_phone:
        kind = rng.choice(("cellphone", "voice", "home"))
        contact += f'<phone type="{kind}">{_phone_as_typed(rng, person.phone)}</phone>'
    contact += (
        f'<address><street line="1">{escape(person.street)}</street>'
        f"<city>{escape(person.city)}</city><regioncode>ON</regioncode>"
        f"<postalcode>{person.postal_code}</postalcode><country>CA</country></address>"
    )
    vehicles = "".join(_adf_vehicle(v) for v in (inq.wanted, inq.trade) if v)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n<adf>\n'
        '<prospect status="new">\n'
        f'<id sequence="1" source={quoteattr(inq.source)}>{inq.provider_id}</id>\n'
        f"<requestdate>{inq.at.astimezone(ZONE).isoformat(timespec='seconds')}</requestdate>\n"
        f"{vehicles}\n<customer><contact>{contact}</contact>"
        f"<comments>{escape(inq.comments)}</comments></customer>\n"
        f"<vendor><vendorname>{DEALERSHIP['name']}</vendorname></vendor>\n"
        f'<provider><name part="full">{escape(inq.source)}</name>'
        f"<service>{escape(inq.source)} dealer leads</service></provider>\n</prospect>\n</adf>\n"
    ).encode()


def encode_inquiry(rng: random.Random, inq: Inquiry) -> tuple[bytes, str]:
    """The raw body and content type the inquiry's channel would send."""
    if inq.channel == "api":
        return _json_payload(rng, inq), "application/json"
    if inq.channel == "adf":
        return _adf_payload(rng, inq), "application/xml"
    return _form_payload(rng, inq), "application/x-www-form-urlencoded"


BROKEN_PAYLOADS = (  # what lands in needs review: channel, content type, body
    (
        "api",
        "application/json",
        b'{"source": "TrueCar", "customer": {"first_name": "Ines", "email": "ines@example.com",',
    ),
    (
        "adf",
        "application/xml",
        b'<?xml version="1.0"?>\n<!DOCTYPE adf [<!ENTITY dealer "Maple Ridge Motors">]>\n'
        b'<adf><prospect><customer><contact><name part="full">&dealer;</name></contact>'
        b"</customer></prospect></adf>\n",
    ),
    (
        "form",
        "application/x-www-form-urlencoded",
        b"first_name=Ren\xe9e&last_name=C\xf4t\xe9&email=renee.cote%40example.org&comments="
        b"Int\xe9ress\xe9e par le RAV4",
    ),
)
