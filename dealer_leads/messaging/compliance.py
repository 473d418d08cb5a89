"""Time and consent rules in one place: business hours, contact windows, consent, opt-out words.

Pure functions on plain values: no database, no Flask. Datetimes in are time-zone aware; results
are aware UTC. `consent.py` loads the dealership's settings and the rows, then asks these.

Rules chosen where the product issue left room (see also the docstrings below):
- Windows are half-open: a shop open 09:00-21:00 is open at 09:00 and closed at 21:00.
- A wall time that does not exist (DST gap) starts at the end of the gap; a repeated wall time
  (DST overlap) starts at its first occurrence.
- Calls and texts need the dealership's window AND 08:00-21:00 in every zone the recipient's
  number may be in; with no known zone the recipient is assumed to be in the dealership's zone.
- Consent expiry is exclusive: consent expiring at T allows contact until T, not at T.
- "Responding to the inquiry" means within 24 h of it; a text only answers a text (TCPA).
- Calls (made by staff) need no recorded consent; opt-outs still stop them.
"""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phonenumbers import NumberParseException, parse
from phonenumbers.timezone import time_zones_for_number

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REGIMES = ("CA", "US")
CHANNELS = ("email", "sms", "call")
RECIPIENT_EARLIEST = time(8)
RECIPIENT_LATEST = time(21)
INQUIRY_RESPONSE_WINDOW = timedelta(hours=24)
IMPLIED_CONSENT_MONTHS = {"inquiry": 6, "purchase": 24}  # CASL s. 10(10)
MAX_SEARCH_DAYS = 400  # a year of holidays, and then some
CONTACT_SEARCH = timedelta(days=8)  # daily windows that share a moment share one within days

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})


class InvalidHours(ValueError):
    """Hours, holidays or a time zone in the settings that cannot be read."""


class NoBusinessHours(LookupError):
    """No open moment: the week has no hours, or holidays cover the whole search."""


class NoContactWindow(LookupError):
    """The dealership's window and the recipient's 08:00-21:00 never overlap."""


class UnknownRegime(ValueError):
    """A compliance regime other than "CA" (CASL) or "US" (CAN-SPAM, TCPA)."""


# --- business hours -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """Opening hours in the dealership's wall time: weekday (Monday = 0) to (open, close)."""

    zone: ZoneInfo
    weekly: dict[int, tuple[time, time] | None]
    holidays: frozenset[date]


def parse_zone(name: str) -> ZoneInfo:
    """A zoneinfo zone by name, or InvalidHours."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise InvalidHours(f"unknown time zone {name!r}") from error


def parse_clock(value: str, label: str = "time") -> time:
    """An "HH:MM" wall time, or InvalidHours naming the setting."""
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as error:
        raise InvalidHours(f"{label}: {value!r} is not a time like 09:00") from error


def _span(value: Sequence[str] | None, label: str) -> tuple[time, time] | None:
    if not value:
        return None
    if len(value) != 2:
        raise InvalidHours(f"{label}: expected [open, close]")
    opens, closes = parse_clock(value[0], label), parse_clock(value[1], label)
    if opens >= closes:
        raise InvalidHours(f"{label}: closes at or before it opens")
    return opens, closes


def hours_from_settings(
    timezone: str,
    business_hours: Mapping[str, Sequence[str] | None] | None,
    holidays: Iterable[str] | None,
) -> Hours:
    """Hours from the saved settings ({"mon": ["09:00", "21:00"], "sun": None}, ISO dates)."""
    days = {key.lower(): value for key, value in (business_hours or {}).items()}
    unknown = sorted(set(days) - set(WEEKDAYS))
    if unknown:
        raise InvalidHours(f"unknown weekday {unknown[0]!r}")
    weekly = {index: _span(days.get(day), day) for index, day in enumerate(WEEKDAYS)}
    try:
        closed = frozenset(date.fromisoformat(day) for day in holidays or ())
    except (TypeError, ValueError) as error:
        raise InvalidHours("holidays: dates must look like 2026-12-25") from error
    return Hours(parse_zone(timezone), weekly, closed)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time-zone aware datetime is required")
    return moment.astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first UTC instant whose wall time in `zone` is `wall` or later.

    A repeated wall time (autumn) gives its first occurrence; a skipped one (spring) gives the
    end of the gap, found by bisecting between the two readings PEP 495 offers.
    """
    readings = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    low, high = min(readings), max(readings)
    if _wall(low, zone) == wall:
        return low
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _span_on(day: date, hours: Hours) -> tuple[time, time] | None:
    return None if day in hours.holidays else hours.weekly.get(day.weekday())


