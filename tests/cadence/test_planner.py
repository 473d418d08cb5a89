"""Plan expansion: offsets in local wall-clock days across DST, business hours, anchors."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dealer_leads.cadence.planner import StepSpec, add_offset, expand_plan

TORONTO = ZoneInfo("America/Toronto")
DAY = 24 * 60


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TORONTO).astimezone(UTC)


def test_whole_days_keep_local_time_across_spring_forward():
    saturday_10am = local(2026, 3, 7, 10, 0)  # DST starts Sunday 2026-03-08
    monday = add_offset(saturday_10am, 2 * DAY, TORONTO)
    assert monday.astimezone(TORONTO).hour == 10
    assert monday - saturday_10am == timedelta(hours=47)  # one hour fewer elapsed


def test_whole_days_keep_local_time_across_fall_back():
    saturday_10am = local(2026, 10, 31, 10, 0)  # DST ends Sunday 2026-11-01
    sunday = add_offset(saturday_10am, DAY, TORONTO)
    assert sunday.astimezone(TORONTO).hour == 10
    assert sunday - saturday_10am == timedelta(hours=25)


def test_minutes_are_elapsed_time_even_across_the_change():
    before_jump = local(2026, 3, 8, 1, 58)
    assert add_offset(before_jump, 5, TORONTO) - before_jump == timedelta(minutes=5)
    assert add_offset(before_jump, 5, TORONTO).astimezone(TORONTO).hour == 3  # 02:03 skipped


def test_a_day_offset_landing_in_the_gap_moves_forward():
    half_past_two = local(2026, 3, 7, 2, 30)
    due = add_offset(half_past_two, DAY, TORONTO).astimezone(TORONTO)
    assert (due.day, due.hour, due.minute) == (8, 3, 30)


def test_expand_plan_from_arrival_and_previous_with_business_hours():
    steps = [
        StepSpec(position=0, offset_minutes=0, channel="auto_email"),
        StepSpec(position=1, offset_minutes=5, channel="call_task", business_hours=True),
        StepSpec(position=2, offset_minutes=DAY, channel="call_task", offset_from="previous"),
    ]
    arrival = local(2026, 5, 1, 22, 0)  # Friday night, showroom closed

    def opens_9am(moment):
        local_time = moment.astimezone(TORONTO)
        if 9 <= local_time.hour < 21:
            return moment
        next_day = local_time + timedelta(days=1 if local_time.hour >= 21 else 0)
        return next_day.replace(hour=9, minute=0).astimezone(UTC)

    planned = expand_plan(steps, arrival, TORONTO, opens_9am)
    due = [p.due_at.astimezone(TORONTO) for p in planned]
    assert due[0] == arrival.astimezone(TORONTO)
    assert (due[1].day, due[1].hour) == (2, 9)  # the call waits for Saturday 9:00
    assert (due[2].day, due[2].hour) == (3, 9)  # a day after the previous step


def test_appointment_reminders_before_a_near_appointment_are_left_out():
    steps = [
        StepSpec(position=0, offset_minutes=-DAY, channel="auto_email"),
        StepSpec(position=1, offset_minutes=-120, channel="auto_sms"),
    ]
    now = local(2026, 6, 1, 9, 0)
    appointment = now + timedelta(hours=5)
    planned = expand_plan(steps, appointment, TORONTO, not_before=now)
    assert [p.step.channel for p in planned] == ["auto_sms"]
    assert planned[0].due_at == appointment - timedelta(hours=2)
