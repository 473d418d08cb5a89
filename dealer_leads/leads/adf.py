"""Parse ADF 1.0 (STAR Auto-lead Data Format) XML into `LeadIn` values. Pure: bytes in, data out.

Lead providers bend the format in many small ways, so the parser reads what it can and lists what
it had to guess or could not find as warnings; it refuses only what is not an ADF document or is
unsafe to parse (DTDs and entities).
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, tostring
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from dealer_leads.leads.normalize import INTERESTS, ContactIn, LeadIn, VehicleIn


class InvalidAdf(ValueError):
    """Raised with a human-readable message naming what is wrong."""


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

# Real documents nest a handful of levels; a much deeper tree is an attack on the recursive
# serialiser, not a lead.
_MAX_DEPTH = 64

# UTF-32 before UTF-16: the little-endian UTF-32 BOM starts with the UTF-16 one.
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"))
_BOMS += ((b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# The prolog: whitespace, comments and PIs before the root element (or a DOCTYPE).
_PROLOG = re.compile(r"\A(?:\s+|<!--.*?-->|<\?.*?\?>)*", re.DOTALL)
_PI = re.compile(r"<\?\s*([^\s?]*)(.*?)\?>", re.DOTALL)
_OURS = ("xml", "adf")  # PI targets dropped from the prolog, in any case
# Quotes may be straight or typographic: “ ” are \x93 \x94 in cp1252 and \xe2\x80\x9c/\x9d in
# UTF-8, both seen here through a Latin-1 reading of the bytes.
_QUOTES = "\"'\x91-\x94\xe2\x80\x98-\x9d\u2018-\u201d"
_ENCODING = re.compile(rf"encoding\s*=?\s*[{_QUOTES}]*([A-Za-z][\w.:-]*)", re.IGNORECASE | re.ASCII)
_DEFUSED = {
    "DTDForbidden": "a DTD (<!DOCTYPE>)",
    "EntitiesForbidden": "an entity declaration",
    "ExternalReferenceForbidden": "an external reference",
}
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(?:(Z)|([+-])(\d{1,2}):?(\d{0,2}))?",  # also "-0800" and the malformed "-08:0"
    re.IGNORECASE,
)
_INTERESTS = {interest.replace("-", ""): interest for interest in INTERESTS}
_NAME_PARTS = {"first": "first", "middle": "middle", "last": "last", "surname": "last"}


class _Kids:
    """An element's element children (no comments or PIs): in document order with their local
    names (lower case, no namespace), and by local name. Shared lists: do not modify them."""

    __slots__ = ("by_name", "elements", "names")

    def __init__(self, element: Element) -> None:
        self.elements: list[Element] = []
        self.names: list[str] = []
        self.by_name: dict[str, list[Element]] = {}
        for child in element:
            tag = child.tag
            if isinstance(tag, str):
                name = tag.rpartition("}")[2].lower()
                self.elements.append(child)
                self.names.append(name)
                if name in self.by_name:
                    self.by_name[name].append(child)
                else:
                    self.by_name[name] = [child]


_NO_KIDS = _Kids(Element("none"))

# The children of every element of the document being parsed, indexed once (`_index`) rather
# than listed and renamed at each look-up. A context variable: parses in threads do not mix.
_INDEX: ContextVar[dict[Element, _Kids] | None] = ContextVar("adf_index", default=None)


def parse_adf(data: bytes) -> list[LeadIn]:
    """Parse an ADF 1.0 document into one `LeadIn` per <prospect>, or raise `InvalidAdf`."""
    if not data or not data.strip():
        raise InvalidAdf("the document is empty")
    text, warnings = _decode(bytes(data))
    root = _parse_xml(_repair_prolog(text))
    token = _INDEX.set(_index(root))
    try:
        if _local(root.tag) != "adf":
            raise InvalidAdf(f"the root element is <{root.tag.rpartition('}')[2]}>, not <adf>")
        prospects = _children(root, "prospect")
        if not prospects:
            raise InvalidAdf("the <adf> document contains no <prospect>")
        return [_lead(prospect, warnings) for prospect in prospects]
    finally:
        _INDEX.reset(token)


def _decode(data: bytes) -> tuple[str, list[str]]:
    """Bytes to text: a BOM wins, then the declared encoding, then UTF-8, then Windows-1252."""
    warnings: list[str] = []
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), "") or _declared(data)
    if codec:
        try:
            return data.decode(codec), warnings
        except LookupError:
            warnings.append(f"the document declares an unknown encoding {codec!r}")
        except UnicodeDecodeError:
            warnings.append(
                f"the document declares encoding {codec!r} but its bytes do not match it"
            )
    try:
        return data.decode("utf-8"), warnings
    except UnicodeDecodeError:
        # Windows-1252 is what mail clients and old CRMs emit when they say nothing.
        warnings.append("the bytes are not valid UTF-8; they were read as Windows-1252")
        return data.decode("cp1252", errors="replace"), warnings


def _declared(data: bytes) -> str:
    """The encoding named by an XML declaration anywhere in the prolog, or ''."""
    # Latin-1 maps every byte to one character, so any ASCII-compatible prolog reads correctly.
    head = data[:4096].decode("latin-1")
    for match in _PI.finditer(_PROLOG.match(head).group(0)):
        found = _ENCODING.search(match.group(2)) if match.group(1).lower() == "xml" else None
        # A UTF-16/32 name in a prolog that reads as ASCII is wrong; the BOM check covers those.
        if found and not found.group(1).lower().startswith(("utf-16", "utf-32", "ucs")):
            return found.group(1)
    return ""


def _repair_prolog(text: str) -> str:
    """Drop the ADF PI and every XML declaration from the prolog; the text is already decoded."""
    text = text.lstrip("\ufeff")
    prolog = _PROLOG.match(text).group(0)
    # Their newlines are kept so that parse errors still give the sender's line numbers.
    fixed = _PI.sub(lambda m: "\n" * m[0].count("\n") if m[1].lower() in _OURS else m[0], prolog)
    return fixed + text[len(prolog) :]


def _parse_xml(text: str) -> Element:
    """Parse with defusedxml, turning its errors into `InvalidAdf` messages."""
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        what = _DEFUSED.get(type(exc).__name__, "a DTD or entity")
        message = f"the document contains {what}; DTDs and entities are not accepted"
    except ParseError as exc:
        (line, column), reason = exc.position, expat.ErrorString(exc.code)
        message = f"not well-formed XML at line {line}, column {column + 1}: {reason}"
    raise InvalidAdf(message)


def _index(root: Element) -> dict[Element, _Kids]:
    """The children of every element that has any, in one pass that also refuses absurdly deep
    trees before any recursive code walks them."""
    index: dict[Element, _Kids] = {}
    stack = [(root, 1)] if len(root) else []
    while stack:
        element, depth = stack.pop()
        if depth >= _MAX_DEPTH:  # its children would be deeper than allowed
            raise InvalidAdf(f"elements are nested more than {_MAX_DEPTH} levels deep")
        index[element] = _Kids(element)
        stack.extend((child, depth + 1) for child in element if len(child))
    return index


def _local(tag: object) -> str:
    """Lower-case element name without its namespace; '' for comments and PIs."""
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _kids(parent: Element) -> _Kids:
    """`parent`'s children, from the index of the document being parsed."""
    if not len(parent):  # leaves, most elements, are not indexed
        return _NO_KIDS
    index = _INDEX.get()
    kids = None if index is None else index.get(parent)
    return _Kids(parent) if kids is None else kids  # not indexed: a copy, or a direct call


