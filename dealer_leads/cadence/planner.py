"""Expand a plan's steps into due times. Pure: no database, the clock and hours passed in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class StepSpec:
    """The parts of a plan step that decide when and how it happens."""

    position: int
    offset_minutes: int
    channel: str
    offset_from: str = "arrival"
    business_hours: bool = False
    template_key: str = ""
    title: str = ""
    step_id: int | None = None


@dataclass(frozen=True)
class PlannedTouch:
    step: StepSpec
    due_at: datetime


def add_offset(moment: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """Whole days keep the local clock time across a DST change (a day-1 call at 10:00 stays at
    10:00); shorter offsets are elapsed time (a 5-minute call is 5 minutes later)."""
    if minutes and minutes % MINUTES_PER_DAY == 0:
        wall = moment.astimezone(zone).replace(tzinfo=None) + timedelta(minutes=minutes)
        # A wall time in a spring-forward gap resolves forward by the gap, as clocks do.
        return wall.replace(tzinfo=zone).astimezone(UTC)
    return (moment + timedelta(minutes=minutes)).astimezone(UTC)


def expand_plan(
    steps: Iterable[StepSpec],
    anchor: datetime,
    zone: ZoneInfo,
    open_at: Callable[[datetime], datetime] | None = None,
    *,
    not_before: datetime | None = None,
) -> list[PlannedTouch]:
    """Due times for each step, in order. `open_at` moves a business-hours step to the next
    opening; steps whose time would fall before `not_before` (e.g. an appointment reminder
    for an appointment booked at short notice) are left out."""
    planned, previous = [], anchor
    for step in sorted(steps, key=lambda s: s.position):
        base = anchor if step.offset_from == "arrival" else previous
        due = add_offset(base, step.offset_minutes, zone)
        if step.business_hours and open_at is not None:
            due = open_at(due)
        previous = due
        if not_before is not None and due < not_before:
            continue
        planned.append(PlannedTouch(step, due))
    return planned
