"""Speed to lead: pure arithmetic on (received, first human response) pairs.

Median: the middle value (the mean of the two middle ones for an even count). 90th percentile:
nearest rank, the smallest value that at least 90% of the values do not exceed. Both over
answered leads only; the "within N minutes" shares count every lead, unanswered ones as not
within.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from dealer_leads.messaging.compliance import Hours, first_instant

WITHIN_MINUTES = (5, 15, 60)
MAX_BUSINESS_DAYS = 400  # a lead answered later than this is counted up to it


def median(values: Sequence[float]) -> float | None:
    """The middle value; the mean of the two middle ones for an even count; None when empty."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `share` of the values <= it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


QUARTER_HOUR = 900
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class LocalTime:
    """Local days and hours of instants given as epoch seconds, with one time-zone look-up per
    quarter hour instead of one per instant (offsets change only on quarter hours)."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self._offsets: dict[int, float] = {}

    def wall_seconds(self, instant: float) -> float:
        """Seconds since 1970-01-01 00:00 on the local wall clock."""
        bucket = int(instant // QUARTER_HOUR)
        offset = self._offsets.get(bucket)
        if offset is None:
            moment = datetime.fromtimestamp(bucket * QUARTER_HOUR, UTC).astimezone(self.zone)
            offset = self._offsets[bucket] = moment.utcoffset().total_seconds()
        return instant + offset

    def day_number(self, instant: float) -> int:
        """The local date as days since 1970-01-01."""
        return int(self.wall_seconds(instant) // 86400)

    def hour(self, instant: float) -> int:
        """The local hour of the day, 0-23."""
        return int(self.wall_seconds(instant) // 3600) % 24


class BusinessClock:
    """Seconds of business hours between two instants (epoch seconds), each day's opening
    and closing instants worked out once."""

    def __init__(self, hours: Hours):
        self.hours = hours
        self.local = LocalTime(hours.zone)
        self._days: dict[int, tuple[float, float] | None] = {}

    def _open_span(self, day_number: int) -> tuple[float, float] | None:
        if day_number not in self._days:
            day = date.fromordinal(_EPOCH_ORDINAL + day_number)
            span = None if day in self.hours.holidays else self.hours.weekly.get(day.weekday())
            if span is not None:
                zone = self.hours.zone
                span = (
                    first_instant(datetime.combine(day, span[0]), zone).timestamp(),
                    first_instant(datetime.combine(day, span[1]), zone).timestamp(),
                )
            self._days[day_number] = span
        return self._days[day_number]

    def seconds(self, start: float, end: float) -> float:
        """Business-hours seconds in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        day, last = self.local.day_number(start), self.local.day_number(end)
        total = 0.0
        for number in range(day, min(last, day + MAX_BUSINESS_DAYS) + 1):
            span = self._open_span(number)
            if span is not None:
                total += max(0.0, min(end, span[1]) - max(start, span[0]))
        return total


@dataclass(frozen=True)
class Response:
    """One lead's clock: when it arrived, when a person first answered (None: never), as
    epoch seconds, and the minutes in between, elapsed and in business hours (worked out
    once, grouped many ways)."""

    lead_id: int
    received_at: float
    responded_at: float | None
    raw_minutes: float | None = None
    business_minutes: float | None = None


def response(
    lead_id: int, received_at: float, responded_at: float | None, clock: BusinessClock
) -> Response:
    """A Response with its minutes worked out."""
    if responded_at is None:
        return Response(lead_id, received_at, None)
    raw = max(0.0, responded_at - received_at) / 60
    business = clock.seconds(received_at, responded_at) / 60
    return Response(lead_id, received_at, responded_at, raw, business)


@dataclass(frozen=True)
class SpeedRow:
    """Speed to lead for one group (a source, an advisor, an hour of the day, or everyone)."""

    label: str
    leads: int
    answered: int
    median_minutes: float | None
    p90_minutes: float | None
    median_business_minutes: float | None
    p90_business_minutes: float | None
    within: dict[int, float | None]  # minutes → share of all the group's leads answered by then

    @property
    def unanswered(self) -> int:
        return self.leads - self.answered


def speed_row(label: str, responses: Iterable[Response]) -> SpeedRow:
    """The figures for one group of leads."""
    responses = list(responses)
    raw = [r.raw_minutes for r in responses if r.responded_at is not None]
    business = [r.business_minutes for r in responses if r.responded_at is not None]
    within = {
        limit: (sum(1 for m in raw if m <= limit) / len(responses)) if responses else None
        for limit in WITHIN_MINUTES
    }
    return SpeedRow(
        label=label,
        leads=len(responses),
        answered=len(raw),
        median_minutes=median(raw),
        p90_minutes=percentile(raw, 0.9),
        median_business_minutes=median(business),
        p90_business_minutes=percentile(business, 0.9),
        within=within,
    )


def grouped(
    responses: Iterable[Response],
    key: Callable[[Response], Hashable],
    label: Callable[[Hashable], str],
) -> list[SpeedRow]:
    """One SpeedRow per key, in key order."""
    groups: dict[Hashable, list[Response]] = defaultdict(list)
    for each in responses:
        groups[key(each)].append(each)
    return [speed_row(label(k), groups[k]) for k in sorted(groups, key=_sort_key)]


def _sort_key(value: Hashable) -> tuple:
    return (0, value) if isinstance(value, int) else (1, str(value).lower())
