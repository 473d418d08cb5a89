"""Parse ADF 1.0 (STAR Auto-lead Data Format) XML into `LeadIn` values. Pure: bytes in, data out.

Lead providers bend the format in many small ways, so the parser reads what it can and lists what
it had to guess or could not find as warnings; it refuses only what is not an ADF document or is
unsafe to parse (DTDs and entities).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, tostring

from dealer_leads.leads.adf_xml import (
    CHILD_INDEX,
    InvalidAdf,
    attribute,
    block_text,
    child_elements,
    children_named,
    decode,
    element_text,
    first_child,
    first_text,
    index_children,
    kids_of,
    local_name,
    parse_xml,
    repair_prolog,
)
from dealer_leads.leads.normalize import INTERESTS, ContactIn, LeadIn, VehicleIn

# Which children each ADF element may have, from the ADF 1.0 DTD (adfxml.info transcription).
# Anything else under a prospect is a provider's private extension. Two deliberate differences:
# the DTD types `timeframe` as #PCDATA but declares the children the spec's prose gives it, and it
# declares `condition` yet lets no element contain it, so <vehicle><condition> is an extension.
_CONTENT_MODEL = {
    "prospect": "id requestdate vehicle customer vendor provider",
    "vehicle": "id year make model vin stock trim doors bodystyle transmission odometer "
    "colorcombination imagetag price pricecomments option finance comments",
    "colorcombination": "interiorcolor exteriorcolor preference",
    "option": "optionname manufacturercode stock weighting price",
    "finance": "method amount balance",
    "customer": "contact id timeframe comments",
    "timeframe": "description earliestdate latestdate",
    "vendor": "id vendorname url contact",
    "provider": "id name service url email phone contact",
    "contact": "name email phone address",
    "address": "street apartment city regioncode postalcode country",
}
KNOWN_CHILDREN = {parent: frozenset(kids.split()) for parent, kids in _CONTENT_MODEL.items()}

_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(?:(Z)|([+-])(\d{1,2}):?(\d{0,2}))?",  # also "-0800" and the malformed "-08:0"
    re.IGNORECASE,
)
_INTERESTS = {interest.replace("-", ""): interest for interest in INTERESTS}
_NAME_PARTS = {"first": "first", "middle": "middle", "last": "last", "surname": "last"}


def parse_adf(data: bytes) -> list[LeadIn]:
    """Parse an ADF 1.0 document into one `LeadIn` per <prospect>, or raise `InvalidAdf`."""
    if not data or not data.strip():
        raise InvalidAdf("the document is empty")
    text, warnings = decode(bytes(data))
    root = parse_xml(repair_prolog(text))
    token = CHILD_INDEX.set(index_children(root))
    try:
        if local_name(root.tag) != "adf":
            raise InvalidAdf(f"the root element is <{root.tag.rpartition('}')[2]}>, not <adf>")
        prospects = children_named(root, "prospect")
        if not prospects:
            raise InvalidAdf("the <adf> document contains no <prospect>")
        return [_lead(prospect, warnings) for prospect in prospects]
    finally:
        CHILD_INDEX.reset(token)


def _lead(prospect: Element, document_warnings: list[str]) -> LeadIn:
    """Build the `LeadIn` for one <prospect>."""
    warnings = list(document_warnings)
    customer = first_child(prospect, "customer")
    provider = first_child(prospect, "provider")
    vendor_name = _vendor_name(first_child(prospect, "vendor"), warnings)
    source = _provider_name(provider) or first_text(provider, "service") or vendor_name or "ADF"
    return LeadIn(
        contact=_contact(customer, warnings),
        vehicles=_vehicles(prospect, warnings),
        comments=_comments(customer),
        source=source,
        provider_lead_id=_provider_lead_id(prospect, source),
        requested_at=_requested_at(prospect, warnings),
        is_resend=attribute(prospect, "status").lower() == "resend",
        vendor_name=vendor_name,
        extensions=_extensions(prospect),
        warnings=warnings,
    )


def _provider_name(provider: Element | None) -> str:
    """The provider's whole name (part="full" or no part), else any name it gives."""
    names = children_named(provider, "name")
    whole = [name for name in names if attribute(name, "part").lower() in ("", "full")]
    return next((text for text in map(element_text, whole + names) if text), "")


def _provider_lead_id(prospect: Element, source: str) -> str:
    """The provider's id for the lead: the <id> whose source is the provider, else the first."""
    ids = [
        (attribute(i, "source").lower(), element_text(i))
        for i in children_named(prospect, "id")
        if element_text(i)
    ]
    matching = [text for origin, text in ids if origin == source.strip().lower()]
    return (matching or [text for _, text in ids] or [""])[0]


