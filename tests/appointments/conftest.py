"""Appointment fixtures: a dealership open every day, the shipped plans, an advisor, a lead
with a stock vehicle, and a fake mail sender; times built in the dealership's zone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from appointments.helpers import EVERY_DAY, FakeMail
from builders import ingest, lead_json

from dealer_leads.admin.models import Dealership
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Lead


@pytest.fixture
def dealership(app):
    """Open 9-21 Monday to Saturday, closed Sundays, in Toronto."""
    place = Dealership(
        name="Maple Ridge Motors",
        street="1200 Lakeshore Blvd W",
        city="Toronto",
        region="ON",
        postal_code="M6K 1A1",
        phone="+14165550100",
        email="sales@mapleridge.example",
        timezone="America/Toronto",
        business_hours={**EVERY_DAY, "sun": None},
        department_emails={},
        holidays=[],
    )
    db.session.add(place)
    ensure_default_plans()
    db.session.commit()
    return place


@pytest.fixture
def advisor(make_user, dealership):
    return make_user("advisor", name="Ana Advisor", email="ana@mapleridge.example")


@pytest.fixture
def vehicle(app):
    car = Vehicle(
        vin="7FARS6H80SE012345",
        stock_number="H2519",
        year=2025,
        make="Honda",
        model="CR-V",
        trim="EX-L",
        condition="new",
        price=Decimal("44995.00"),
        status="available",
    )
    db.session.add(car)
    db.session.commit()
    return car


@pytest.fixture
def lead(advisor) -> Lead:
    """A lead assigned to the advisor, received a few days ago."""
    result = ingest(lead_json(), now=now_utc() - timedelta(days=3))
    found = db.session.get(Lead, result.lead_id)
    found.assigned_to_id = advisor.id
    db.session.commit()
    return found


@pytest.fixture
def mail():
    return FakeMail()
