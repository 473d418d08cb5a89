"""The demo's data tables: the dealership, its staff, names, stock, sources and texts.

Plain values only, no I/O: `seed`, `payloads` and `showroom` draw from these with one seeded
random generator, so the same seed gives the same dealership.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

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

# How staff work leads: provider lead numbers, missed-call outcomes, and speed to lead as
# (cumulative share, fastest minutes, slowest minutes).
PROVIDER_ID_FORMATS = {
    "Autotrader": "AT-{n}",
    "CarGurus": "CG{n}",
    "Cars.com": "CDC-{n}",
    "Edmunds": "ED-{n}",
    "TrueCar": "TC-{n}",
    "KBB": "KBB-ICO-{n}",
    "OEM program": "TCI-{n}",
}
MISSED_CALLS, MISSED_WEIGHTS = ("voicemail", "no_answer", "busy", "wrong_number"), (6, 3, 1, 0.3)
SPEED_TO_LEAD = ((0.38, 0.5, 4.5), (0.62, 5, 55), (0.84, 60, 360), (1.0, 360, 1800))

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
