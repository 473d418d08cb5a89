"""Triage: the first queue page (GET /leads/ as a signed-in supervisor) at 1,000 and 100,000 leads.

Each size gets a fresh migrated database filled with SQLAlchemy Core executemany inserts
(customers, leads, lead_vehicles, lead_sources, lead_events, a few advisors), then ANALYZE. The
leads arrive at about 60 a day, so 100,000 leads are four and a half years of history: recent
ones are still open and partly unanswered, older ones were answered and closed (sold or lost).
The page is fetched through the Flask test client: the real view, queries and template.
"""

from __future__ import annotations

import random
import statistics
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

from flask_login import FlaskLoginClient
from sqlalchemy import event, insert, text

from bench.bench_app import create_bench_app, postgres_available, temporary_database
from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import (
    Customer,
    InboundPayload,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
)

TARGET_RATIO = 1.5
TARGET_MS = 150.0
LEADS_PER_DAY = 60
CHUNK = 20_000


def _weighted(*pairs: tuple[str, int]) -> tuple[str, ...]:
    """A population where each value appears `weight` times: rng.choice is then weighted."""
    return tuple(value for value, weight in pairs for _ in range(weight))


SOURCES = _weighted(("Autotrader", 22), ("Cars.com", 14), ("CarGurus", 16), ("TrueCar", 8))
SOURCES += _weighted(("Website", 25), ("Edmunds", 5), ("KBB", 5), ("Walk-in", 5))
DEPARTMENTS = _weighted(("sales", 85), ("service", 8), ("parts", 4), ("finance", 3))
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jon", "Kai")
LAST = ("Ng", "Patel", "Smith", "Tremblay", "Roy", "Wong", "Singh", "Brown", "Gagnon", "Lee")
CARS = (("Toyota", "RAV4"), ("Honda", "Civic"), ("Ford", "F-150"), ("Mazda", "CX-5"))
CARS += (("Hyundai", "Tucson"), ("Kia", "Telluride"), ("Subaru", "Outback"))
RECENT = _weighted(("new", 3), ("contacted", 4), ("engaged", 2), ("appointment", 1))
MIDDLE = _weighted(("contacted", 25), ("engaged", 20), ("appointment", 10), ("shown", 5))
MIDDLE += _weighted(("sold", 12), ("lost", 28))
OLD = _weighted(("sold", 14), ("lost", 80), ("engaged", 3), ("contacted", 3))
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _outcome(rng: random.Random, age_days: float) -> tuple[str, bool]:
    """(status, answered) by age: recent leads are open and often unanswered, old ones closed."""
    roll = rng.random()
    if age_days < 3:
        return ("new", False) if roll < 0.3 else (rng.choice(RECENT), True)
    if age_days < 90:
        if roll < 0.01:
            return "new", False  # fell through the cracks: still waiting, weeks later
        if roll < 0.03:
            return "lost", False
        return rng.choice(MIDDLE), True
    return ("lost", False) if roll < 0.05 else (rng.choice(OLD), True)


def _response_delay(rng: random.Random) -> timedelta:
    """Minutes for most leads, hours for a tail (the industry's slow responses)."""
    mean = 1800 if rng.random() < 0.85 else 6 * 3600
    return timedelta(seconds=60 + rng.expovariate(1 / mean))