def is_open(moment: datetime, hours: Hours) -> bool:
    """Whether the wall time of `moment` falls inside that day's hours (close is exclusive)."""
    local = _utc(moment).astimezone(hours.zone)
    span = _span_on(local.date(), hours)
    return span is not None and span[0] <= local.time() < span[1]


def next_open(moment: datetime, hours: Hours) -> datetime:
    """The earliest UTC moment at or after `moment` inside business hours."""
    moment = _utc(moment)
    if not any(hours.weekly.values()):
        raise NoBusinessHours("no business hours on any day of the week")
    if is_open(moment, hours):
        return moment
    first_day = moment.astimezone(hours.zone).date()
    for offset in range(MAX_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        span = _span_on(day, hours)
        if span is None:
            continue
        opens = first_instant(datetime.combine(day, span[0]), hours.zone)
        closes = first_instant(datetime.combine(day, span[1]), hours.zone)
        candidate = max(opens, moment)
        if candidate < closes:
            return candidate
    raise NoBusinessHours(f"no business hours within {MAX_SEARCH_DAYS} days of {moment:%Y-%m-%d}")


# --- quiet hours for calls and texts ----------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """The daily window, in `zone` wall time, in which calls and texts may go out."""

    start: time
    end: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise InvalidHours("quiet hours: the window ends at or before it starts")

    def as_hours(self) -> Hours:
        """The same window as Hours open every day, holidays included."""
        return Hours(self.zone, dict.fromkeys(range(7), (self.start, self.end)), frozenset())


def quiet_hours_from_settings(start: str, end: str, timezone: str) -> QuietHours:
    """QuietHours from the saved "HH:MM" settings and zone name."""
    return QuietHours(
        parse_clock(start, "quiet_start"), parse_clock(end, "quiet_end"), parse_zone(timezone)
    )


def recipient_zones(e164: str) -> list[ZoneInfo]:
    """Every zone the number's region may be in; empty when the region is unknown."""
    try:
        number = parse(e164, None)
    except NumberParseException:
        return []
    zones = []
    for name in time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # "Etc/Unknown"
    return zones


def next_allowed_contact(
    moment: datetime, dealership_quiet: QuietHours, recipient_zones: Sequence[ZoneInfo]
) -> datetime:
    """The earliest UTC moment at or after `moment` inside every window that applies.

    Each window's next opening is a lower bound for all of them; jump to the latest such bound
    until every window agrees.
    """
    zones = {zone.key: zone for zone in recipient_zones or [dealership_quiet.zone]}
    windows = [dealership_quiet.as_hours()] + [
        QuietHours(RECIPIENT_EARLIEST, RECIPIENT_LATEST, zone).as_hours() for zone in zones.values()
    ]
    start = candidate = _utc(moment)
    while candidate - start <= CONTACT_SEARCH:
        latest = max(next_open(candidate, window) for window in windows)
        if latest == candidate:
            return candidate
        candidate = latest
    raise NoContactWindow(f"no moment suits the dealership and zones {sorted(zones)}")


# --- consent --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentFact:
    """One consent record as plain values: given, maybe expiring, maybe withdrawn."""

    channel: str
    kind: str  # "express" | "implied"
    given_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        """Given by `now`, not expired (expiry is exclusive), not withdrawn."""
        return (
            self.given_at <= now
            and (self.expires_at is None or now < self.expires_at)
            and (self.withdrawn_at is None or now < self.withdrawn_at)
        )


@dataclass(frozen=True)
class Decision:
    """Whether a message may go, and why, in words staff can read."""

    allowed: bool
    reason: str


def _check(regime: str, channel: str) -> None:
    if regime not in REGIMES:
        raise UnknownRegime(f"unknown compliance regime {regime!r} (CA or US)")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")


def _withdrawn(facts: Sequence[ConsentFact], now: datetime) -> bool:
    """A withdrawal not followed by fresh, still valid consent."""
    withdrawals = [f.withdrawn_at for f in facts if f.withdrawn_at and f.withdrawn_at <= now]
    if not withdrawals:
        return False
    last = max(withdrawals)
    return not any(f.valid_at(now) and f.given_at >= last for f in facts)


def _best(facts: Sequence[ConsentFact]) -> ConsentFact:
    """Express before implied; among implied, the one lasting longest."""
    far = datetime.max.replace(tzinfo=UTC)
    return max(facts, key=lambda f: (f.kind == "express", f.expires_at or far))


def _describe(fact: ConsentFact) -> str:
    until = f"until {fact.expires_at:%Y-%m-%d %H:%M} UTC" if fact.expires_at else "until withdrawn"
    return f"{fact.kind} consent {until}"


def opt_out_reason(
    channel: str, facts: Sequence[ConsentFact], *, now: datetime, suppressed: bool
) -> str:
    """Why the customer may not be reached on `channel` at all ("" when they have not opted
    out): an opt-out of the address, or consent withdrawn and not given again since. Person
    steps (a call, an e-mail to write) need no recorded consent, but this stops them too."""
    if suppressed:
        return f"opted out ({channel})"
    mine = [fact for fact in facts if fact.channel == channel]
    if _withdrawn(mine, _utc(now)):
        return f"consent withdrawn ({channel})"
    return ""


def consent_allows(
    regime: str,
    channel: str,
    facts: Sequence[ConsentFact],
    *,
    now: datetime,
    responding_to_inquiry: bool,
    suppressed: bool,
) -> Decision:
    """Whether an e-mail, text or call may go to this customer now under `regime`."""
    _check(regime, channel)
    now = _utc(now)
    refusal = opt_out_reason(channel, facts, now=now, suppressed=suppressed)
    if refusal:
        return Decision(False, refusal)
    mine = [fact for fact in facts if fact.channel == channel]
    if channel == "call":
        return Decision(True, "calls by staff need no recorded consent; opt-outs honoured")
    if regime == "US" and channel == "email":
        return Decision(True, "CAN-SPAM: e-mail allowed until the customer opts out")
    accepted = ("express",) if regime == "US" else ("express", "implied")
    valid = [fact for fact in mine if fact.kind in accepted and fact.valid_at(now)]
    if valid:
        return Decision(True, _describe(_best(valid)))
    if responding_to_inquiry:
        return Decision(True, "answers the customer's own inquiry")
    if regime == "US":
        return Decision(False, "TCPA: automatic texts need express written consent")
    return Decision(False, f"CASL: no valid express or implied consent ({channel})")


def responds_to_inquiry(
    channel: str, *, inquiry_channel: str, inquiry_at: datetime, now: datetime
) -> bool:
    """Within 24 h of the customer's inquiry; a text answers only a text the customer sent."""
    if not inquiry_at <= now < inquiry_at + INQUIRY_RESPONSE_WINDOW:
        return False
    return channel != "sms" or inquiry_channel == "sms"


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, the day clamped to the month's end (Aug 31 + 6 = Feb 28/29)."""
    years, month_index = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + years, month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def implied_consent_expiry(regime: str, basis: str, at: datetime) -> datetime | None:
    """CASL: an inquiry implies consent for 6 months, a purchase for 2 years; US: no expiry."""
    if regime not in REGIMES:
        raise UnknownRegime(f"unknown compliance regime {regime!r} (CA or US)")
    if basis not in IMPLIED_CONSENT_MONTHS:
        raise ValueError(f"unknown basis {basis!r} (inquiry or purchase)")
    if regime == "US":
        return None
    return add_months(_utc(at), IMPLIED_CONSENT_MONTHS[basis])


# --- SMS keywords ---------------------------------------------------------------------------


def sms_keyword(body: str) -> str:
    """The message reduced to one upper-case word: no accents, punctuation, symbols or spaces."""
    decomposed = unicodedata.normalize("NFKD", body or "").casefold()
    kept = "".join(char for char in decomposed if char.isalnum() or char.isspace())
    return "".join(kept.split()).upper()


def classify_sms_keyword(body: str) -> Literal["opt_out", "opt_in"] | None:
    """Classify a message that is one keyword as "opt_out" or "opt_in"; anything else is None."""
    word = sms_keyword(body)
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None