def _elements(parent: Element | None) -> list[Element]:
    """Element children in document order, without comments and PIs (do not modify)."""
    return [] if parent is None else _kids(parent).elements


def _children(parent: Element | None, name: str) -> list[Element]:
    """Children with this name, matched case-insensitively and ignoring namespaces (do not
    modify the list: it is the index's)."""
    return [] if parent is None else _kids(parent).by_name.get(name, [])


def _child(parent: Element | None, name: str) -> Element | None:
    return next(iter(_children(parent, name)), None)


def _text(element: Element | None) -> str:
    return "" if element is None else "".join(element.itertext()).strip()


def _first_text(parent: Element | None, name: str) -> str:
    return next((text for text in map(_text, _children(parent, name)) if text), "")


def _attr(element: Element | None, name: str) -> str:
    """An attribute's stripped value, its name matched case-insensitively."""
    attributes = {} if element is None else element.attrib
    return next((v.strip() for k, v in attributes.items() if _local(k) == name), "")


def _block(element: Element | None) -> str:
    """Multi-line text: newlines kept, the XML's indentation removed, the ends stripped."""
    if element is None:
        return ""
    lines = [line.rstrip() for line in "".join(element.itertext()).splitlines()]
    return textwrap.dedent("\n".join(lines)).strip()


