"""`seed_demo`: a living demo dealership, built through the real intake and triage services.

Every inquiry arrives as the raw payload its channel sends (JSON, form post, ADF) and goes
through `store_inbound` + `process_inbound`, so matching, dedupe, routing and round robin happen
for real; staff then work the leads with the triage services. Intakes and staff actions run in
time order from one queue, so a repeat inquiry meets its lead in the state it was in that day.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import phonenumbers

from dealer_leads.auth.models import User
from dealer_leads.auth.services import create_user
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle

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

FIRST_NAMES = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Lucas",
    "Sophie",
    "Ethan",
    "Chloé",
    "Mathieu",
    "Gabrielle",
    "Étienne",
    "Priya",
    "Arjun",
    "Harpreet",
    "Jasleen",
    "Gurpreet",
    "Ravi",
    "Anika",
    "Deepa",
    "Mei",
    "Wei",
    "Jun",
    "Xin",
    "Hiroshi",
    "Yuki",
    "Min-jun",
    "Ji-woo",
    "Thanh",
    "Linh",
    "Minh",
    "Fatima",
    "Omar",
    "Aisha",
    "Yusuf",
    "Zainab",
    "Layla",
    "Hassan",
    "Noor",
    "Sofia",
    "Mateo",
    "Camila",
    "Alejandro",
    "Isabella",
    "Marco",
    "Giulia",
    "Piotr",
    "Anna",
    "Dmitri",
    "Nadia",
    "Kwame",
    "Ama",
    "Chinedu",
    "Ngozi",
    "Tenzin",
    "Siobhan",
    "Connor",
    "Kateri",
    "Tanis",
    "Daniel",
    "Sarah",
    "Michael",
    "Jessica",
    "Rohan",
    "Kiran",
    "Amir",
    "Leila",
    "Grace",
    "Owen",
    "Nathan",
    "Maya",
]
LAST_NAMES = [
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Lavoie",
    "Fortin",
    "Gauthier",
    "Smith",
    "Brown",
    "Wilson",
    "MacDonald",
    "Campbell",
    "Fraser",
    "Thompson",
    "Anderson",
    "Martin",
    "Murphy",
    "O'Brien",
    "Kelly",
    "Singh",
    "Patel",
    "Sharma",
    "Gill",
    "Sandhu",
    "Dhillon",
    "Chen",
    "Li",
    "Wong",
    "Zhang",
    "Wang",
    "Liu",
    "Huang",
    "Kim",
    "Park",
    "Lee",
    "Nguyen",
    "Tran",
    "Pham",
    "Ali",
    "Khan",
    "Ahmed",
    "Hassan",
    "Ibrahim",
    "Mohammed",
    "Rodriguez",
    "Silva",
    "Santos",
    "Ferreira",
    "Costa",
    "Pereira",
    "Rossi",
    "Russo",
    "Kowalski",
    "Nowak",
    "Petrov",
    "Ivanova",
    "Okafor",
    "Mensah",
    "Haile",
    "Cohen",
    "Yilmaz",
    "Sato",
    "Tanaka",
    "Fernandes",
    "Bélanger",
    "Morrison",
]
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
    "Vehicle sold before they came in",
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
    """A VIN from its maker prefix (positions 1-8), model year, plant and serial, check digit set."""
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
        year, make, trim = today.year + (today.month >= 8) - rng.randrange(2) * 0, "Toyota", ""
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


def _create_vehicles(rng: random.Random, now: datetime) -> list[Vehicle]:
    conditions = ["new"] * 26 + ["used"] * 16 + ["certified"] * 8
    statuses = ["in_transit"] * 4 + ["pending"] * 3 + ["sold"] * 4 + ["hidden"]
    statuses += ["available"] * (len(conditions) - len(statuses))
    rng.shuffle(statuses)
    vehicles = [_vehicle_row(rng, now, cond, n) for n, cond in enumerate(conditions, 101)]
    for vehicle, status in zip(vehicles, statuses, strict=True):
        vehicle.status = (
            "available" if status == "in_transit" and vehicle.condition != "new" else status
        )
        if vehicle.status == "in_transit":
            vehicle.in_stock_on = None
        vehicle.created_at = datetime.combine(vehicle.in_stock_on or now.date(), time(14), UTC)
        vehicle.updated_at = min(now, vehicle.created_at + DAY)
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
    resend: bool = False
    extra: dict = field(default_factory=dict)


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
    status = "resend" if inq.resend else "new"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n<adf>\n'
        f'<prospect status="{status}">\n'
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
