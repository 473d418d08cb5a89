"""Demo feed consumers and promotions for `flask demo seed`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from dealer_leads.extensions import db
from dealer_leads.inventory.feed_tokens import create_consumer
from dealer_leads.inventory.models import IN_STOCK_STATUSES, Vehicle
from dealer_leads.inventory.promotions import create_promotion

CONSUMERS = ("Dealer web site", "Google vehicle listings", "Meta catalog")


def _busiest_new_make() -> str:
    """The make with the most new vehicles in stock ('' when there are none)."""
    count = func.count(Vehicle.id)
    query = (
        select(Vehicle.make)
        .where(Vehicle.status.in_(IN_STOCK_STATUSES), Vehicle.condition == "new")
        .where(Vehicle.make != "")
        .group_by(Vehicle.make)
        .order_by(count.desc(), Vehicle.make)
        .limit(1)
    )
    return db.session.scalar(query) or ""


def seed_feeds(rng: random.Random, now: datetime) -> None:
    """A feed token per consumer and a running promotion."""
    for name in CONSUMERS:
        create_consumer(name)  # the demo never shows the tokens: `flask feeds token` makes more
    make = _busiest_new_make()
    started = now - timedelta(days=rng.randint(2, 6))
    create_promotion(
        {
            "name": f"{make or 'New vehicle'} year-end event",
            "text": f"Year-end event: $1,500 off every new {make or 'vehicle'} in stock.",
            "discount_amount": "1500",
            "starts_at": started,
            "ends_at": now + timedelta(days=rng.randint(8, 20)),
            "make": make,
            "condition": "new",
        }
    )
    create_promotion(
        {
            "name": "Certified pre-owned weekend",
            "text": "Certified pre-owned weekend: 3% off, first oil change free.",
            "discount_percent": "3",
            "starts_at": now + timedelta(days=3),
            "ends_at": now + timedelta(days=6),
            "condition": "certified",
        }
    )