class _Rows:
    """Row dicts for every table, built lead by lead."""

    def __init__(self, count: int, advisors: list[int], now: datetime):
        self.rng, self.count, self.now, self.advisors = random.Random(count), count, now, advisors
        self.span = timedelta(days=max(count / LEADS_PER_DAY, 1))
        self.tables: dict[str, list[dict]] = {
            name: [] for name in ("customers", "leads", "vehicles", "sources", "events")
        }

    def build(self) -> dict[str, list[dict]]:
        for index in range(self.count):
            self._lead(index + 1)
        return self.tables

    def _customer(self) -> int:
        customers = self.tables["customers"]
        if customers and self.rng.random() < 0.1:  # a returning customer
            return self.rng.randint(1, len(customers))
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        number = len(customers) + 1
        customers.append(
            {
                "id": number,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{number}@example.com".lower(),
                "phone": f"+1416{2_000_000 + number:07d}",
                "city": "Toronto",
                "created_at": self.now - self.span,
            }
        )
        return number

    def _lead(self, lead_id: int) -> None:
        rng = self.rng
        received = self.now - self.span * ((self.count - lead_id + rng.random()) / self.count)
        status, answered = _outcome(rng, (self.now - received).total_seconds() / 86400)
        responded = min(received + _response_delay(rng), self.now) if answered else None
        unassigned = status == "new" and not answered and rng.random() < 0.5
        advisor = None if unassigned else rng.choice(self.advisors)
        source = rng.choice(SOURCES)
        merged = rng.randint(1, lead_id - 1) if lead_id > 1 and rng.random() < 0.005 else None
        self.tables["leads"].append(
            {
                "id": lead_id,
                "customer_id": self._customer(),
                "channel": "form" if source == "Website" else "api",
                "source": source,
                "latest_source": source,
                "department": rng.choice(DEPARTMENTS),
                "sales_kind": rng.choice(("new", "used")),
                "status": status,
                "lost_reason": "bought elsewhere" if status == "lost" else "",
                "assigned_to_id": advisor,
                "comments": "Is it still available?",
                "received_at": received,
                "first_response_at": responded,
                "last_activity_at": responded or received,
                "extensions": {},
                "warnings": [],
                "merged_into_id": merged,
            }
        )
        self._children(lead_id, source, received, responded, advisor, status)

    def _children(self, lead_id, source, received, responded, advisor, status) -> None:
        rng, tables = self.rng, self.tables
        if rng.random() < 0.95:
            make, model = rng.choice(CARS)
            tables["vehicles"].append(
                {
                    "lead_id": lead_id,
                    "interest": "buy",
                    "status": rng.choice(("new", "used")),
                    "year": rng.randint(2018, 2026),
                    "make": make,
                    "model": model,
                    "stock": f"S{lead_id:06d}",
                }
            )
        if rng.random() < 0.2:
            tables["vehicles"].append(
                {
                    "lead_id": lead_id,
                    "interest": "trade-in",
                    "status": "used",
                    "year": rng.randint(2008, 2020),
                    "make": "Honda",
                    "model": "Fit",
                    "stock": "",
                }
            )
        tables["sources"].append(
            {
                "lead_id": lead_id,
                "source": source,
                "source_key": source.lower(),
                "provider_lead_id": f"P{lead_id}",
                "received_at": received,
            }
        )
        events = [("inquiry", received, f"Inquiry from {source}", None)]
        if advisor:
            events.append(("assigned", received, "Assigned by round robin", None))
        if responded:
            events.append(("call", responded, "Call: Reached the customer", advisor))
        if status not in ("new", "contacted"):
            events.append(("status", responded or received, f"Status → {status}", advisor))
        tables["events"] += [
            {
                "lead_id": lead_id,
                "kind": kind,
                "at": at,
                "summary": summary,
                "data": {},
                "user_id": user,
            }
            for kind, at, summary, user in events
        ]


def _insert_people(now: datetime) -> tuple[int, list[int]]:
    """A supervisor and six advisors (one off shift); none can sign in with a password."""
    people = [("supervisor@bench.example", "Sam Supervisor", "supervisor", True)]
    people += [
        (f"advisor{n}@bench.example", f"Advisor {n}", "advisor", n != 6) for n in range(1, 7)
    ]
    rows = [
        {
            "id": n,
            "email": email,
            "name": name,
            "role": role,
            "password_hash": "!",
            "on_shift": on_shift,
            "created_at": now,
        }
        for n, (email, name, role, on_shift) in enumerate(people, 1)
    ]
    db.session.connection().execute(insert(User.__table__), rows)
    return 1, [row["id"] for row in rows[1:]]


