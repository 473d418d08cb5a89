"""Demo goals for `flask demo seed`."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from dealer_leads.extensions import db
from dealer_leads.reports.demo import seed_objectives
from dealer_leads.reports.models import Objective


def test_demo_goals_cover_the_team_and_each_advisor(app, make_user):
    advisors = [make_user("advisor"), make_user("advisor")]
    now = datetime(2026, 6, 10, 16, tzinfo=UTC)
    seed_objectives(random.Random(1), now)
    goals = db.session.scalars(db.select(Objective)).all()
    assert {g.month for g in goals} == {"2026-06"} and len(goals) == 9  # 3 metrics × 3
    for metric in ("appointments", "shows", "sales"):
        mine = [g.target for g in goals if g.metric == metric and g.advisor_id]
        team = [g.target for g in goals if g.metric == metric and g.advisor_id is None]
        assert len(mine) == len(advisors) and team == [sum(mine)]
    seed_objectives(random.Random(2), now)  # run again: the goals already set are kept
    assert len(db.session.scalars(db.select(Objective)).all()) == 9
