"""Demo objectives for `flask demo seed`."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select

from dealer_leads.admin.services import dealership_zone
from dealer_leads.extensions import db
from dealer_leads.reports.models import Objective
from dealer_leads.reports.queries import list_advisors

# Per advisor: appointments, shows, sales a month (a typical internet sales desk's goals).
ADVISOR_GOALS = {"appointments": (18, 26), "shows": (11, 16), "sales": (5, 9)}


def seed_objectives(rng: random.Random, now: datetime) -> None:
    """This month's goals, in total and per advisor."""
    month = f"{now.astimezone(dealership_zone()):%Y-%m}"
    if db.session.scalar(select(Objective.id).where(Objective.month == month).limit(1)):
        return  # goals the supervisor set are kept
    advisors = list_advisors()
    for metric, (low, high) in ADVISOR_GOALS.items():
        targets = {advisor_id: rng.randint(low, high) for advisor_id, _name in advisors}
        for advisor_id, target in targets.items():
            db.session.add(
                Objective(month=month, metric=metric, advisor_id=advisor_id, target=target)
            )
        db.session.add(
            Objective(month=month, metric=metric, advisor_id=None, target=sum(targets.values()))
        )
    db.session.commit()
