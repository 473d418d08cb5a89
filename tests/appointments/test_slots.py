"""The pure slot rules: past, hours, overlaps, open slots, and DST edges in Toronto."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from appointments.helpers import TORONTO, local

from dealer_leads.appointments.slots import (
    SlotProblem,
    check_slot,
    local_instant,
    open_slots,
    overlaps,
)
from dealer_leads.messaging.compliance import hours_from_settings

HOURS = hours_from_settings(
    "America/Toronto",
    {
        "mon": ["09:00", "18:00"],
        "tue": ["09:00", "18:00"],
        "sat": ["09:00", "17:00"],
        "sun": ["11:00", "16:00"],
    },
    ["2026-07-01"],
)
NOW = local(date(2026, 6, 1), 8)  # a Monday, before opening
HOUR = timedelta(hours=1)


def _problem(starts, ends=None, busy=()):
    with pytest.raises(SlotProblem) as refused:
        check_slot(starts, ends or starts + HOUR, NOW, HOURS, busy)
    return refused.value


def test_a_time_inside_hours_and_free_passes():
    check_slot(local(date(2026, 6, 1), 9), local(date(2026, 6, 1), 10), NOW, HOURS)


def test_the_past_is_refused():
    assert _problem(NOW - HOUR).code == "in_the_past"


def test_outside_hours_is_refused_with_the_hours():
    problem = _problem(local(date(2026, 6, 1), 17, 30))  # ends 18:30
    assert problem.code == "outside_hours" and "09:00-18:00 on Mondays" in str(problem)
    assert _problem(local(date(2026, 6, 3), 10)).code == "outside_hours"  # closed Wednesdays
    holiday = _problem(local(date(2026, 7, 1), 10))
    assert "closed on Wednesday July 1" in str(holiday)


def test_an_overlap_is_refused_but_back_to_back_is_not():
    taken = (local(date(2026, 6, 1), 10), local(date(2026, 6, 1), 11))
    assert _problem(local(date(2026, 6, 1), 10, 30), busy=[taken]).code == "slot_taken"
    check_slot(local(date(2026, 6, 1), 11), local(date(2026, 6, 1), 12), NOW, HOURS, [taken])
    assert overlaps(taken, (taken[0] - HOUR, taken[0] + timedelta(minutes=1)))
    assert not overlaps(taken, (taken[1], taken[1] + HOUR))


def test_a_visit_must_end_after_it_starts():
    starts = local(date(2026, 6, 1), 10)
    assert _problem(starts, starts).code == "invalid_duration"


def test_open_slots_skip_busy_closed_and_short_notice():
    busy = [(local(date(2026, 6, 1), 10), local(date(2026, 6, 1), 11))]
    slots = open_slots(HOURS, NOW, busy, days=2, duration=HOUR, notice=HOUR * 2)
    monday = [
        s.astimezone(TORONTO).strftime("%H:%M") for s in slots if s.astimezone(TORONTO).day == 1
    ]
    assert monday[:3] == ["11:00", "11:30", "12:00"]  # 9:00-10:00 too soon, 10:00-11:00 taken
    assert monday[-1] == "17:00"  # the last that ends by closing
    assert "09:30" not in monday and "10:30" not in monday
    assert {s.astimezone(TORONTO).date() for s in slots} == {date(2026, 6, 1), date(2026, 6, 2)}


def test_spring_forward_gap_does_not_exist_and_autumn_repeat_is_the_first():
    with pytest.raises(SlotProblem, match="does not exist"):
        local_instant(date(2026, 3, 8), time(2, 30), TORONTO)
    first = local_instant(date(2026, 11, 1), time(1, 30), TORONTO)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT, the first 1:30


def test_hours_follow_the_wall_clock_across_dst():
    # Sunday March 8 2026: clocks go forward at 2:00; the showroom opens 11:00 EDT (15:00 UTC).
    sunday = date(2026, 3, 8)
    before = local(date(2026, 3, 7), 8)
    slots = open_slots(HOURS, before, [], days=1, duration=HOUR, notice=HOUR)
    on_sunday = [s for s in slots if s.astimezone(TORONTO).date() == sunday]
    assert on_sunday[0] == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    saturday = [s for s in slots if s.astimezone(TORONTO).date() == date(2026, 3, 7)]
    assert saturday[0] == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # 9:00 EST
    # Sunday November 1 2026: back to EST; 11:00 is 16:00 UTC.
    autumn = open_slots(HOURS, local(date(2026, 10, 31), 18), [], days=1, duration=HOUR)
    assert autumn[0] == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
