"""Speed-to-lead arithmetic and the SVG charts, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dealer_leads.messaging.compliance import hours_from_settings
from dealer_leads.reports import charts, speed

ZONE = ZoneInfo("America/Toronto")
WEEKDAYS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def test_median_and_nearest_rank_percentile():
    assert speed.median([]) is None and speed.percentile([], 0.9) is None
    assert speed.median([7]) == 7 and speed.percentile([7], 0.9) == 7
    assert speed.median([4, 980, 12, 45]) == 28.5
    assert speed.percentile([4, 980, 12, 45], 0.9) == 980
    ten = list(range(1, 11))
    assert speed.percentile(ten, 0.9) == 9  # rank ceil(9.0) = 9
    assert speed.percentile(list(range(1, 12)), 0.9) == 10  # rank ceil(9.9) = 10


def test_business_minutes_skip_nights_weekends_and_holidays():
    clock = speed.BusinessClock(hours_from_settings("America/Toronto", WEEKDAYS, ["2026-06-08"]))
    minutes = lambda a, b: clock.seconds(a.timestamp(), b.timestamp()) / 60  # noqa: E731
    assert minutes(at(6, 1, 10), at(6, 1, 10, 4)) == 4
    assert minutes(at(6, 1, 16, 50), at(6, 2, 9, 10)) == 20
    assert minutes(at(6, 1, 7), at(6, 1, 8)) == 0  # before opening
    # Friday 16:00 → Tuesday 10:00 with Monday a holiday: 60 + 60.
    assert minutes(at(6, 5, 16), at(6, 9, 10)) == 120
    assert minutes(at(6, 6, 11), at(6, 6, 12)) == 0  # Saturday: closed
    assert minutes(at(6, 2, 12), at(6, 2, 11)) == 0  # answered "before" arrival: nothing


def test_business_minutes_across_the_spring_change():
    # Sunday March 8, 2026 02:00 EST → 03:00 EDT; open every day 01:00-05:00: 3 real hours.
    hours = hours_from_settings("America/Toronto", dict.fromkeys(WEEKDAYS, ["01:00", "05:00"])
                                | {"sun": ["01:00", "05:00"]}, [])  # fmt: skip
    clock = speed.BusinessClock(hours)
    start = datetime(2026, 3, 8, 5, 0, tzinfo=UTC).timestamp()  # 00:00 EST
    assert clock.seconds(start, start + 12 * 3600) == 3 * 3600


def test_local_days_and_hours_follow_the_clock_changes():
    local = speed.LocalTime(ZONE)
    before = datetime(2026, 11, 1, 5, 30, tzinfo=UTC).timestamp()  # 01:30 EDT
    after = datetime(2026, 11, 1, 6, 30, tzinfo=UTC).timestamp()  # 01:30 EST, an hour later
    assert local.hour(before) == local.hour(after) == 1
    assert local.day_number(before) == local.day_number(after)
    midnight = datetime(2026, 11, 2, 5, 0, tzinfo=UTC).timestamp()  # 00:00 EST, November 2
    assert local.day_number(midnight) - local.day_number(midnight - 1) == 1
    assert local.hour(midnight) == 0 and local.hour(midnight - 1) == 23


def test_speed_row_counts_unanswered_leads_as_not_within():
    clock = speed.BusinessClock(hours_from_settings("UTC", WEEKDAYS, []))
    base = datetime(2026, 6, 1, 9, tzinfo=UTC).timestamp()
    responses = [
        speed.response(1, base, base + 3 * 60, clock),
        speed.response(2, base, base + 30 * 60, clock),
        speed.response(3, base, None, clock),
    ]
    row = speed.speed_row("All", responses)
    assert (row.leads, row.answered, row.unanswered) == (3, 2, 1)
    assert row.within == {5: 1 / 3, 15: 1 / 3, 60: 2 / 3}
    assert row.median_business_minutes == 16.5  # 09:00 is opening time: 3 and 30
    assert speed.speed_row("None", []).within == {5: None, 15: None, 60: None}


def test_charts_are_plain_svg_with_escaped_labels():
    svg = str(charts.bar_chart([("<b>x</b>", 3.0), ("Empty", None)], title="T & U"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&gt;x&lt;/b&gt;" in svg and "T &amp; U" in svg and "—" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    column = str(charts.column_chart([("00", 5.0), ("01", None)], title="By hour"))
    assert column.count("<rect") == 1
    assert str(charts.progress_bar(3, 10, label="Goal")).count("<rect") == 2
    assert str(charts.progress_bar(3, None, label="Goal")) == ""