def _vendor_name(vendor: Element | None, warnings: list[str]) -> str:
    """The dealership's name; the spec's own example gives it only as the vendor's contact."""
    if vendor is None:
        warnings.append("the prospect has no <vendor> (dealership)")
        return ""
    name = first_text(vendor, "vendorname")
    if name:
        return name
    first, last, full = _names(first_child(vendor, "contact"))
    name = full or f"{first} {last}".strip()
    used = f"; its contact name {name!r} was used" if name else " and no contact name"
    warnings.append(f"the <vendor> has no <vendorname>{used}")
    return name


def _requested_at(prospect: Element, warnings: list[str]) -> datetime | None:
    """The <requestdate>, read leniently; None and a warning if missing or unreadable."""
    raw = first_text(prospect, "requestdate")
    if not raw:
        warnings.append("the prospect has no <requestdate>")
        return None
    parsed = parse_adf_datetime(raw)
    if parsed is None:
        warnings.append(f"the <requestdate> {raw!r} could not be read")
    return parsed


def parse_adf_datetime(raw: str) -> datetime | None:
    """ISO-8601 as ADF senders write it: unpadded hours, no seconds, '-08:0', date only.

    A time without an offset comes back naive; the caller knows the dealership's zone.
    """
    match = _ISO_DATE.fullmatch(raw.strip())
    if match is None:
        return None
    *numbers, fraction, utc, sign, hours, minutes = match.groups()
    year, month, day, hour, minute, second = (int(number or 0) for number in numbers)
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    try:
        zone = UTC if utc else timezone(-offset if sign == "-" else offset) if sign else None
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
    except ValueError:
        return None


def _contact(customer: Element | None, warnings: list[str]) -> ContactIn:
    """The customer's contact: the one marked primary, else the first."""
    contacts = children_named(customer, "contact")
    primary = [contact for contact in contacts if attribute(contact, "primarycontact") == "1"]
    element = (primary or contacts or [None])[0]
    if element is None:
        warnings.append("the prospect has no customer <contact>")
        return ContactIn()
    result = ContactIn(email=first_text(element, "email"), phones=_phones(element))
    result.first_name, result.last_name, result.full_name = _names(element)
    _fill_address(result, first_child(element, "address"))
    if not (result.first_name or result.last_name or result.full_name):
        warnings.append("the customer contact has no name")
    if not (result.email or result.phones):
        warnings.append("the customer contact has neither an e-mail address nor a phone number")
    return result


def _name_part(name: Element) -> str:
    """Which part a <name> holds: `part`, else a `type` misused for it, else the whole name."""
    return _NAME_PARTS.get((attribute(name, "part") or attribute(name, "type")).lower(), "full")


def _names(contact: Element | None) -> tuple[str, str, str]:
    """(first, last, full) from the <name> children; a middle name joins the first name."""
    parts: dict[str, str] = {}
    for name in children_named(contact, "name"):
        if element_text(name):
            parts.setdefault(_name_part(name), element_text(name))
    first = " ".join(filter(None, (parts.get("first"), parts.get("middle"))))
    return first, parts.get("last", ""), parts.get("full", "")


def _phones(contact: Element) -> list[tuple[str, str]]:
    """Every non-empty phone as (type, number); senders use any type word, default 'voice'."""
    phones = children_named(contact, "phone")
    return [
        (attribute(p, "type").lower() or "voice", element_text(p))
        for p in phones
        if element_text(p)
    ]


def _fill_address(contact: ContactIn, address: Element | None) -> None:
    """Copy the postal address; street lines and apartment are joined into one line."""
    lines = [
        element_text(line)
        for line in children_named(address, "street") + children_named(address, "apartment")
    ]
    contact.street = ", ".join(line for line in lines if line)
    contact.city = first_text(address, "city")
    contact.region = first_text(address, "regioncode")
    contact.postal_code = first_text(address, "postalcode")
    contact.country = first_text(address, "country")


def _comments(customer: Element | None) -> str:
    """The customer's comments, then the purchase timeframe if one was given."""
    timeframe = _timeframe(first_child(customer, "timeframe"))
    parts = [
        block_text(first_child(customer, "comments")),
        f"Timeframe: {timeframe}" if timeframe else "",
    ]
    return "\n".join(part for part in parts if part)


def _timeframe(element: Element | None) -> str:
    """'soon (earliest 2024-02-01, latest 2024-03-01)'; the DTD also allows plain text."""
    if element is None:
        return ""
    description = first_text(element, "description") or (element.text or "").strip()
    dates = [
        f"{label} {first_text(element, tag)}"
        for label, tag in (("earliest", "earliestdate"), ("latest", "latestdate"))
        if first_text(element, tag)
    ]
    return f"{description} ({', '.join(dates)})".strip() if dates else description


