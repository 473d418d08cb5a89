"""`flask demo seed` gives every advisor a realistic board: today, this week, and the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

from dealer_leads.admin.services import dealership_zone
from dealer_leads.appointments.board import day_bounds, week_bounds
from dealer_leads.appointments.models import ACTIVE_STATUSES, Appointment
from dealer_leads.appointments.slots import overlaps
from dealer_leads.auth.models import User
from dealer_leads.demo.seed import seed_demo
from dealer_leads.extensions import db

NOW = datetime(2026, 6, 3, 14, 30, tzinfo=UTC)  # a Wednesday, 10:30 in Toronto


def test_demo_appointments(app):
    seed_demo(now=NOW, echo=lambda line: None)
    appointments = db.session.scalars(db.select(Appointment)).all()
    advisors = db.session.scalars(db.select(User).where(User.role == "advisor")).all()
    today = day_bounds(NOW.astimezone(dealership_zone()).date())
    week = week_bounds(today[0].date())
    for advisor in advisors:
        mine = [a for a in appointments if a.advisor_id == advisor.id]
        assert any(today[0] <= a.starts_at < today[1] for a in mine), advisor.name
        active = [a for a in mine if a.status in ACTIVE_STATUSES]
        for first, second in combinations(active, 2):
            assert not overlaps(
                (first.starts_at, first.ends_at), (second.starts_at, second.ends_at)
            )
    statuses = {a.status for a in appointments}
    assert {"shown", "sold", "booked"} <= statuses
    assert any(a.starts_at < NOW - timedelta(days=7) for a in appointments)
    assert any(week[0] <= a.starts_at < week[1] and a.starts_at > NOW for a in appointments)
    assert all(a.starts_at >= NOW for a in appointments if a.status in ACTIVE_STATUSES)
    assert len({a.uid for a in appointments}) == len(appointments)
