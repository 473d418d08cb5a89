"""Every dashboard figure on the fixed data set (tests/reports/conftest.py), counted by hand.

Sales leads received June 1-7 (local): L1-L5. L6 is merged into L5, L7 is a service lead, L8
arrived on May 31 local time (June 1 UTC), L9 in May: none of them is a lead of the range.

First human responses (minutes, elapsed / business hours Mon-Fri 09:00-17:00):
  L1 Mon 10:00 → call logged 10:04                    4 / 4
  L2 Mon 10:00 → call task done 10:12                12 / 12
  L3 Mon 16:50 → Tue 09:10                          980 / 20 (10 on Monday, 10 on Tuesday)
  L4 Sat 11:00 → never (the automatic e-mail does not count)
  L5 Wed 09:00 → 09:45                               45 / 45
"""

from __future__ import annotations

from datetime import date

import pytest

from dealer_leads.reports import services

START, END = date(2026, 6, 1), date(2026, 6, 7)


@pytest.fixture
def board(fixed_data, report_now):
    return services.get_dashboard(START, END, now=report_now)


def test_speed_to_lead_in_total(board):
    row = board.speed_total
    assert (row.leads, row.answered, row.unanswered) == (5, 4, 1)
    assert row.median_minutes == 28.5  # (12 + 45) / 2 of 4, 12, 45, 980
    assert row.p90_minutes == 980  # rank ceil(0.9 × 4) = 4
    assert row.median_business_minutes == 16  # (12 + 20) / 2 of 4, 12, 20, 45
    assert row.p90_business_minutes == 45
    assert row.within == {5: 1 / 5, 15: 2 / 5, 60: 3 / 5}


def test_speed_by_source(board):
    rows = {r.label: r for r in board.speed_by_source}
    assert list(rows) == ["Autotrader", "Cars.com", "Website"]
    auto, cars, web = rows["Autotrader"], rows["Cars.com"], rows["Website"]
    assert (auto.leads, auto.median_minutes, auto.p90_minutes) == (2, 8, 12)  # 4, 12
    assert auto.within == {5: 0.5, 15: 1.0, 60: 1.0}
    assert (cars.leads, cars.answered, cars.median_minutes, cars.p90_minutes) == (2, 1, 980, 980)
    assert (cars.median_business_minutes, cars.p90_business_minutes) == (20, 20)
    assert cars.within == {5: 0.0, 15: 0.0, 60: 0.0}
    assert (web.leads, web.median_minutes, web.within[15], web.within[60]) == (1, 45, 0.0, 1.0)


def test_speed_by_advisor_and_hour(board):
    advisors = {r.label: (r.leads, r.answered, r.median_minutes) for r in board.speed_by_advisor}
    assert advisors == {
        "Ana Advisor": (2, 2, 8),
        "Ben Advisor": (2, 1, 980),
        "Unassigned": (1, 1, 45),
    }
    hours = {r.label: (r.leads, r.median_minutes) for r in board.speed_by_hour}
    assert hours == {
        "09:00–09:59": (1, 45),
        "10:00–10:59": (2, 8),
        "11:00–11:59": (1, None),
        "16:00–16:59": (1, 980),
    }


def test_never_answered(board, fixed_data):
    assert [(u.lead_id, u.customer, u.advisor) for u in board.unanswered] == [
        (fixed_data["L4"].id, "Fay Four", "Ben Advisor")
    ]


def test_funnel(board):
    # L1 shown (appointment shown), L2 sold, L3 contacted (answered, then lost), L4 nothing,
    # L5 shown (its own appointment was a no-show; the one on merged L6 was shown).
    total = board.funnel_total
    assert total.counts == (5, 4, 3, 3, 1)
    assert [total.rate(s) for s in ("contacted", "appointment", "shown", "sold")] == [
        4 / 5,
        3 / 4,
        1.0,
        1 / 3,
    ]
    assert total.sold_of_leads == 1 / 5
    assert {r.label: r.counts for r in board.funnel_by_source} == {
        "Autotrader": (2, 2, 2, 2, 1),
        "Cars.com": (2, 1, 0, 0, 0),
        "Website": (1, 1, 1, 1, 0),
    }
    assert {r.label: r.counts for r in board.funnel_by_advisor} == {
        "Ana Advisor": (2, 2, 2, 2, 1),
        "Ben Advisor": (2, 1, 0, 0, 0),
        "Unassigned": (1, 1, 1, 1, 0),
    }


