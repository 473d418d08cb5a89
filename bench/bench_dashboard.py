"""Dashboard: GET /dashboard (the last 30 days) at 1,000 leads and at 100,000 leads with
1,000,000 timeline events, on SQLite and PostgreSQL.

The data: leads arrive at about 60 a day, as in bench_triage (100,000 leads are four and a
half years of history; the last 30 days hold about 1,800), each with a customer,
ten timeline events, three plan touches (an automatic e-mail, a call task, an e-mail task), an
appointment for a quarter of them, a few merged leads. Built with Core executemany inserts,
then ANALYZE, and kept between runs: SQLite files and PostgreSQL databases named after the
size and the data version (under /tmp/dealer_leads_bench, and dl_bench_dashboard_* on the
server). `--rebuild` builds them afresh; `--drop` removes the cached ones and stops.

    .venv/bin/python -m bench.bench_dashboard [--requests 15] [--no-postgres] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask_login import FlaskLoginClient
from sqlalchemy import create_engine, insert, make_url, text

from bench.bench_app import POSTGRES_SERVER_URL, create_bench_app, migrate, postgres_available
from dealer_leads.appointments.models import Appointment
from dealer_leads.auth.models import User
from dealer_leads.cadence.models import Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent

VERSION = 4  # bump when the generated data changes: cached databases are then rebuilt
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/dealer_leads_bench"))
BUILT_AT = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # fixed: the range is the same every run
ZONE = ZoneInfo("America/Toronto")
TARGET_MS = 300.0
LEADS_PER_DAY = 60  # as bench_triage: 100,000 leads are four and a half years of history
YEAR_REQUESTS = 5
CHUNK = 20_000
EVENTS_PER_LEAD = 10
SOURCES = ("Autotrader", "Cars.com", "CarGurus", "TrueCar", "Website", "Edmunds", "KBB")
STATUSES = ("new", "contacted", "engaged", "appointment", "shown", "sold", "lost")
STATUS_WEIGHTS = (8, 20, 15, 8, 5, 12, 32)
FILLER = ("note", "auto_email", "reply", "plan_started", "assigned", "call", "repeat_inquiry")


class _Rows:
    """Row dicts for every table, lead by lead, from a seeded generator."""

    def __init__(self, count: int, advisors: list[int]):
        self.rng, self.count, self.advisors = random.Random(count), count, advisors
        self.tables = {name: [] for name in ("customers", "leads", "events", "touches", "appts")}
        self.event_id = self.touch_id = 0

    def build(self) -> dict[str, list[dict]]:
        # Leads are numbered in the order they arrived, as intake gives them their ids.
        span = self.count / LEADS_PER_DAY * 86400
        ages = sorted((self.rng.uniform(0, span) for _ in range(self.count)), reverse=True)
        for lead_id, age in enumerate(ages, start=1):
            self._lead(lead_id, BUILT_AT - timedelta(seconds=age))
        return self.tables

    def _lead(self, lead_id: int, received: datetime) -> None:
        rng = self.rng
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        answered = status != "new" and rng.random() < 0.97
        responded = received + timedelta(seconds=30 + rng.expovariate(1 / 2400))
        advisor = rng.choice(self.advisors) if rng.random() < 0.95 else None
        merged = lead_id - 1 if lead_id > 1 and rng.random() < 0.005 else None
        source = rng.choice(SOURCES)
        self.tables["customers"].append(
            {"id": lead_id, "first_name": "Pat", "last_name": f"Buyer{lead_id}",
             "email": f"pat{lead_id}@bench.example", "phone": f"+1416{lead_id:07d}",
             "created_at": received}
        )  # fmt: skip
        self.tables["leads"].append(
            {"id": lead_id, "customer_id": lead_id, "channel": "api", "source": source,
             "latest_source": rng.choice(SOURCES) if rng.random() < 0.1 else "",
             "department": "sales" if rng.random() < 0.9 else "service", "status": status,
             "assigned_to_id": advisor, "received_at": received, "last_activity_at": received,
             "first_response_at": responded if answered else None, "merged_into_id": merged}
        )  # fmt: skip
        self._events(lead_id, received, status)
        self._touches(lead_id, received, advisor)
        if status in ("appointment", "shown", "sold") or (status == "lost" and rng.random() < 0.2):
            shown = {"appointment": "booked", "shown": "shown", "sold": "sold"}.get(status)
            starts = received + timedelta(days=rng.uniform(1, 6))
            self.tables["appts"].append(
                {"lead_id": lead_id, "advisor_id": advisor or self.advisors[0],
                 "starts_at": starts, "ends_at": starts + timedelta(hours=1),
                 "status": shown or "no_show", "uid": f"bench-{lead_id}@bench.example",
                 "created_at": received + timedelta(hours=2),
                 "updated_at": received + timedelta(hours=2)}
            )  # fmt: skip

    def _events(self, lead_id: int, received: datetime, status: str) -> None:
        kinds = ["inquiry", "status"] + self.rng.choices(FILLER, k=EVENTS_PER_LEAD - 2)
        for n, kind in enumerate(kinds):
            self.event_id += 1
            data = {"new": status} if kind == "status" else {}
            self.tables["events"].append(
                {"id": self.event_id, "lead_id": lead_id, "kind": kind, "data": data,
                 "at": received + timedelta(hours=n * 7), "summary": f"{kind} line"}
            )  # fmt: skip

    def _touches(self, lead_id: int, received: datetime, advisor: int | None) -> None:
        age = (BUILT_AT - received).total_seconds()
        for channel, offset in (("auto_email", 0), ("call_task", 600), ("email_task", 86400)):
            due = received + timedelta(seconds=offset)
            done = channel == "auto_email" or age > 2 * 86400 or self.rng.random() < 0.5
            status = ("sent" if channel == "auto_email" else "done") if done else "open"
            finished = due + timedelta(minutes=self.rng.randint(1, 180)) if done else None
            self.touch_id += 1
            self.tables["touches"].append(
                {"id": self.touch_id, "lead_id": lead_id, "channel": channel, "status": status,
                 "due_at": due, "finished_at": finished, "title": channel,
                 "assigned_to_id": None if channel == "auto_email" else advisor,
                 "finished_by_id": advisor if done and channel != "auto_email" else None,
                 "created_at": received}
            )  # fmt: skip


def fill(count: int) -> dict:
    """Bulk-insert a supervisor, eight advisors and `count` leads with everything; ANALYZE."""
    began = time.perf_counter()
    people = [{"id": 1, "email": "sup@bench.example", "name": "Sam Supervisor",
               "role": "supervisor", "password_hash": "!", "created_at": BUILT_AT}]  # fmt: skip
    people += [
        {"id": n, "email": f"a{n}@bench.example", "name": f"Advisor {n}", "role": "advisor",
         "password_hash": "!", "created_at": BUILT_AT}
        for n in range(2, 10)
    ]  # fmt: skip
    connection = db.session.connection()
    connection.execute(insert(User.__table__), people)
    tables = _Rows(count, [p["id"] for p in people[1:]]).build()
    models = {"customers": Customer, "leads": Lead, "events": LeadEvent, "touches": Touch}
    models["appts"] = Appointment
    for name, model in models.items():
        rows = tables[name]
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(model.__table__), rows[start : start + CHUNK])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("users", "customers", "leads", "lead_events", "touches", "appointments"):
            db.session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT coalesce(max(id), 1) FROM {table}))")
            )  # fmt: skip
        db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    counts = {name: len(rows) for name, rows in tables.items()}
    return {"rows": counts, "fill_seconds": round(time.perf_counter() - began, 1)}


# --- cached databases --------------------------------------------------------------------------


def _pg_name(count: int) -> str:
    return f"dl_bench_dashboard_{count}_v{VERSION}"


def _server():
    url = make_url(POSTGRES_SERVER_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return create_engine(url, isolation_level="AUTOCOMMIT")


def cached_database(kind: str, count: int, rebuild: bool) -> tuple[str, dict | None]:
    """(url, fill figures or None when reused) of the cached database for this size."""
    if kind == "sqlite":
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / f"dashboard-{count}-v{VERSION}.sqlite3"
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        exists = path.exists()
    else:
        name, engine = _pg_name(count), _server()
        with engine.connect() as connection:
            if rebuild:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not found:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = make_url(POSTGRES_SERVER_URL).set(database=name)
        url, exists = url.render_as_string(hide_password=False), bool(found)
    if exists and _complete(url, count):
        return url, None
    if exists:
        raise RuntimeError(f"{url} is incomplete: run again with --rebuild")
    migrate(url)
    app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        figures = fill(count)
        db.session.remove()
        db.engine.dispose()
    return url, figures


def _complete(url: str, count: int) -> bool:
    app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        try:
            found = db.session.scalar(text("SELECT count(*) FROM leads"))
        except Exception:  # no schema yet: not complete
            found = None
        db.session.remove()
        db.engine.dispose()
    return found == count


def drop_cached() -> None:
    """Remove every cached database of this benchmark."""
    for path in CACHE.glob("dashboard-*"):
        path.unlink()
    if not postgres_available():
        engine = _server()
        with engine.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'dl_bench_dashboard_%'")
            ).scalars()
            for name in list(names):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


# --- timing ------------------------------------------------------------------------------------


class _Page:
    """GET /dashboard for the 30 days before the data was built, as the supervisor."""

    def __init__(self, url: str, days: int = 30):
        self.app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
        self.app.test_client_class = FlaskLoginClient
        with self.app.app_context():
            supervisor = db.session.get(User, 1)
            db.session.remove()
        self.client = self.app.test_client(user=supervisor)
        end = BUILT_AT.astimezone(ZONE).date()
        start = end - timedelta(days=days - 1)
        self.query = {"from": start.isoformat(), "to": end.isoformat()}
        self.times: list[float] = []
        self.cpu: list[float] = []

    def get(self) -> float:
        began, cpu = time.perf_counter(), time.process_time()
        response = self.client.get("/dashboard", query_string=self.query)
        took = (time.perf_counter() - began) * 1000
        self.cpu.append((time.process_time() - cpu) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET /dashboard answered {response.status_code}")
        return took

    def leads_shown(self) -> int:
        html = self.client.get("/dashboard", query_string=self.query).get_data(as_text=True)
        start = html.index('class="kpi-leads">') + len('class="kpi-leads">')
        return int(html[start : html.index("<", start)])

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()


def run_on(kind: str, sizes: tuple[int, ...], requests: int, rebuild: bool) -> dict:
    """Time both sizes in turns (one request each per round), so load touches both alike."""
    pages, built = {}, {}
    for count in sizes:
        url, built[count] = cached_database(kind, count, rebuild)
        pages[count] = _Page(url)
    for page in pages.values():
        for _ in range(2):
            page.get()  # warm-up: templates compiled, connections open, pages cached
    for _ in range(requests):
        for page in pages.values():
            page.times.append(page.get())
    results = {}
    for count, page in pages.items():
        times = sorted(page.times)
        results[str(count)] = {
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(times[0], 1),
            "max_ms": round(times[-1], 1),
            "app_cpu_median_ms": round(statistics.median(page.cpu), 1),
            "leads_in_range": page.leads_shown(),
            "built": built[count] or "reused from the cache",
        }
        page.close()
    largest = results[str(max(sizes))]
    # For information: the busiest range the page accepts, a whole year, on the largest size.
    year = _Page(cached_database(kind, max(sizes), False)[0], days=365)
    year.get()
    year_times = [year.get() for _ in range(YEAR_REQUESTS)]
    largest["year_range"] = {
        "median_ms": round(statistics.median(year_times), 1),
        "leads_in_range": year.leads_shown(),
    }
    year.close()
    return {
        "sizes": results,
        "target_ms": TARGET_MS,
        "met": largest["median_ms"] <= TARGET_MS,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="build the databases afresh")
    parser.add_argument("--drop", action="store_true", help="remove the cached databases")
    args = parser.parse_args()
    if args.drop:
        drop_cached()
        return
    sizes = tuple(int(s) for s in args.sizes.split(","))
    results = {"sqlite": run_on("sqlite", sizes, args.requests, args.rebuild)}
    why_not = "turned off (--no-postgres)" if args.no_postgres else postgres_available()
    results["postgresql"] = (
        {"skipped": why_not}
        if why_not
        else run_on("postgresql", sizes, args.requests, args.rebuild)
    )
    print(json.dumps(results, indent=2, default=str))
    for kind, figures in results.items():
        if "skipped" in figures:
            print(f"dashboard {kind}: skipped ({figures['skipped']})")
            continue
        line = ", ".join(
            f"{int(n):,} leads: {f['median_ms']:.1f} ms ({f['leads_in_range']:,} in range, "
            f"app CPU {f['app_cpu_median_ms']:.1f} ms)"
            for n, f in figures["sizes"].items()
        )
        verdict = "met" if figures["met"] else "MISSED"
        load = ", ".join(f"{x:.1f}" for x in figures["load_average"])
        year = figures["sizes"][max(figures["sizes"], key=int)]["year_range"]
        line += f"; a whole year: {year['median_ms']:.1f} ms ({year['leads_in_range']:,} in range)"
        print(
            f"dashboard {kind}: GET /dashboard median, {line}; <= {TARGET_MS:.0f} ms {verdict} "
            f"(load average {load} on {os.cpu_count()} CPUs)"
        )


if __name__ == "__main__":
    main()
