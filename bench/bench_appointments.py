"""Appointments: the advisor's board and the calendar feed, on a realistic database.

Board: GET /appointments (the advisor's day) with 50 appointments today, each with a stock
vehicle and its hero photo, on a database of 100,000 leads, against the same board on a
database of 1,000 leads (the baseline: the page's own cost). Target: median <= 100 ms.

Feed: GET /calendar/<token>.ics for an advisor with 1,000 appointments, against the same feed
with 10 (the baseline); and the .ics writer alone against icalendar's own serialiser for the
same 1,000 events. Target: median <= 200 ms.

    .venv/bin/python -m bench.bench_appointments [--no-postgres] [--leads 100000] [--requests 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal

from flask_login import FlaskLoginClient
from sqlalchemy import func, insert, select

from bench.bench_app import create_bench_app, postgres_available, temporary_database
from bench.bench_triage import fill
from dealer_leads.admin.services import dealership_zone
from dealer_leads.appointments.board import day_bounds
from dealer_leads.appointments.calendar import invitation
from dealer_leads.appointments.models import Appointment, AppointmentVehicle
from dealer_leads.appointments.notify import calendar_event
from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.leads.models import Lead

BOARD_TARGET_MS = 100.0
FEED_TARGET_MS = 200.0
TODAY = 50
FEED = 1000
BOARD_ADVISOR, FEED_ADVISOR, SMALL_FEED_ADVISOR = 2, 3, 4


def _photo(vehicle_id: int) -> dict:
    sizes = {"thumb": 320, "medium": 800, "large": 1600}
    derivatives = {
        f"{kind}.{fmt}": {
            "file": f"{vehicle_id:05d}-{kind}.{fmt}",
            "width": w,
            "height": w * 3 // 4,
        }
        for kind, w in sizes.items()
        for fmt in ("jpeg", "webp")
    }
    return {
        "vehicle_id": vehicle_id,
        "position": 0,
        "original_path": f"originals/{vehicle_id}.jpg",
        "original_sha256": uuid.uuid4().hex * 2,
        "status": "ready",
        "derivatives": derivatives,
    }


def add_appointments() -> None:
    """50 visits today for one advisor (each with a stock vehicle and photo); 1,000 visits
    over the past and coming months for another; 10 for a third."""
    connection = db.session.connection()
    leads = list(db.session.scalars(select(Lead.id).order_by(Lead.id.desc()).limit(FEED + TODAY)))
    vehicles = [
        {
            "vin": f"BENCH{n:012d}",
            "stock_number": f"B{n:05d}",
            "year": 2025,
            "make": "Honda",
            "model": "CR-V",
            "trim": "EX-L",
            "price": Decimal("39995.00") + n,
            "status": "sold" if n % 10 == 0 else "available",
        }
        for n in range(TODAY)
    ]
    connection.execute(insert(Vehicle.__table__), vehicles)
    vehicle_ids = list(db.session.scalars(select(Vehicle.id).order_by(Vehicle.id)))[-TODAY:]
    connection.execute(insert(VehiclePhoto.__table__), [_photo(v) for v in vehicle_ids])
    now = now_utc()
    start_of_day = day_bounds(now.astimezone(dealership_zone()).date())[0] + timedelta(hours=8)
    rows = []
    for n in range(TODAY):
        starts = start_of_day + timedelta(minutes=15 * n)
        rows.append(_row(leads[n], BOARD_ADVISOR, starts, now))
    for n in range(FEED):
        starts = now - timedelta(days=80) + timedelta(hours=11 * n)
        rows.append(_row(leads[(TODAY + n) % len(leads)], FEED_ADVISOR, starts, now))
    for n in range(10):
        rows.append(_row(leads[n], SMALL_FEED_ADVISOR, now + timedelta(days=n), now))
    connection.execute(insert(Appointment.__table__), rows)
    today_ids = list(
        db.session.scalars(
            select(Appointment.id)
            .where(Appointment.advisor_id == BOARD_ADVISOR)
            .order_by(Appointment.id)
        )
    )
    connection.execute(
        insert(AppointmentVehicle.__table__),
        [
            {
                "appointment_id": appointment_id,
                "vehicle_id": vehicle_id,
                "price_at_booking": Decimal("41000.00"),
                "status_at_booking": "available",
                "change_noticed": "",
            }
            for appointment_id, vehicle_id in zip(today_ids, vehicle_ids, strict=True)
        ],
    )
    for advisor_id in (BOARD_ADVISOR, FEED_ADVISOR, SMALL_FEED_ADVISOR):
        db.session.get(User, advisor_id).calendar_token = f"bench-token-{advisor_id}"
    db.session.commit()


def _row(lead_id: int, advisor_id: int, starts, now) -> dict:
    return {
        "lead_id": lead_id,
        "advisor_id": advisor_id,
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=45),
        "kind": "test_drive",
        "status": "booked" if starts > now else "shown",
        "notes": "Customer asked about winter tires; bring the trade-in appraisal sheet.",
        "uid": f"{uuid.uuid4()}@bench.example",
        "sequence": 1,
        "booked_via": "staff",
        "created_at": now,
        "updated_at": now,
    }


class _Client:
    """Requests outside any app context of ours: each gets its own context and session."""

    def __init__(self, url: str, user_id: int):
        self.app = create_bench_app(SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False)
        self.app.test_client_class = FlaskLoginClient
        with self.app.app_context():
            user = db.session.get(User, user_id)
            db.session.remove()
        self.client = self.app.test_client(user=user)

    def time(self, path: str, expect: str) -> float:
        began = time.perf_counter()
        response = self.client.get(path)
        took = (time.perf_counter() - began) * 1000
        if response.status_code != 200 or expect not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return took


def _summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "requests": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
        "min_ms": round(ordered[0], 1),
    }


def _rounds(legs: dict, requests: int) -> dict:
    """Each leg once per round, in turn, so machine load touches every leg alike."""
    for call, _ in legs.values():
        for _ in range(3):
            call()  # warm-up
    for _ in range(requests):
        for call, times in legs.values():
            times.append(call())
    return {name: _summary(times) for name, (_, times) in legs.items()}


def _writer_comparison(url: str) -> dict:
    """The feed's writer against icalendar's serialiser, on the same 1,000 events."""
    app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        from dealer_leads.appointments.calendar import Party, feed

        appointments = db.session.scalars(
            select(Appointment).where(Appointment.advisor_id == FEED_ADVISOR)
        ).all()
        events = [calendar_event(a, for_customer=False) for a in appointments]
        ours, theirs = [], []
        for _ in range(5):
            began = time.perf_counter()
            feed("bench", events)
            ours.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            for event in events:
                invitation(event, Party("a@x.example"), Party("b@x.example"), now=now_utc())
            theirs.append((time.perf_counter() - began) * 1000)
        db.session.remove()
        db.engine.dispose()
    return {
        "events": len(events),
        "fast_writer_ms": round(statistics.median(ours), 1),
        "icalendar_components_ms": round(statistics.median(theirs), 1),
    }


def run_on(kind: str, leads: int, requests: int) -> dict:
    """Two databases (1,000 leads and `leads`), appointments added; time board and feeds."""
    with ExitStack() as stack:
        clients, filled = {}, {}
        for size in sorted({1000, leads}):
            url = stack.enter_context(temporary_database(kind))
            app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
            with app.app_context():
                filled[size] = fill(size)
                add_appointments()
                count = db.session.scalar(select(func.count(Lead.id)))
                db.session.remove()
                db.engine.dispose()
            clients[size] = (url, _Client(url, BOARD_ADVISOR), count)
        big_url, big, _ = clients[leads]
        small = clients[1000][1]
        legs = {
            "board_1000_leads": (lambda: small.time("/appointments", "appointment-"), []),
            f"board_{leads}_leads": (lambda: big.time("/appointments", "appointment-"), []),
            "feed_10": (
                lambda: big.time(f"/calendar/bench-token-{SMALL_FEED_ADVISOR}.ics", "BEGIN:VEVENT"),
                [],
            ),
            "feed_1000": (
                lambda: big.time(f"/calendar/bench-token-{FEED_ADVISOR}.ics", "BEGIN:VEVENT"),
                [],
            ),
        }
        results = _rounds(legs, requests)
        writer = _writer_comparison(big_url)
    board = results[f"board_{leads}_leads"]["median_ms"]
    feed_ms = results["feed_1000"]["median_ms"]
    return {
        "database": kind,
        "leads": {str(size): clients[size][2] for size in clients},
        "fill_seconds": {str(size): filled[size]["fill_seconds"] for size in filled},
        "timings": results,
        "writer": writer,
        "board_target_ms": BOARD_TARGET_MS,
        "feed_target_ms": FEED_TARGET_MS,
        "met": board <= BOARD_TARGET_MS and feed_ms <= FEED_TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    kinds = ["sqlite"]
    if not args.no_postgres:
        why = postgres_available()
        if why:
            print(f"PostgreSQL skipped: {why}")
        else:
            kinds.append("postgresql")
    for kind in kinds:
        result = run_on(kind, args.leads, args.requests)
        print(json.dumps(result, indent=2))
        print(_table(result))


def _table(result: dict) -> str:
    lines = [
        f"\n{result['database']}: median / p90 ms over {result['timings']['feed_10']['requests']}"
        " requests"
    ]
    for name, figures in result["timings"].items():
        lines.append(f"  {name:<24} {figures['median_ms']:>8} {figures['p90_ms']:>8}")
    writer = result["writer"]
    lines.append(
        f"  .ics writer, {writer['events']} events: {writer['fast_writer_ms']} ms "
        f"(icalendar components: {writer['icalendar_components_ms']} ms)"
    )
    lines.append(f"  targets met: {result['met']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