def test_first_and_last_touch(board):
    # L2 came first from Autotrader, last from Cars.com; L1 and L4 have no later inquiry.
    rows = {r.source: (r.first.counts, r.last.counts) for r in board.attribution}
    assert rows == {
        "Autotrader": ((2, 2, 2, 2, 1), (1, 1, 1, 1, 0)),
        "Cars.com": ((2, 1, 0, 0, 0), (3, 2, 1, 1, 1)),
        "Website": ((1, 1, 1, 1, 0), (1, 1, 1, 1, 0)),
    }


def test_missed_steps(board):
    rows = [(r.day, r.advisor, r.due, r.missed, r.late) for r in board.missed]
    assert rows == [
        (date(2026, 6, 1), "Ana Advisor", 2, 0, 0),  # L2's call task, L1's unassigned task
        (date(2026, 6, 1), "Ben Advisor", 1, 0, 1),  # done the next morning: late
        (date(2026, 6, 6), "Ben Advisor", 1, 1, 0),  # still open: missed
    ]


def test_month_progress(fixed_data):
    # Appointments booked in June: L1, L2 (Ana), L5 (Ben); L6's was booked on May 31 local.
    # Shows starting in June: L1, L2 (Ana), L6 (Ben). Sales: L2 (Ana), L9 (Ben, a May lead).
    ana, ben = fixed_data["ana"], fixed_data["ben"]
    services.save_objectives(
        fixed_data["boss"], date(2026, 6, 1), {("appointments", None): "10", ("sales", ana.id): "2"}
    )
    rows = {
        (p.metric, p.advisor_id): (p.actual, p.target)
        for p in services.month_progress(date(2026, 6, 1))
    }
    assert rows == {
        ("appointments", None): (3, 10),
        ("appointments", ana.id): (2, None),
        ("appointments", ben.id): (1, None),
        ("shows", None): (3, None),
        ("shows", ana.id): (2, None),
        ("shows", ben.id): (1, None),
        ("sales", None): (2, None),
        ("sales", ana.id): (1, 2),
        ("sales", ben.id): (1, None),
    }


def test_goals_on_pace(fixed_data):
    # June has 30 days; on June 10, 10 of them are gone: a steady month is a third through.
    services.save_objectives(
        fixed_data["boss"], date(2026, 6, 1), {("appointments", None): "10", ("shows", None): "12"}
    )
    goals = {
        p.metric: (p.actual, p.expected)
        for p in services.month_progress(date(2026, 6, 1), today=date(2026, 6, 10))
        if p.target
    }
    assert goals == {"appointments": (3, 3), "shows": (3, 4)}  # 10 / 3 = 3.3; 12 / 3 = 4
    assert services.month_elapsed(date(2026, 6, 1), date(2026, 5, 20)) == 0.0
    assert services.month_elapsed(date(2026, 6, 1), date(2026, 6, 30)) == 1.0
    assert services.month_elapsed(date(2026, 6, 1), date(2026, 8, 1)) == 1.0


def test_leads_outside_the_range_are_left_out(fixed_data, report_now):
    board = services.get_dashboard(date(2026, 6, 2), date(2026, 6, 2), now=report_now)
    assert board.speed_total.leads == 0 and board.funnel_total.counts == (0, 0, 0, 0, 0)
    board = services.get_dashboard(date(2026, 5, 31), date(2026, 5, 31), now=report_now)
    assert board.speed_total.leads == 1  # L8, Sunday evening local time


def test_missed_steps_match_the_missed_steps_page(fixed_data, report_now):
    from dealer_leads.cadence import task_services

    board = services.get_dashboard(date(2026, 5, 25), END, now=report_now)
    assert board.missed == task_services.missed_steps(date(2026, 5, 25), END, now=report_now)
