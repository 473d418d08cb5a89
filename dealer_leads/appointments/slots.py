"""When an appointment may be: in the future, inside showroom hours, clear of the advisor's
other visits; and the open slots a customer may choose. Pure: hours, clock and busy times in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dealer_leads.messaging.compliance import Hours, first_instant

Span = tuple[datetime, datetime]


class SlotProblem(ValueError):
    """A time that cannot be booked; `field` names the input at fault and `code` the reason."""

    def __init__(self, code: str, message: str, field: str = "starts_at"):
        super().__init__(message)
        self.code, self.field = code, field


def overlaps(a: Span, b: Span) -> bool:
    """Half-open spans: a visit ending at 10:00 leaves 10:00 free for the next."""
    return a[0] < b[1] and b[0] < a[1]


def opening_on(day: date, hours: Hours) -> Span | None:
    """That day's opening and closing instants (UTC), or None when the showroom is closed."""
    span = None if day in hours.holidays else hours.weekly.get(day.weekday())
    if span is None:
        return None
    opens = first_instant(datetime.combine(day, span[0]), hours.zone)
    closes = first_instant(datetime.combine(day, span[1]), hours.zone)
    return opens, closes


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time; SlotProblem when the clocks skip it (spring forward).

    An ambiguous wall time (autumn) is its first occurrence, as people mean it."""
    instant = datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != datetime.combine(day, clock):
        raise SlotProblem(
            "no_such_time",
            f"{clock:%H:%M} does not exist on {day:%Y-%m-%d}: the clocks go forward then",
        )
    return instant


def _describe_hours(day: date, hours: Hours) -> str:
    span = None if day in hours.holidays else hours.weekly.get(day.weekday())
    if span is None:
        return f"the showroom is closed on {day:%A %B} {day.day}"
    return f"the showroom is open {span[0]:%H:%M}-{span[1]:%H:%M} on {day:%A}s"


def check_slot(
    starts: datetime, ends: datetime, now: datetime, hours: Hours, busy: Iterable[Span] = ()
) -> None:
    """Raise SlotProblem when the visit is in the past, outside hours, or overlaps `busy`."""
    if ends <= starts:
        raise SlotProblem("invalid_duration", "the visit must end after it starts", "duration")
    if starts < now:
        raise SlotProblem("in_the_past", "that time is in the past: choose a time from now on")
    day = starts.astimezone(hours.zone).date()
    opening = opening_on(day, hours)
    if opening is None or not (opening[0] <= starts and ends <= opening[1]):
        local = starts.astimezone(hours.zone)
        raise SlotProblem(
            "outside_hours",
            f"{local:%H:%M} for {int((ends - starts).total_seconds() // 60)} minutes is outside "
            f"showroom hours: {_describe_hours(day, hours)}",
        )
    for span in busy:
        if overlaps((starts, ends), span):
            local = span[0].astimezone(hours.zone)
            raise SlotProblem(
                "slot_taken",
                f"the advisor already has a visit at {local:%H:%M} on {local:%b} {local.day}: "
                "choose another time",
            )


def open_slots(
    hours: Hours,
    now: datetime,
    busy: Sequence[Span],
    *,
    days: int,
    duration: timedelta,
    step: timedelta = timedelta(minutes=30),
    notice: timedelta = timedelta(hours=1),
) -> list[datetime]:
    """Start times over the next `days` days that are inside hours, at least `notice` ahead,
    and clear of `busy`; on the step grid from each day's opening."""
    earliest = now + notice
    first_day = now.astimezone(hours.zone).date()
    found = []
    ordered = sorted(busy)
    for offset in range(days + 1):
        opening = opening_on(first_day + timedelta(days=offset), hours)
        if opening is None:
            continue
        start = opening[0]
        while start + duration <= opening[1]:
            if start >= earliest and not any(
                overlaps((start, start + duration), span) for span in ordered
            ):
                found.append(start)
            start += step
    return found
