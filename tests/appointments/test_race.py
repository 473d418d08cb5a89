"""Bookings racing for one slot, as concurrent requests against a live server: exactly one
wins. Run with TEST_DATABASE_URL for PostgreSQL (row locks); SQLite serialises writers."""

from __future__ import annotations

import re
import threading

import requests
from appointments.helpers import local, next_weekday
from builders import ingest
from support import serve

from dealer_leads.api.services import create_api_key
from dealer_leads.appointments import notify
from dealer_leads.appointments.models import Appointment
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

RACERS = 8


def _race(calls) -> list[int]:
    """Start every call at the same moment; their status codes."""
    barrier = threading.Barrier(len(calls))
    codes: list[int] = []

    def run(call):
        barrier.wait()
        codes.append(call().status_code)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes


def _leads(advisor, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        lead = db.session.get(Lead, ingest().lead_id)
        lead.assigned_to_id = advisor.id
        ids.append(lead.id)
    db.session.commit()
    return ids


def test_api_bookings_racing_for_one_slot(app, advisor):
    lead_ids = _leads(advisor, RACERS)
    _, secret = create_api_key("race", ["leads", "leads:read"])
    starts = local(next_weekday(days=2), 10, 30).isoformat()
    body = {"advisor_email": advisor.email, "starts_at": starts, "duration_minutes": 60}
    db.session.commit()
    db.session.close()  # SQLite: the live server's requests write
    with serve(app) as base:
        codes = _race(
            [
                (
                    lambda lead_id=lead_id: requests.post(
                        f"{base}/api/v1/leads/{lead_id}/appointments",
                        json=body,
                        headers={"Authorization": f"Bearer {secret}"},
                        timeout=60,
                    )
                )
                for lead_id in lead_ids
            ]
        )
    assert sorted(codes) == [201] + [409] * (RACERS - 1), codes
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 1


def test_two_customers_choosing_one_slot(app, advisor):
    lead_ids = _leads(advisor, 2)
    links = [notify.booking_url(lead_id, now_utc()) for lead_id in lead_ids]
    db.session.commit()
    db.session.close()
    with serve(app) as base:
        paths = [re.sub(r"^https?://[^/]+", base, link) for link in links]
        page = requests.get(paths[0], timeout=30).text
        slot = re.search(r'data-slot="([^"]+)"', page).group(1)
        codes = _race(
            [
                (lambda path=path: requests.post(path, data={"starts_at": slot}, timeout=60))
                for path in paths
            ]
        )
    assert sorted(codes) == [200, 409], codes
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 1
