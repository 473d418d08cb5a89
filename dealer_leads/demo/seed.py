"""`seed_demo`: a living demo dealership, built through the real intake and triage services.

Every inquiry arrives as the raw payload its channel sends (JSON, form post, ADF) and goes
through `store_inbound` + `process_inbound`, so matching, dedupe, routing and round robin happen
for real; staff then work the leads with the triage services. Intakes and staff actions run in
time order from one queue, so a repeat inquiry meets its lead in the state it was in that day.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import json
import random
import time as clock
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import func, select, update

from dealer_leads.admin.models import Dealership
from dealer_leads.admin.services import save_dealership
from dealer_leads.auth.models import User
from dealer_leads.auth.services import create_user, set_user_state
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads import services as triage
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadEvent

DEMO_PASSWORD = "demo-password"
ZONE = ZoneInfo("America/Toronto")
HOURS = {
    "mon": ["09:00", "21:00"],
    "tue": ["09:00", "21:00"],
    "wed": ["09:00", "21:00"],
    "thu": ["09:00", "21:00"],
    "fri": ["09:00", "18:00"],
    "sat": ["09:00", "17:00"],
    "sun": None,
}
DEPARTMENT_EMAILS = {
    "service": "service@maple-ridge-motors.example.com",
    "parts": "parts@maple-ridge-motors.example.com",
    "finance": "finance@maple-ridge-motors.example.com",
}
DEALERSHIP = {
    "name": "Maple Ridge Motors",
    "street": "1875 Danforth Avenue",
    "city": "Toronto",
    "region": "ON",
    "postal_code": "M4C 1J4",
    "country": "CA",
    "phone": "+14164612200",
    "email": "sales@maple-ridge-motors.example.com",
    "timezone": "America/Toronto",
    "website": "https://maple-ridge-motors.example.com",
    "business_hours": HOURS,
    "department_emails": DEPARTMENT_EMAILS,
    "duplicate_window_days": 30,
    "auto_assign": True,
}
STAFF = (  # role, e-mail, name; the last advisor goes off shift during the demo period
    ("supervisor", "supervisor@demo.dealer", "Danielle Fortin"),
    ("advisor", "advisor1@demo.dealer", "Marcus Chen"),
    ("advisor", "advisor2@demo.dealer", "Priya Raman"),
    ("advisor", "advisor3@demo.dealer", "Jean-François Leblanc"),
    ("advisor", "advisor4@demo.dealer", "Aaliyah Thompson"),
    ("webmaster", "webmaster@demo.dealer", "Kwame Osei"),
    ("admin", "admin@demo.dealer", "Linda MacKay"),
)

_FIRST_NAMES = """
Emma Liam Olivia Noah Ava Lucas Sophie Ethan Chloé Mathieu Gabrielle Étienne Priya Arjun
Harpreet Jasleen Gurpreet Ravi Anika Deepa Mei Wei Jun Xin Hiroshi Yuki Min-jun Ji-woo Thanh
Linh Minh Fatima Omar Aisha Yusuf Zainab Layla Hassan Noor Sofia Mateo Camila Alejandro
Isabella Marco Giulia Piotr Anna Dmitri Nadia Kwame Ama Chinedu Ngozi Tenzin Siobhan Connor
Kateri Tanis Daniel Sarah Michael Jessica Rohan Kiran Amir Leila Grace Owen Nathan Maya
"""
FIRST_NAMES = tuple(_FIRST_NAMES.split())
_LAST_NAMES = """
Tremblay Gagnon Roy Côté Bouchard Lavoie Fortin Gauthier Smith Brown Wilson MacDonald
Campbell Fraser Thompson Anderson Martin Murphy O'Brien Kelly Singh Patel Sharma Gill Sandhu
Dhillon Chen Li Wong Zhang Wang Liu Huang Kim Park Lee Nguyen Tran Pham Ali Khan Ahmed
Hassan Ibrahim Mohammed Rodriguez Silva Santos Ferreira Costa Pereira Rossi Russo Kowalski
Nowak Petrov Ivanova Okafor Mensah Haile Cohen Yilmaz Sato Tanaka Fernandes Bélanger
Morrison
"""
LAST_NAMES = tuple(_LAST_NAMES.split())
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "inbox.example.org")
AREA_CODES = ("416", "416", "647", "437", "905", "905", "289", "365")
CITIES = (
    ("Toronto", "M"),
    ("Toronto", "M"),
    ("Scarborough", "M"),
    ("North York", "M"),
    ("Etobicoke", "M"),
    ("Mississauga", "L"),
    ("Brampton", "L"),
    ("Markham", "L"),
    ("Vaughan", "L"),
    ("Pickering", "L"),
    ("Ajax", "L"),
    ("Oakville", "L"),
)
STREETS = (
    "Queen Street East",
    "Kingston Road",
    "Bayview Avenue",
    "Pape Avenue",
    "Lawrence Avenue West",
    "Dundas Street West",
    "Yonge Street",
    "Finch Avenue East",
    "Main Street",
    "Coxwell Avenue",
    "Sheppard Avenue West",
    "Eglinton Avenue East",
    "Bloor Street West",
)
COLORS = (
    "Super White",
    "Midnight Black Metallic",
    "Celestial Silver",
    "Magnetic Grey",
    "Blueprint",
    "Supersonic Red",
    "Lunar Rock",
    "Cavalry Blue",
    "Wind Chill Pearl",
)
POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

# model, trims, body style, base MSRP (CAD), WMI + VDS (VIN positions 1-8)
NEW_MODELS = (
    ("Corolla", ("L", "LE", "SE", "XSE"), "Sedan", 23650, "5YFB4MDE"),
    ("Corolla Cross", ("L", "LE", "XLE"), "SUV", 28990, "7MUAAABG"),
    ("Camry", ("SE", "XSE", "XLE"), "Sedan", 34290, "4T1G11AK"),
    ("RAV4", ("LE", "XLE", "Trail", "Limited"), "SUV", 33890, "2T3P1RFV"),
    ("RAV4 Hybrid", ("XLE", "Woodland", "XSE"), "SUV", 38990, "2T3RWRFV"),
    ("Highlander", ("XLE", "Limited", "Platinum"), "SUV", 49390, "5TDKDRAH"),
    ("Grand Highlander", ("XLE", "Limited"), "SUV", 55990, "5TDAAAB5"),
    ("Tacoma", ("SR5", "TRD Sport", "TRD Off-Road"), "Pickup", 47390, "3TYLB5JN"),
    ("Tundra", ("SR5", "Limited", "Platinum"), "Pickup", 56590, "5TFLA5DB"),
    ("Sienna", ("LE", "XSE", "Limited"), "Minivan", 47890, "5TDYRKEC"),
    ("Prius", ("XLE", "Limited"), "Hatchback", 37790, "JTDACACU"),
    ("bZ4X", ("L", "XLE"), "SUV", 44990, "JTMABABA"),
)
USED_MODELS = (  # make, model, trim, body style, WMI + VDS
    ("Honda", "Civic", "EX", "Sedan", "2HGFE2F5"),
    ("Honda", "CR-V", "EX-L", "SUV", "2HKRS4H7"),
    ("Ford", "F-150", "XLT SuperCrew", "Pickup", "1FTFW1E8"),
    ("Ford", "Escape", "SE", "SUV", "1FMCU9G6"),
    ("Mazda", "CX-5", "GS", "SUV", "JM3KFBCM"),
    ("Mazda", "Mazda3", "GT", "Hatchback", "3MZBPAAL"),
    ("Hyundai", "Tucson", "Preferred", "SUV", "KM8JBCAE"),
    ("Hyundai", "Elantra", "Preferred", "Sedan", "KMHLM4AG"),
    ("Chevrolet", "Equinox", "LT", "SUV", "2GNAXKEV"),
    ("Subaru", "Outback", "Touring", "Wagon", "4S4BTACC"),
    ("Kia", "Sportage", "EX", "SUV", "KNDPMCAC"),
    ("Nissan", "Rogue", "SV", "SUV", "JN8AT3BA"),
    ("Volkswagen", "Jetta", "Comfortline", "Sedan", "3VWC57BU"),
    ("BMW", "X3", "xDrive30i", "SUV", "5UXTY5C0"),
    ("Toyota", "RAV4", "XLE", "SUV", "2T3P1RFV"),
    ("Toyota", "Camry", "SE", "Sedan", "4T1G11AK"),
    ("Toyota", "Corolla", "LE", "Sedan", "5YFB4MDE"),
    ("Toyota", "Highlander", "XLE", "SUV", "5TDKDRAH"),
)
TRADE_INS = (
    ("Honda", "Accord"),
    ("Toyota", "Matrix"),
    ("Mazda", "Mazda3"),
    ("Ford", "Focus"),
    ("Hyundai", "Santa Fe"),
    ("Dodge", "Grand Caravan"),
    ("Nissan", "Sentra"),
    ("Chevrolet", "Cruze"),
    ("Volkswagen", "Golf"),
    ("Kia", "Soul"),
    ("Jeep", "Cherokee"),
)
SOURCES = (  # name, channel, weight
    ("Website", "form", 22),
    ("Autotrader", "adf", 15),
    ("CarGurus", "adf", 13),
    ("Cars.com", "adf", 7),
    ("Edmunds", "adf", 5),
    ("TrueCar", "api", 8),
    ("KBB", "api", 6),
    ("OEM program", "api", 10),
    ("Phone", "manual", 9),
    ("Walk-in", "manual", 5),
)
SALES_COMMENTS = (
    "Is this vehicle still available?",
    "What is your best out-the-door price on the {model}?",
    "Can I book a test drive Saturday morning?",
    "Do you have the {model} in white or grey?",
    "Looking to lease; what would the monthly payment be over 48 months?",
    "I'd like an estimate for my trade-in as well.",
    "When is the next {model} arriving?",
    "Interested, but I need it before the end of the month.",
    "",
    "",
)
DEPARTMENT_COMMENTS = {
    "service": (
        "Can I book an oil change and tire rotation for my {year} RAV4 next week?",
        "My check-engine light is on; is there a recall on the {year} Camry?",
        "Need a maintenance appointment, 48,000 km service.",
    ),
    "parts": (
        "Do you have all-weather floor mats for a {year} Corolla in stock?",
        "Looking for a roof rack accessory for my Highlander; what is the part number?",
    ),
    "finance": (
        "I would like to get pre-approved before I come in to shop.",
        "Can I fill out a credit application online?",
    ),
}
CALL_NOTES = (
    "Wants to see it this week; comparing with a CR-V.",
    "Trade-in appraisal requested.",
    "Asked for payment options over 60 months.",
    "Spouse needs to see it too.",
    "Interested in the hybrid; sent the brochure.",
    "Prefers texts after 5 pm.",
)
LOST_REASONS = (
    "Bought elsewhere",
    "Payment too high",
    "Financing declined",
    "Decided to wait",
    "Chose a different brand",
    "Vehicle sold before they came in",  # last: not a reason after a visit
)
WALK_IN_NOTES = (
    "Walked in and looked at the lot; took a brochure.",
    "Called the showroom asking about availability.",
)
HOUR_WEIGHTS = (1, 1, 0, 0, 0, 1, 2, 4, 6, 8, 9, 9, 10, 9, 9, 9, 9, 9, 10, 11, 11, 9, 6, 3)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


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


def _vehicle_row(rng: random.Random, now: datetime, condition: str, n: int) -> Vehicle:
    today = now.astimezone(ZONE).date()
    if condition == "new":
        model, trims, body, msrp, prefix = rng.choice(NEW_MODELS)
        year, make = today.year + (today.month >= 8 and rng.random() < 0.6), "Toyota"
        step = rng.randrange(len(trims))
        trim, msrp = trims[step], Decimal(msrp + 3200 * step + rng.choice((0, 450, 900)))
        price, odometer, stock = msrp - rng.choice((0, 0, 500, 1000)), None, f"N{n:04d}"
    else:
        make, model, trim, body, prefix = rng.choice(USED_MODELS)
        if condition == "certified":
            make, model, trim, body, prefix = rng.choice(USED_MODELS[-4:])
        age = rng.randint(1, 6 if condition == "certified" else 9)
        year, msrp = today.year - age, None
        odometer = age * rng.randrange(11_000, 21_000, 500)
        price = Decimal(max(7995, 46_000 - age * 4300 - odometer // 20) // 100 * 100 - 5)
        stock = f"{'C' if condition == 'certified' else 'U'}{n:04d}{rng.choice(('', '', 'A'))}"
    return Vehicle(
        vin=make_vin(
            prefix,
            year,
            rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"),
            rng.randrange(10_000, 999_999),
        ),
        stock_number=stock,
        year=year,
        make=make,
        model=model,
        trim=trim,
        body_style=body,
        condition=condition,
        odometer=odometer,
        exterior_color=rng.choice(COLORS),
        price=price,
        msrp=msrp,
        in_stock_on=today - timedelta(days=rng.randint(1, 120)),
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


def _people(rng: random.Random, count: int) -> list[Person]:
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


def _phone_as_typed(rng: random.Random, digits: str) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", digits))


def _json_payload(rng: random.Random, inq: Inquiry) -> bytes:
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
    body = {
        "source": inq.source,
        "provider_lead_id": inq.provider_id,
        "customer": customer,
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


# --- sixty days in the showroom -------------------------------------------------------------

PROVIDER_ID_FORMATS = {
    "Autotrader": "AT-{n}",
    "CarGurus": "CG{n}",
    "Cars.com": "CDC-{n}",
    "Edmunds": "ED-{n}",
    "TrueCar": "TC-{n}",
    "KBB": "KBB-ICO-{n}",
    "OEM program": "TCI-{n}",
}
FIRST_INQUIRIES = 236
UNIT_FIELDS = ("vin", "stock_number", "year", "make", "model", "trim", "price", "condition")
MISSED_CALLS, MISSED_WEIGHTS = ("voicemail", "no_answer", "busy", "wrong_number"), (6, 3, 1, 0.3)
SPEED_TO_LEAD = ((0.38, 0.5, 4.5), (0.62, 5, 55), (0.84, 60, 360), (1.0, 360, 1800))


class Showroom:
    """Plays the demo period: inquiries arrive, staff answer them, leads move along.

    Everything that happens goes on one time-ordered queue; actions after `now` are dropped,
    so recent leads are still waiting, as they would be on a real morning.
    """

    def __init__(
        self, rng: random.Random, now: datetime, staff: list[User], stock: list[Vehicle]
    ) -> None:
        self.rng, self.now = rng, now
        self.supervisor = staff[0]
        self.advisors = [user for user in staff if user.role == "advisor"]
        self.by_id = {user.id: user for user in self.advisors}
        # Plain values: the rows themselves expire at every commit.
        self.stock = [
            {key: getattr(v, key) for key in UNIT_FIELDS} for v in stock if v.status != "hidden"
        ]
        today = now.astimezone(ZONE).date()
        self.model_year = today.year + (today.month >= 8)
        self.queue: list = []
        self.order = itertools.count()
        self.provider_numbers = itertools.count(48_211, 7)
        self.skipped = 0

    # the queue

    def at(self, when: datetime, action, *args) -> None:
        if when <= self.now:
            heapq.heappush(self.queue, (when, next(self.order), action, args))

    def run(self) -> None:
        while self.queue:
            when, _, action, args = heapq.heappop(self.queue)
            action(when, *args)
        db.session.commit()

    # time

    def _minutes(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(low, high))

    def _hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def working(self, when: datetime) -> datetime:
        """`when` if the showroom is open then, else a little after it next opens."""
        local = when.astimezone(ZONE)
        for _ in range(8):
            hours = HOURS[("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]]
            if hours:
                opens, closes = (
                    datetime.combine(local.date(), time.fromisoformat(h), ZONE) for h in hours
                )
                if local < opens:
                    return (opens + self._minutes(3, 40)).astimezone(UTC)
                if local <= closes - 15 * MINUTE:
                    return local.astimezone(UTC)
            local = datetime.combine(local.date() + DAY, time(0), ZONE)
        return when

    def received_time(self, days_ago: float) -> datetime:
        day = (self.now - days_ago * DAY).astimezone(ZONE).date()
        hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = datetime.combine(
            day, time(hour, self.rng.randrange(60), self.rng.randrange(60)), ZONE
        )
        return min(local.astimezone(UTC), self.now - self._minutes(3, 120))

    def response_time(self, received: datetime) -> datetime:
        """Speed to lead varies: a third within five minutes, some the next day."""
        roll = self.rng.random()
        low, high = next((low, high) for share, low, high in SPEED_TO_LEAD if roll < share)
        return self.working(received + self._minutes(low, high))

    # inquiries

    def schedule_inquiries(self, people: list[Person]) -> None:
        """Each person's first inquiry, then repeats, returns and provider resends."""
        rng = self.rng
        for number, person in enumerate(people):
            days_ago = 59.6 if number == 0 else 60 * rng.random() ** 1.2
            first = self.inquiry(person, self.received_time(days_ago))
            self.schedule(first)
            roll = rng.random()
            if roll < 0.13:  # shopping around: another site within days
                self.schedule(
                    self.inquiry(person, first.at + self._hours(2, 480), other_than=first.source)
                )
            elif roll < 0.17:  # back after the duplicate window
                self.schedule(self.inquiry(person, first.at + timedelta(days=rng.uniform(32, 55))))
            if first.channel in ("api", "adf") and rng.random() < 0.05:
                self.schedule(first, resend_after=self._minutes(2, 180))

    def schedule(self, inq: Inquiry, resend_after: timedelta | None = None) -> None:
        inq.raw = inq.raw or encode_inquiry(self.rng, inq)
        raw, content_type = inq.raw
        when = inq.at
        if resend_after is not None:
            when += resend_after
            raw = raw.replace(b'<prospect status="new">', b'<prospect status="resend">')
        self.at(when, self.intake, inq, raw, content_type)

    def inquiry(self, person: Person, received: datetime, other_than: str = "") -> Inquiry:
        rng = self.rng
        name, channel, _ = rng.choices(SOURCES, [s[2] for s in SOURCES])[0]
        while name == other_than:
            name, channel, _ = rng.choices(SOURCES, [s[2] for s in SOURCES])[0]
        if channel == "manual":
            received = self.working(received)
        inq = Inquiry(person, name, channel, received)
        if name in PROVIDER_ID_FORMATS:
            inq.provider_id = PROVIDER_ID_FORMATS[name].format(n=next(self.provider_numbers))
        inq.give_phone = channel == "manual" or rng.random() < 0.85
        inq.give_email = not inq.give_phone or rng.random() < (0.5 if channel == "manual" else 0.9)
        if channel in ("form", "manual") and rng.random() < 0.14:
            department = rng.choice(("service", "service", "parts", "finance"))
            text = rng.choice(DEPARTMENT_COMMENTS[department])
            inq.comments = text.format(year=rng.randint(2015, 2023))
            inq.department = department if rng.random() < 0.3 else ""
            return inq
        inq.wanted = self.wanted(name)
        if name == "KBB" and rng.random() < 0.5:
            inq.wanted, inq.trade = None, self.trade() | {"interest": "sell"}
            inq.comments = "Instant Cash Offer accepted online; wants to bring the car in."
            return inq
        inq.trade = self.trade() if rng.random() < 0.3 else None
        inq.comments = rng.choice(SALES_COMMENTS).format(model=inq.wanted["model"])
        return inq

    def wanted(self, source: str) -> dict:
        """A vehicle of interest: a model from the brochure, or a unit on the lot."""
        rng = self.rng
        if source == "OEM program" or (
            source in ("Edmunds", "Website", "Phone", "Walk-in") and rng.random() < 0.3
        ):
            model, trims, *_ = rng.choice(NEW_MODELS)
            return {
                "interest": rng.choice(("buy", "buy", "lease")),
                "status": "new",
                "year": self.model_year,
                "make": "Toyota",
                "model": model,
                "trim": rng.choice(trims),
            }
        listing = source in ("Autotrader", "CarGurus", "Cars.com")
        used = rng.random() < 0.75
        pool = [v for v in self.stock if (v["condition"] != "new") == used]
        unit = rng.choice(pool if listing and pool else self.stock)
        wanted = {
            "interest": "buy",
            "status": "new" if unit["condition"] == "new" else "used",
            **{key: unit[key] for key in ("year", "make", "model", "trim")},
        }
        if source in ("Website", "Phone", "Walk-in"):
            return wanted | {"stock": unit["stock_number"]}
        wanted["vin"] = unit["vin"]
        if listing or rng.random() < 0.5:
            wanted |= {"stock": unit["stock_number"], "price": unit["price"]}
        return wanted

    def trade(self) -> dict:
        make, model = self.rng.choice(TRADE_INS)
        age = self.rng.randint(4, 14)
        return {
            "interest": "trade-in",
            "status": "used",
            "year": self.model_year - age,
            "make": make,
            "model": model,
            "odometer": age * self.rng.randrange(14_000, 24_000),
        }

    def intake(self, when: datetime, inq: Inquiry, raw: bytes, content_type: str) -> None:
        """The real intake: store, then process as of the moment it arrived."""
        inbound = store_inbound(
            inq.channel,
            raw,
            content_type=content_type,
            source_ip="" if inq.channel == "manual" else "198.51.100.24",
        )
        inbound.received_at = when
        by = self.supervisor if inq.channel == "manual" else None
        result = process_inbound(inbound.id, now=when, by=by)[0]
        lead = db.session.get(Lead, result.lead_id)
        if result.rule == "new lead":
            customer = db.session.get(Customer, result.customer_id)
            customer.created_at = min(customer.created_at, when)
            self.plan(lead, inq)
        elif result.rule != "same provider id" and self.rng.random() < 0.6:
            note = f"Called back about the new inquiry from {inq.source}."
            self.at(
                self.working(when + self._minutes(3, 90)),
                self.act,
                lead.id,
                "call",
                "reached",
                note,
            )

    # what staff do with a new lead

    def plan(self, lead: Lead, inq: Inquiry) -> None:
        """Decide now how this lead will be worked; each step runs at its own time."""
        if lead.department != "sales":
            steps = self.department_steps(lead.received_at, lead.department)
        elif inq.channel == "manual":
            steps = self.walk_in_steps(lead.received_at, inq.source)
        else:
            steps = self.sales_steps(lead.received_at, inq.give_phone)
        if lead.department == "sales" and self.rng.random() < 0.06:
            steps.append((lead.received_at + self._hours(1, 5), "assign", None, ""))
        for when, kind, arg, detail in steps:
            self.at(when, self.act, lead.id, kind, arg, detail)

    def department_steps(self, received: datetime, department: str) -> list[tuple]:
        if self.rng.random() < 0.1:
            return []
        when = self.response_time(received)
        note = f"Forwarded to the {department} department ({DEPARTMENT_EMAILS[department]})."
        return [(when, "note", note, ""), (when + self._minutes(10, 90), "status", "contacted", "")]

    def walk_in_steps(self, received: datetime, source: str) -> list[tuple]:
        when = received + self._minutes(1, 4)
        note = WALK_IN_NOTES[source == "Phone"]
        return [
            (when, "status", "contacted", ""),
            (when + MINUTE, "note", note, ""),
            *self.progress(when),
        ]

    def sales_steps(self, received: datetime, has_phone: bool) -> list[tuple]:
        """About one in ten never answered; the rest called (or e-mailed) until reached."""
        rng = self.rng
        if rng.random() < 0.1:
            if rng.random() < 0.5:
                when = self.working(received + 30 * DAY)
                return [(when, "close", "lost", "Never worked; closed in clean-up")]
            return []
        when = self.response_time(received)
        if not has_phone:
            note = "Replied by e-mail with the price and availability."
            return [
                (when, "status", "contacted", ""),
                (when + MINUTE, "note", note, ""),
                *self.progress(when),
            ]
        steps = []
        for attempt in range(4):
            reached = rng.random() < (0.5 if attempt == 0 else 0.4)
            outcome = "reached" if reached else rng.choices(MISSED_CALLS, MISSED_WEIGHTS)[0]
            steps.append((when, "call", outcome, rng.choice(CALL_NOTES) if reached else ""))
            if reached:
                return steps + self.progress(when)
            if outcome == "wrong_number":
                return [*steps, (when + 2 * MINUTE, "status", "lost", "Wrong number")]
            when = self.working(when + self._hours(20, 52))
        if rng.random() < 0.6:
            steps.append((when, "status", "lost", "No response after four attempts"))
        return steps

    def progress(self, when: datetime) -> list[tuple]:
        """contacted → engaged → appointment → shown → sold, with losses along the way."""
        rng, steps = self.rng, []
        later = self.working(when + timedelta(days=rng.uniform(3, 12)))
        lost_later = [(later, "status", "lost", rng.choice(LOST_REASONS))]
        if rng.random() > 0.72:
            return lost_later if rng.random() < 0.4 else []
        when = self.working(when + self._hours(2, 48))
        steps.append((when, "status", "engaged", ""))
        if rng.random() > 0.6:
            return steps + (lost_later if rng.random() < 0.4 else [])
        when = self.working(when + self._hours(1, 30))
        visit = self.working(when + self._hours(20, 168))
        visit = visit.replace(minute=visit.minute // 15 * 15, second=0, microsecond=0)
        note = f"Test drive booked for {visit.astimezone(ZONE):%a %b %d at %H:%M}."
        steps += [(when, "status", "appointment", ""), (when + MINUTE, "note", note, "")]
        if rng.random() > 0.82:
            return [*steps, (visit + 2 * HOUR, "status", "lost", "No-show; did not rebook")]
        steps.append((visit, "status", "shown", ""))
        roll = rng.random()
        if roll < 0.42:
            steps.append((self.working(visit + self._hours(1, 50)), "status", "sold", ""))
        elif roll < 0.75:
            later = self.working(visit + timedelta(days=rng.uniform(2, 9)))
            steps.append((later, "status", "lost", rng.choice(LOST_REASONS[:-1])))
        return steps

    # doing it

    def act(self, when: datetime, lead_id: int, kind: str, arg, detail: str) -> None:
        """One staff action, by the lead's advisor (or the supervisor), at `when`."""
        assigned = db.session.scalar(select(Lead.assigned_to_id).where(Lead.id == lead_id))
        viewer = self.supervisor if kind == "close" else self.by_id.get(assigned, self.supervisor)
        try:
            if kind == "call":
                triage.log_call(viewer, lead_id, arg, detail, now=when)
            elif kind in ("status", "close"):
                self.change_status(viewer, lead_id, arg, detail, when)
            elif kind == "note":
                self.backdated(when, lead_id, lambda: triage.add_note(viewer, lead_id, arg))
            elif kind == "assign":
                self.reassign(when, lead_id, assigned)
        except triage.InvalidAction:
            self.skipped += 1

    def change_status(
        self, viewer: User, lead_id: int, status: str, reason: str, when: datetime
    ) -> None:
        lead = db.session.get(Lead, lead_id)
        if lead.status == status:  # a callback about a repeat inquiry got there first
            return
        triage.change_status(viewer, lead_id, status, reason, now=when)
        if status == "sold" and self.rng.random() < 0.5:  # else they chose another unit
            for wanted in lead.vehicles:
                if wanted.vehicle is not None and wanted.vehicle.status in ("available", "pending"):
                    wanted.vehicle.status, wanted.vehicle.updated_at = "sold", when
                    break
            db.session.commit()

    def reassign(self, when: datetime, lead_id: int, current: int | None) -> None:
        others = [a for a in self.advisors if a.id != current and a.on_shift]
        if others:
            advisor = self.rng.choice(others)
            self.backdated(
                when, lead_id, lambda: triage.assign_lead(self.supervisor, lead_id, advisor.id)
            )

    def backdated(self, when: datetime, lead_id: int, action) -> None:
        """Run a triage service that stamps the current time, then move its events to `when`."""
        last_event = db.session.scalar(select(func.max(LeadEvent.id))) or 0
        before = db.session.scalar(select(Lead.last_activity_at).where(Lead.id == lead_id))
        action()
        db.session.execute(update(LeadEvent).where(LeadEvent.id > last_event).values(at=when))
        db.session.get(Lead, lead_id).last_activity_at = max(before, when)
        db.session.commit()

    def advisor_goes_off_shift(self, when: datetime, advisor: User) -> None:
        """The last advisor leaves for a week; the supervisor hands on their fresh leads."""
        set_user_state(advisor.id, on_shift=False)
        open_leads = db.session.scalars(
            select(Lead.id)
            .where(
                Lead.assigned_to_id == advisor.id,
                Lead.status.in_(("new", "contacted")),
                Lead.received_at >= when - 3 * DAY,
            )
            .order_by(Lead.id)
        ).all()
        for number, lead_id in enumerate(open_leads):
            self.reassign(when + (number + 1) * MINUTE, lead_id, advisor.id)

    def needs_review(self, when: datetime, channel: str, content_type: str, raw: bytes) -> None:
        inbound = store_inbound(channel, raw, content_type=content_type, source_ip="203.0.113.9")
        inbound.received_at = when
        with contextlib.suppress(InvalidPayload):  # it stays "failed", the reason given
            process_inbound(inbound.id, now=when)


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
    if if_empty and db.session.scalar(select(func.count(User.id))):
        echo("Users exist already; demo data not added.")
        return dict.fromkeys([*COUNTED, "needs_review", "skipped_actions"], 0)
    if db.session.scalar(select(User.id).where(User.email == STAFF[0][1])):
        echo(f"The demo log-ins exist already ({STAFF[0][1]}); demo data not added again.")
        return dict.fromkeys([*COUNTED, "needs_review", "skipped_actions"], 0)
    now, rng, before = now or now_utc(), random.Random(rng_seed), _counts()
    if db.session.scalar(select(Dealership.id).limit(1)) is None:
        save_dealership(copy.deepcopy(DEALERSHIP))
    else:
        echo("Dealership settings exist already; they are kept as they are.")
    staff = _create_staff(now)
    showroom = Showroom(rng, now, staff, _create_vehicles(rng, now))
    showroom.schedule_inquiries(_people(rng, FIRST_INQUIRIES))
    showroom.at(now - timedelta(days=5, hours=20), showroom.advisor_goes_off_shift, staff[4])
    for number, (channel, content_type, raw) in enumerate(BROKEN_PAYLOADS):
        showroom.at(
            now - timedelta(hours=7 + 13 * number),
            showroom.needs_review,
            channel,
            content_type,
            raw,
        )
    showroom.run()
    added = {name: count - before[name] for name, count in _counts().items()}
    added["skipped_actions"] = showroom.skipped
    _echo_summary(echo, added, clock.perf_counter() - started)
    return added


def _echo_summary(echo, added: dict, seconds: float) -> None:
    echo(
        f"Demo dealership {DEALERSHIP['name']} ({DEALERSHIP['city']}): {added['users']} users, "
        f"{added['vehicles']} vehicles, {added['leads']} leads from {added['inbound']} inbound "
        f"payloads ({added['needs_review']} need review), {added['events']} timeline events "
        f"in {seconds:.1f} s."
    )
    if added["skipped_actions"]:
        echo(f"Warning: {added['skipped_actions']} staff actions were refused and skipped.")
    echo(f"Demo log-ins (password for all: {DEMO_PASSWORD}):")
    for role, email, name in STAFF:
        echo(f"  {role:<10} {email:<24} {DEMO_PASSWORD}   {name}")
