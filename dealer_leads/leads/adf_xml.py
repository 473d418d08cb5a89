"""Reading an ADF document's bytes safely: the encoding (BOM, declaration, UTF-8, Windows-1252),
the prolog's repairs, the parse with DTDs and entities refused, and an index of every element's
children that the mapping to leads (`adf.py`) reads through. Pure: bytes in, elements out.
"""

from __future__ import annotations

import re
import textwrap
from contextvars import ContextVar
from xml.etree.ElementTree import Element
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring


class InvalidAdf(ValueError):
    """Raised with a human-readable message naming what is wrong."""


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


class Kids:
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


_NO_KIDS = Kids(Element("none"))

# The children of every element of the document being parsed, indexed once (`index_children`)
# rather than listed and renamed at each look-up. A context variable: parses in threads do not mix.
CHILD_INDEX: ContextVar[dict[Element, Kids] | None] = ContextVar("adf_index", default=None)


def decode(data: bytes) -> tuple[str, list[str]]:
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


def repair_prolog(text: str) -> str:
    """Drop the ADF PI and every XML declaration from the prolog; the text is already decoded."""
    text = text.lstrip("\ufeff")
    prolog = _PROLOG.match(text).group(0)
    # Their newlines are kept so that parse errors still give the sender's line numbers.
    fixed = _PI.sub(lambda m: "\n" * m[0].count("\n") if m[1].lower() in _OURS else m[0], prolog)
    return fixed + text[len(prolog) :]


def parse_xml(text: str) -> Element:
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


def index_children(root: Element) -> dict[Element, Kids]:
    """The children of every element that has any, in one pass that also refuses absurdly deep
    trees before any recursive code walks them."""
    index: dict[Element, Kids] = {}
    stack = [(root, 1)] if len(root) else []
    while stack:
        element, depth = stack.pop()
        if depth >= _MAX_DEPTH:  # its children would be deeper than allowed
            raise InvalidAdf(f"elements are nested more than {_MAX_DEPTH} levels deep")
        index[element] = Kids(element)
        stack.extend((child, depth + 1) for child in element if len(child))
    return index


def local_name(tag: object) -> str:
    """Lower-case element name without its namespace; '' for comments and PIs."""
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def kids_of(parent: Element) -> Kids:
    """`parent`'s children, from the index of the document being parsed."""
    if not len(parent):  # leaves, most elements, are not indexed
        return _NO_KIDS
    index = CHILD_INDEX.get()
    kids = None if index is None else index.get(parent)
    return Kids(parent) if kids is None else kids  # not indexed: a copy, or a direct call


def child_elements(parent: Element | None) -> list[Element]:
    """Element children in document order, without comments and PIs (do not modify)."""
    return [] if parent is None else kids_of(parent).elements


def children_named(parent: Element | None, name: str) -> list[Element]:
    """Children with this name, matched case-insensitively and ignoring namespaces (do not
    modify the list: it is the index's)."""
    return [] if parent is None else kids_of(parent).by_name.get(name, [])


def first_child(parent: Element | None, name: str) -> Element | None:
    """The first child with this name, or None."""
    return next(iter(children_named(parent, name)), None)


def element_text(element: Element | None) -> str:
    """All the element's text, stripped ('' for None)."""
    return "" if element is None else "".join(element.itertext()).strip()


def first_text(parent: Element | None, name: str) -> str:
    """The text of the first child with this name that has any, or ''."""
    return next((text for text in map(element_text, children_named(parent, name)) if text), "")


def attribute(element: Element | None, name: str) -> str:
    """An attribute's stripped value, its name matched case-insensitively."""
    attributes = {} if element is None else element.attrib
    return next((v.strip() for k, v in attributes.items() if local_name(k) == name), "")


def block_text(element: Element | None) -> str:
    """Multi-line text: newlines kept, the XML's indentation removed, the ends stripped."""
    if element is None:
        return ""
    lines = [line.rstrip() for line in "".join(element.itertext()).splitlines()]
    return textwrap.dedent("\n".join(lines)).strip()
