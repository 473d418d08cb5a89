"""iCalendar (RFC 5545) for appointments: the advisor's subscription feed and the customer's
invitation (METHOD:REQUEST, or CANCEL). Pure: plain values in, bytes out.

Times are written in UTC (the trailing Z), which every client reads without a VTIMEZONE; the
UID never changes for a visit and SEQUENCE rises with every change, so a client updates the
event it has instead of adding a second one.

The invitation is built with icalendar's component classes. The subscription feed writes the
same properties with a small direct writer (RFC 5545 escaping and 75-octet folding), because
icalendar's per-property objects cost about 0.4 ms per event and a feed holds a thousand; the
tests parse both with icalendar and vobject and compare them field by field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

# Control characters other than tab are not allowed in TEXT values; they are dropped.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F])

PRODUCT_ID = "-//dealer_leads//Showroom appointments//EN"
# Appointment status → VEVENT STATUS; a visit that happened stays CONFIRMED in the calendar.
EVENT_STATUS = {
    "booked": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "shown": "CONFIRMED",
    "sold": "CONFIRMED",
    "no_show": "CONFIRMED",
    "cancelled": "CANCELLED",
}


@dataclass(frozen=True)
class CalendarEvent:
    """One visit as a calendar shows it."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    stamp: datetime
    summary: str
    description: str = ""
    location: str = ""
    status: str = "booked"
    url: str = ""


@dataclass(frozen=True)
class Party:
    """An organizer or attendee: e-mail address and display name."""

    email: str
    name: str = ""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _vevent(event: CalendarEvent, stamp: datetime | None = None) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", _utc(stamp or event.stamp))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", _utc(event.starts_at))
    vevent.add("dtend", _utc(event.ends_at))
    vevent.add("summary", event.summary)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.url:
        vevent.add("url", event.url)
    vevent.add("status", EVENT_STATUS.get(event.status, "CONFIRMED"))
    return vevent


def _calendar(method: str | None = None, name: str = "") -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (
        value.translate(_CONTROLS)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        parts.append(data[start:end])
        start, limit = end, 74  # continuation lines begin with a space
    parts.append(data[start:])
    return b"\r\n ".join(parts).decode()


def _stamp(moment: datetime) -> str:
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def _feed_lines(event: CalendarEvent) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        fold(f"UID:{escape_text(event.uid)}"),
        f"DTSTAMP:{_stamp(event.stamp)}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTART:{_stamp(event.starts_at)}",
        f"DTEND:{_stamp(event.ends_at)}",
        fold(f"SUMMARY:{escape_text(event.summary)}"),
    ]
    if event.description:
        lines.append(fold(f"DESCRIPTION:{escape_text(event.description)}"))
    if event.location:
        lines.append(fold(f"LOCATION:{escape_text(event.location)}"))
    if event.url:
        lines.append(fold(f"URL:{event.url}"))
    lines += [f"STATUS:{EVENT_STATUS.get(event.status, 'CONFIRMED')}", "END:VEVENT"]
    return lines


def feed(name: str, events: Iterable[CalendarEvent]) -> bytes:
    """A subscription feed: every event with its own DTSTAMP (when it last changed)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        fold(f"X-WR-CALNAME:{escape_text(name)}"),
    ]
    for event in events:
        lines += _feed_lines(event)
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _party(kind: str, party: Party, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{party.email}")
    if party.name:
        address.params["cn"] = vText(party.name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def invitation(
    event: CalendarEvent, organizer: Party, attendee: Party, *, now: datetime
) -> tuple[bytes, str]:
    """The customer's invitation (REQUEST), or its cancellation (CANCEL) when the visit is
    cancelled; returns the bytes and the METHOD for the MIME part's parameter."""
    method = "CANCEL" if event.status == "cancelled" else "REQUEST"
    calendar = _calendar(method)
    vevent = _vevent(event, stamp=now)
    vevent.add("organizer", _party("organizer", organizer))
    vevent.add(
        "attendee",
        _party("attendee", attendee, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp="FALSE"),
    )
    calendar.add_component(vevent)
    return calendar.to_ical(), method