def _lead(prospect: Element, document_warnings: list[str]) -> LeadIn:
    """Build the `LeadIn` for one <prospect>."""
    warnings = list(document_warnings)
    customer = _child(prospect, "customer")
    provider = _child(prospect, "provider")
    vendor_name = _vendor_name(_child(prospect, "vendor"), warnings)
    source = _provider_name(provider) or _first_text(provider, "service") or vendor_name or "ADF"
    return LeadIn(
        contact=_contact(customer, warnings),
        vehicles=_vehicles(prospect, warnings),
        comments=_comments(customer),
        source=source,
        provider_lead_id=_provider_lead_id(prospect, source),
        requested_at=_requested_at(prospect, warnings),
        is_resend=_attr(prospect, "status").lower() == "resend",
        vendor_name=vendor_name,
        extensions=_extensions(prospect),
        warnings=warnings,
    )


def _provider_name(provider: Element | None) -> str:
    """The provider's whole name (part="full" or no part), else any name it gives."""
    names = _children(provider, "name")
    whole = [name for name in names if _attr(name, "part").lower() in ("", "full")]
    return next((text for text in map(_text, whole + names) if text), "")


def _provider_lead_id(prospect: Element, source: str) -> str:
    """The provider's id for the lead: the <id> whose source is the provider, else the first."""
    ids = [(_attr(i, "source").lower(), _text(i)) for i in _children(prospect, "id") if _text(i)]
    matching = [text for origin, text in ids if origin == source.strip().lower()]
    return (matching or [text for _, text in ids] or [""])[0]


def _vendor_name(vendor: Element | None, warnings: list[str]) -> str:
    """The dealership's name; the spec's own example gives it only as the vendor's contact."""
    if vendor is None:
        warnings.append("the prospect has no <vendor> (dealership)")
        return ""
    name = _first_text(vendor, "vendorname")
    if name:
        return name
    first, last, full = _names(_child(vendor, "contact"))
    name = full or f"{first} {last}".strip()
    used = f"; its contact name {name!r} was used" if name else " and no contact name"
    warnings.append(f"the <vendor> has no <vendorname>{used}")
    return name


def _requested_at(prospect: Element, warnings: list[str]) -> datetime | None:
    """The <requestdate>, read leniently; None and a warning if missing or unreadable."""
    raw = _first_text(prospect, "requestdate")
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
    contacts = _children(customer, "contact")
    primary = [contact for contact in contacts if _attr(contact, "primarycontact") == "1"]
    element = (primary or contacts or [None])[0]
    if element is None:
        warnings.append("the prospect has no customer <contact>")
        return ContactIn()
    result = ContactIn(email=_first_text(element, "email"), phones=_phones(element))
    result.first_name, result.last_name, result.full_name = _names(element)
    _fill_address(result, _child(element, "address"))
    if not (result.first_name or result.last_name or result.full_name):
        warnings.append("the customer contact has no name")
    if not (result.email or result.phones):
        warnings.append("the customer contact has neither an e-mail address nor a phone number")
    return result


def _name_part(name: Element) -> str:
    """Which part a <name> holds: `part`, else a `type` misused for it, else the whole name."""
    return _NAME_PARTS.get((_attr(name, "part") or _attr(name, "type")).lower(), "full")


def _names(contact: Element | None) -> tuple[str, str, str]:
    """(first, last, full) from the <name> children; a middle name joins the first name."""
    parts: dict[str, str] = {}
    for name in _children(contact, "name"):
        if _text(name):
            parts.setdefault(_name_part(name), _text(name))
    first = " ".join(filter(None, (parts.get("first"), parts.get("middle"))))
    return first, parts.get("last", ""), parts.get("full", "")


