"""A small fixed data set whose every dashboard figure is worked out by hand in the tests.

The dealership is in Toronto (EDT, UTC-4, in June 2026), open Monday to Friday 09:00-17:00.
The range is Monday June 1 to Sunday June 7, 2026. Local times below; see test_figures.py for
the arithmetic.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from dealer_leads.admin.models import Dealership
from dealer_leads.appointments.models import Appointment
from dealer_leads.cadence.models import Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent

ZONE = ZoneInfo("America/Toronto")
HOURS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
HOURS |= {"sat": None, "sun": None}
_uids = count(1)


def local(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """An aware time in the dealership's zone (June 2026 unless told)."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def add_lead(name: str, **values) -> Lead:
    first, last = name.split()
    customer = Customer(first_name=first, last_name=last, email=f"{first.lower()}@example.com")
    values.setdefault("channel", "api")
    values.setdefault("department", "sales")
    lead = Lead(customer=customer, last_activity_at=values["received_at"], **values)
    db.session.add(lead)
    db.session.flush()
    return lead


def add_appointment(lead: Lead, advisor, status: str, starts_at, created_at) -> Appointment:
    appointment = Appointment(
        lead_id=lead.id,
        advisor_id=advisor.id,
        starts_at=starts_at,
        ends_at=starts_at,
        status=status,
        uid=f"appt-{next(_uids)}@test",
        created_at=created_at,
        updated_at=created_at,
    )
    db.session.add(appointment)
    return appointment


def add_touch(lead: Lead, channel: str, status: str, due_at, finished_at=None, by=None, owner=None):
    db.session.add(
        Touch(
            lead_id=lead.id,
            channel=channel,
            status=status,
            due_at=due_at,
            finished_at=finished_at,
            finished_by_id=by.id if by else None,
            assigned_to_id=owner.id if owner else None,
            title=channel,
        )
    )


def add_status(lead: Lead, new: str, at) -> None:
    db.session.add(
        LeadEvent(lead_id=lead.id, kind="status", at=at, summary=f"→ {new}", data={"new": new})
    )


@pytest.fixture
def fixed_data(app, make_user):
    """The hand-counted data set; returns the people and leads by name."""
    db.session.add(Dealership(name="Test Motors", timezone="America/Toronto", business_hours=HOURS))
    ana = make_user("advisor", name="Ana Advisor")
    ben = make_user("advisor", name="Ben Advisor")
    boss = make_user("supervisor", name="Sam Supervisor")
    leads = {}
    leads["L1"] = add_lead(
        "Olga One",
        source="Autotrader",
        latest_source="",
        assigned_to_id=ana.id,
        status="contacted",
        received_at=local(1, 10),
        first_response_at=local(1, 10, 4),
    )
    leads["L2"] = add_lead(
        "Tom Two",
        source="Autotrader",
        latest_source="Cars.com",
        assigned_to_id=ana.id,
        status="sold",
        received_at=local(1, 10),
        first_response_at=None,
    )
    leads["L3"] = add_lead(
        "Tia Three",
        source="Cars.com",
        latest_source="Cars.com",
        assigned_to_id=ben.id,
        status="lost",
        received_at=local(1, 16, 50),
        first_response_at=local(2, 9, 10),
    )
    leads["L4"] = add_lead(
        "Fay Four",
        source="Cars.com",
        latest_source="",
        assigned_to_id=ben.id,
        status="new",
        received_at=local(6, 11),
        first_response_at=None,
    )
    leads["L5"] = add_lead(
        "Finn Five",
        source="Website",
        latest_source="Website",
        assigned_to_id=None,
        status="appointment",
        received_at=local(3, 9),
        first_response_at=local(3, 9, 45),
    )
    leads["L6"] = add_lead(  # merged into L5: counted as L5
        "Finn Five",
        source="Website",
        latest_source="Website",
        assigned_to_id=None,
        status="new",
        received_at=local(3, 8),
        merged_into_id=leads["L5"].id,
    )
    leads["L7"] = add_lead(  # a service lead: not a sales lead
        "Sid Seven",
        source="Website",
        department="service",
        status="new",
        received_at=local(1, 10, 30),
    )
    leads["L8"] = add_lead(  # Sunday May 31, 23:00 local = June 1, 03:00 UTC: before the range
        "Eve Eight",
        source="Website",
        status="new",
        received_at=local(31, 23, month=5),
    )
    leads["L9"] = add_lead(  # a May lead sold in June: a sale of the month, not a lead of the range
        "Nia Nine",
        source="KBB",
        assigned_to_id=ben.id,
        status="sold",
        received_at=local(20, 12, month=5),
        first_response_at=local(20, 12, 30, month=5),
    )
    # Touches: L2's call task done by Ana 12 minutes in (its first human response); L3's done
    # late by Ben; L4's still open (missed); L4's automatic e-mail does not count as a response.
    add_touch(leads["L2"], "call_task", "done", local(1, 10, 5), local(1, 10, 12), ana, ana)
    add_touch(leads["L3"], "call_task", "done", local(1, 16, 55), local(2, 9, 10), ben, ben)
    add_touch(leads["L4"], "call_task", "open", local(6, 11, 5), owner=ben)
    # A task nobody was given: it counts for the lead's advisor (Ana), and is no response.
    add_touch(leads["L1"], "task", "done", local(1, 11), local(1, 11, 30), ana)
    add_touch(leads["L4"], "auto_email", "sent", local(6, 11), local(6, 11, 0))
    # Appointments: created, starting, status.
    add_appointment(leads["L1"], ana, "shown", local(4, 11), local(1, 10, 30))
    add_appointment(leads["L2"], ana, "sold", local(5, 14), local(2, 9, 30))
    add_appointment(leads["L5"], ben, "no_show", local(4, 15), local(3, 10))
    # Booked May 31, 20:00 local (June 1, 00:00 UTC): a May appointment for the objectives.
    add_appointment(leads["L6"], ben, "shown", local(2, 12), local(31, 20, month=5))
    add_status(leads["L2"], "sold", local(5, 15))
    add_status(leads["L3"], "lost", local(3, 12))
    add_status(leads["L9"], "sold", local(10, 12))
    db.session.commit()
    return {"ana": ana, "ben": ben, "boss": boss, **leads}


@pytest.fixture
def report_now() -> datetime:
    """The moment the reports are read: Wednesday June 10, 18:00 local."""
    return local(10, 18)