def _vehicles(prospect: Element, warnings: list[str]) -> list[VehicleIn]:
    """Every <vehicle> in document order (trade-ins are sometimes listed first)."""
    vehicles = []
    for number, element in enumerate(children_named(prospect, "vehicle"), 1):
        if not child_elements(element) and not element_text(element):
            warnings.append(f"vehicle {number} is an empty <vehicle/> and was skipped")
            continue
        vehicles.append(_vehicle(element, f"vehicle {number}", warnings))
    if not vehicles:
        warnings.append("the prospect names no vehicle")
    return vehicles


def _vehicle(element: Element, label: str, warnings: list[str]) -> VehicleIn:
    """One <vehicle>; unreadable numbers become None with a warning."""
    odometer = first_child(element, "odometer")
    interest, status = _kind(element, label, warnings)
    vehicle = VehicleIn(
        interest=interest,
        status=status,
        year=_number(first_text(element, "year"), f"{label}: year", int, warnings),
        make=first_text(element, "make"),
        model=first_text(element, "model"),
        trim=first_text(element, "trim"),
        vin=re.sub(r"\s", "", first_text(element, "vin")).upper(),
        stock=first_text(element, "stock"),
        odometer=_number(element_text(odometer), f"{label}: odometer", _digits, warnings),
        odometer_units=attribute(odometer, "units").lower(),
        price=_number(
            element_text(first_child(element, "price")), f"{label}: price", _money, warnings
        ),
        color=_color(element),
        comments=block_text(first_child(element, "comments")),
    )
    if not (vehicle.year or vehicle.make or vehicle.model or vehicle.vin):
        warnings.append(f"{label} has no year, make, model or VIN")
    return vehicle


def _color(vehicle: Element) -> str:
    """The exterior colour of the first colour combination that names one."""
    combinations = children_named(vehicle, "colorcombination")
    return next(filter(None, (first_text(c, "exteriorcolor") for c in combinations)), "")


def _kind(element: Element, label: str, warnings: list[str]) -> tuple[str, str]:
    """(interest, status); spellings such as 'Trade In' accepted, unknown values warned about."""
    raw_interest, status = attribute(element, "interest"), attribute(element, "status").lower()
    interest = _INTERESTS.get(re.sub(r"[^a-z]", "", raw_interest.lower()))
    if interest is None and raw_interest:
        warnings.append(f"{label}: interest {raw_interest!r} is not an ADF value; 'buy' assumed")
    if status not in ("new", "used", ""):
        warnings.append(f"{label}: status {status!r} is not 'new' or 'used'; ignored")
        status = ""
    return interest or "buy", status


def _number(raw: str, what: str, convert: Callable[[str], Any], warnings: list[str]) -> Any:
    """`convert(raw)`; None if nothing was given, None and a warning if it cannot be read."""
    if not raw:
        return None
    try:
        return convert(raw)
    except (ValueError, InvalidOperation):
        warnings.append(f"{what} {raw!r} is not a number")
        return None


def _digits(raw: str) -> int:
    """An odometer from its digits, so '12,345 mi' reads as 12345."""
    return int(re.sub(r"\D", "", raw))


def _money(raw: str) -> Decimal:
    """A price without currency signs or thousands separators."""
    return Decimal(re.sub(r"[^\d.\-]", "", raw))


def _extensions(
    element: Element, path: str = "", found: dict | None = None, name: str = ""
) -> dict[str, str]:
    """Elements the ADF 1.0 content model does not allow where they stand, keyed by path;
    `name` is the element's local name when the caller knows it."""
    found = {} if found is None else found
    # Known elements are walked; an unknown one is recorded whole, its children are its own.
    allowed = KNOWN_CHILDREN.get(name or local_name(element.tag), frozenset())
    kids = kids_of(element)
    for child_name, child in zip(kids.names, kids.elements, strict=True):
        child_path = f"{path}/{child_name}" if path else child_name
        if child_name in allowed:
            _extensions(child, child_path, found, child_name)
            continue
        key, count = child_path, 1
        while key in found:
            count += 1
            key = f"{child_path} ({count})"
        found[key] = _extension_value(child)
    return found


def _extension_value(element: Element) -> str:
    """Plain text, or compact XML when the element has attributes or children."""
    if not element.attrib and not child_elements(element):
        return block_text(element)
    clone = copy.deepcopy(element)
    for node in clone.iter():
        # Indentation between tags is layout, not data.
        node.text = node.text if (node.text or "").strip() else None
        node.tail = node.tail if (node.tail or "").strip() else None
    clone.tail = None
    return tostring(clone, encoding="unicode")