def _phones(contact: Element) -> list[tuple[str, str]]:
    """Every non-empty phone as (type, number); senders use any type word, default 'voice'."""
    phones = _children(contact, "phone")
    return [(_attr(p, "type").lower() or "voice", _text(p)) for p in phones if _text(p)]


def _fill_address(contact: ContactIn, address: Element | None) -> None:
    """Copy the postal address; street lines and apartment are joined into one line."""
    lines = [_text(line) for line in _children(address, "street") + _children(address, "apartment")]
    contact.street = ", ".join(line for line in lines if line)
    contact.city = _first_text(address, "city")
    contact.region = _first_text(address, "regioncode")
    contact.postal_code = _first_text(address, "postalcode")
    contact.country = _first_text(address, "country")


def _comments(customer: Element | None) -> str:
    """The customer's comments, then the purchase timeframe if one was given."""
    timeframe = _timeframe(_child(customer, "timeframe"))
    parts = [_block(_child(customer, "comments")), f"Timeframe: {timeframe}" if timeframe else ""]
    return "\n".join(part for part in parts if part)


def _timeframe(element: Element | None) -> str:
    """'soon (earliest 2024-02-01, latest 2024-03-01)'; the DTD also allows plain text."""
    if element is None:
        return ""
    description = _first_text(element, "description") or (element.text or "").strip()
    dates = [
        f"{label} {_first_text(element, tag)}"
        for label, tag in (("earliest", "earliestdate"), ("latest", "latestdate"))
        if _first_text(element, tag)
    ]
    return f"{description} ({', '.join(dates)})".strip() if dates else description


def _vehicles(prospect: Element, warnings: list[str]) -> list[VehicleIn]:
    """Every <vehicle> in document order (trade-ins are sometimes listed first)."""
    vehicles = []
    for number, element in enumerate(_children(prospect, "vehicle"), 1):
        if not _elements(element) and not _text(element):
            warnings.append(f"vehicle {number} is an empty <vehicle/> and was skipped")
            continue
        vehicles.append(_vehicle(element, f"vehicle {number}", warnings))
    if not vehicles:
        warnings.append("the prospect names no vehicle")
    return vehicles


def _vehicle(element: Element, label: str, warnings: list[str]) -> VehicleIn:
    """One <vehicle>; unreadable numbers become None with a warning."""
    odometer = _child(element, "odometer")
    interest, status = _kind(element, label, warnings)
    vehicle = VehicleIn(
        interest=interest,
        status=status,
        year=_number(_first_text(element, "year"), f"{label}: year", int, warnings),
        make=_first_text(element, "make"),
        model=_first_text(element, "model"),
        trim=_first_text(element, "trim"),
        vin=re.sub(r"\s", "", _first_text(element, "vin")).upper(),
        stock=_first_text(element, "stock"),
        odometer=_number(_text(odometer), f"{label}: odometer", _digits, warnings),
        odometer_units=_attr(odometer, "units").lower(),
        price=_number(_text(_child(element, "price")), f"{label}: price", _money, warnings),
        color=_color(element),
        comments=_block(_child(element, "comments")),
    )
    if not (vehicle.year or vehicle.make or vehicle.model or vehicle.vin):
        warnings.append(f"{label} has no year, make, model or VIN")
    return vehicle


def _color(vehicle: Element) -> str:
    """The exterior colour of the first colour combination that names one."""
    combinations = _children(vehicle, "colorcombination")
    return next(filter(None, (_first_text(c, "exteriorcolor") for c in combinations)), "")


def _kind(element: Element, label: str, warnings: list[str]) -> tuple[str, str]:
    """(interest, status); spellings such as 'Trade In' accepted, unknown values warned about."""
    raw_interest, status = _attr(element, "interest"), _attr(element, "status").lower()
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
    allowed = KNOWN_CHILDREN.get(name or _local(element.tag), frozenset())
    kids = _kids(element)
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
    if not element.attrib and not _elements(element):
        return _block(element)
    clone = copy.deepcopy(element)
    for node in clone.iter():
        # Indentation between tags is layout, not data.
        node.text = node.text if (node.text or "").strip() else None
        node.tail = node.tail if (node.tail or "").strip() else None
    clone.tail = None
    return tostring(clone, encoding="unicode")