def fill(count: int) -> dict:
    """Bulk-insert `count` leads with their customers, vehicles, sources and events; ANALYZE."""
    began, now = time.perf_counter(), now_utc()
    supervisor, advisors = _insert_people(now)
    tables = _Rows(count, advisors, now).build()
    models = {
        "customers": Customer,
        "leads": Lead,
        "vehicles": LeadVehicle,
        "sources": LeadSource,
        "events": LeadEvent,
    }
    connection = db.session.connection()
    for name, model in models.items():
        rows = tables[name]
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(model.__table__), rows[start : start + CHUNK])
    failed = [
        {
            "channel": "adf",
            "raw": b"<adf>",
            "status": "failed",
            "error": "not well-formed XML",
            "received_at": now - timedelta(hours=n),
        }
        for n in range(max(1, count // 2000))
    ]
    connection.execute(insert(InboundPayload.__table__), failed)
    db.session.commit()
    _reset_sequences()
    _analyze()
    return {
        "rows": {name: len(rows) for name, rows in tables.items()},
        "fill_seconds": round(time.perf_counter() - began, 2),
        "supervisor_id": supervisor,
    }


def _reset_sequences() -> None:
    """PostgreSQL: ids were given explicitly, so move the sequences past them."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("users", "customers", "leads", "lead_vehicles", "lead_sources", "lead_events"):
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )
    db.session.commit()


def _analyze() -> None:
    """Fresh planner statistics, as a maintained database has (ANALYZE runs in a transaction)."""
    db.session.execute(text("ANALYZE"))
    db.session.commit()


class _StatementLog:
    """Every SQL statement the engine runs while attached, with its parameters."""

    def __init__(self, engine):
        self.engine, self.entries = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.entries.append((statement, parameters))

    @property
    def queries(self) -> list[tuple[str, object]]:
        return [
            e for e in self.entries if not e[0].lstrip().upper().startswith(_TRANSACTION_CONTROL)
        ]


def _timed(statement: str, parameters, tries: int = 3) -> float:
    """Best time of a statement run again on its own, fetching every row (SQLite produces rows
    while they are fetched, so timing only `execute` would hide most of the work)."""
    best = float("inf")
    with db.engine.connect() as connection:
        for _ in range(tries):
            began = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).all()
            best = min(best, (time.perf_counter() - began) * 1000)
        connection.rollback()
    return best


def _short(sql: str, limit: int = 200) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(statement: str, parameters) -> list[str]:
    """The planner's plan for one statement, as text lines."""
    dialect = db.engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        connection.rollback()
    if dialect == "sqlite":
        return [f"{row[0]}|{row[1]}|{row[3]}" for row in rows]
    return [row[0] for row in rows]


class _Page:
    """The queue page of one database, fetched by a signed-in supervisor.

    Requests run outside any app context of ours, so each gets its own context and session,
    as under a server: nothing is cached from one request to the next.
    """

    def __init__(self, url: str, supervisor_id: int):
        self.app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
        self.app.test_client_class = FlaskLoginClient
        with self.app.app_context():
            supervisor = db.session.get(User, supervisor_id)
            self.engine = db.engine
            db.session.remove()
        self.client = self.app.test_client(user=supervisor)
        self.times: list[float] = []

    def get(self) -> float:
        began = time.perf_counter()
        response = self.client.get("/leads/")
        took = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET /leads/ answered {response.status_code}")
        return took

    def rows_shown(self) -> int:
        return self.client.get("/leads/").get_data(as_text=True).count('name="lead_ids"')

    def details(self) -> dict:
        """Timing summary; the statements of one more request, each timed again on its own,
        and the query plans of the three slowest."""
        with _StatementLog(self.engine) as log:
            self.get()
        with self.app.app_context():
            queries = [(sql, params, _timed(sql, params)) for sql, params in log.queries]
            slowest = [
                {"ms": round(ms, 2), "sql": " ".join(sql.split()), "plan": _explain(sql, params)}
                for sql, params, ms in sorted(queries, key=lambda q: -q[2])[:3]
            ]
        self.engine.dispose()
        times = sorted(self.times)
        return {
            "requests": len(times),
            "median_ms": round(statistics.median(times), 1),
            "p90_ms": round(times[max(0, int(len(times) * 0.9) - 1)], 1),
            "min_ms": round(times[0], 1),
            "rows_shown": self.rows_shown(),
            "sql_statements": len(queries),
            "sql_statements_incl_transaction_control": len(log.entries),
            "sql_ms": round(sum(q[2] for q in queries), 1),
            "statements": [{"ms": round(ms, 2), "sql": _short(sql)} for sql, _, ms in queries],
            "slowest_statements": slowest,
        }


def run_on(kind: str, sizes: tuple[int, ...], requests: int) -> dict:
    """Fill a fresh database per size, then time the queue pages in turn (one request on each
    size per round), so a change in machine load touches every size alike."""
    with ExitStack() as stack:
        filled, pages = {}, {}
        for count in sizes:
            url = stack.enter_context(temporary_database(kind))
            app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
            with app.app_context():
                filled[count] = fill(count)
                db.session.remove()
                db.engine.dispose()
            pages[count] = _Page(url, filled[count]["supervisor_id"])
        for page in pages.values():
            for _ in range(3):
                page.get()  # warm-up: templates compiled, connections open, pages cached
        for _ in range(requests):
            for page in pages.values():
                page.times.append(page.get())
        results = {str(count): {**filled[count], **pages[count].details()} for count in sizes}
    small, large = (results[str(size)] for size in (min(sizes), max(sizes)))
    ratio = large["median_ms"] / small["median_ms"]
    return {
        "database": kind,
        "sizes": results,
        "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO,
        "target_ms_at_largest": TARGET_MS,
        "met": ratio <= TARGET_RATIO and large["median_ms"] < TARGET_MS,
    }


def run(
    *, sizes: tuple[int, ...] = (1_000, 100_000), requests: int = 25, postgres: bool = True
) -> dict:
    """The triage benchmark on SQLite and (when reachable) PostgreSQL."""
    results = {"sqlite": run_on("sqlite", sizes, requests)}
    why_not = postgres_available() if postgres else "turned off (--no-postgres)"
    results["postgresql"] = (
        {"skipped": why_not} if why_not else run_on("postgresql", sizes, requests)
    )
    return results


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    table = []
    for kind, figures in results.items():
        if "skipped" in figures:
            table.append((f"triage {kind}", "skipped", "", "", figures["skipped"][:60]))
            continue
        sizes = figures["sizes"]
        small, large = min(sizes, key=int), max(sizes, key=int)
        verdict = "met" if figures["met"] else "MISSED"
        statements = sizes[large]["sql_statements"]
        table.append(
            (
                f"triage {kind}",
                f"GET /leads/ median ms, {int(small):,} vs {int(large):,} ({statements} SQL)",
                f"{sizes[small]['median_ms']:.1f}",
                f"{sizes[large]['median_ms']:.1f}",
                f"{figures['ratio']:.2f} (<= {TARGET_RATIO}, < {TARGET_MS:.0f} ms) {verdict}",
            )
        )
    return table
