"""Inventory: the vehicle list (GET /inventory/, signed-in supervisor) at 100 and 10,000 vehicles.

Each size gets a fresh migrated database filled with SQLAlchemy Core inserts: a lot where most
units are in stock (available, a few in transit or pending) and the rest sold or hidden, dates
in stock spread over two years, then ANALYZE. Three pages are timed through the Flask test
client (the real view, queries and template): the default list (in stock, newest first), every
status, and a search. Requests alternate between the sizes, so machine load touches both alike.
The claim (DESIGN.md, issue): median at most 100 ms at 10,000 vehicles.

    .venv/bin/python -m bench.bench_inventory [--sizes 100,10000] [--requests 25] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask_login import FlaskLoginClient
from sqlalchemy import event, insert, text

from bench.bench_app import create_bench_app, postgres_available, temporary_database
from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.vin import check_digit

TARGET_MS = 100.0
PAGES = {
    "in stock": "/inventory/",
    "all statuses": "/inventory/?status=all",
    "search": "/inventory/?q=civic",
}
MODELS = (("Honda", "Civic"), ("Honda", "CR-V"), ("Toyota", "RAV4"), ("Toyota", "Camry"))
MODELS += (("Ford", "F-150"), ("Mazda", "CX-5"), ("Hyundai", "Tucson"), ("Kia", "Telluride"))
STATUSES = ("available",) * 70 + ("in_transit",) * 5 + ("pending",) * 5 + ("sold",) * 15
STATUSES += ("hidden",) * 5
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _vin(serial: int) -> str:
    draft = f"2HGFE2F50RH{serial:06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


def _rows(count: int, now: datetime) -> list[dict]:
    rng, today = random.Random(count), now.date()
    rows = []
    for n in range(1, count + 1):
        make, model = rng.choice(MODELS)
        status = rng.choice(STATUSES)
        in_stock = None if status == "in_transit" else today - timedelta(days=rng.randint(0, 730))
        rows.append(
            {
                "vin": _vin(n),
                "stock_number": f"S{n:06d}",
                "year": rng.randint(2016, 2026),
                "make": make,
                "model": model,
                "trim": rng.choice(("LX", "EX", "Sport", "Touring", "")),
                "body_style": "SUV",
                "condition": rng.choice(("new", "used", "certified")),
                "odometer": rng.randint(0, 180_000),
                "odometer_unit": "km",
                "exterior_color": rng.choice(("White", "Black", "Grey", "Blue")),
                "price": Decimal(rng.randint(15_000, 75_000)),
                "status": status,
                "in_stock_on": in_stock,
                "options": ["Heated seats", "Apple CarPlay"],
                "description": "Clean history, one owner." * 4,
                "decode_state": "decoded",
                "decode_data": {},
                "vin_override": False,
                "sold_at": now if status == "sold" else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def fill(count: int) -> dict:
    """Insert a supervisor and `count` vehicles, then ANALYZE; returns the supervisor's id."""
    began, now = time.perf_counter(), now_utc()
    connection = db.session.connection()
    user = {"email": "supervisor@bench.example", "name": "Sam", "role": "supervisor"}
    connection.execute(insert(User.__table__), [user | {"password_hash": "!", "created_at": now}])
    rows = _rows(count, now)
    for start in range(0, len(rows), 5000):
        connection.execute(insert(Vehicle.__table__), rows[start : start + 5000])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    supervisor = db.session.scalar(db.select(User.id).where(User.email == user["email"]))
    return {
        "vehicles": count,
        "fill_seconds": round(time.perf_counter() - began, 2),
        "user": supervisor,
    }


class _Site:
    """One database's app and a signed-in client; each request gets its own app context."""

    def __init__(self, url: str, user_id: int):
        self.app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
        self.app.test_client_class = FlaskLoginClient
        with self.app.app_context():
            user = db.session.get(User, user_id)
            self.engine = db.engine
            db.session.remove()
        self.client = self.app.test_client(user=user)
        self.times: dict[str, list[float]] = {name: [] for name in PAGES}

    def get(self, name: str) -> float:
        began = time.perf_counter()
        response = self.client.get(PAGES[name])
        took = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {PAGES[name]} answered {response.status_code}")
        return took

    def statements(self, name: str) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                seen.append(statement)

        event.listen(self.engine, "before_cursor_execute", count)
        try:
            self.get(name)
        finally:
            event.remove(self.engine, "before_cursor_execute", count)
        return len(seen)

    def summary(self) -> dict:
        figures = {}
        for name, times in self.times.items():
            ordered = sorted(times)
            figures[name] = {
                "median_ms": round(statistics.median(ordered), 1),
                "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
                "min_ms": round(ordered[0], 1),
                "sql_statements": self.statements(name),
            }
        self.engine.dispose()
        return figures


def run_on(kind: str, sizes: tuple[int, ...], requests: int) -> dict:
    """Fill a database per size, warm up, then time every page, one request per size in turn."""
    with ExitStack() as stack:
        filled, sites = {}, {}
        for count in sizes:
            url = stack.enter_context(temporary_database(kind))
            app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
            with app.app_context():
                filled[count] = fill(count)
                db.session.remove()
                db.engine.dispose()
            sites[count] = _Site(url, filled[count]["user"])
        for site in sites.values():
            for name in PAGES:
                for _ in range(3):
                    site.get(name)
        for _ in range(requests):
            for site in sites.values():
                for name in PAGES:
                    site.times[name].append(site.get(name))
        results = {
            str(count): {**filled[count], "pages": sites[count].summary()} for count in sizes
        }
    largest = results[str(max(sizes))]["pages"]
    return {
        "database": kind,
        "sizes": results,
        "target_ms_at_largest": TARGET_MS,
        "met": all(page["median_ms"] <= TARGET_MS for page in largest.values()),
    }


def run(
    *, sizes: tuple[int, ...] = (100, 10_000), requests: int = 25, postgres: bool = True
) -> dict:
    """The inventory benchmark on SQLite and (when reachable) PostgreSQL."""
    results = {"sqlite": run_on("sqlite", sizes, requests)}
    why_not = postgres_available() if postgres else "turned off (--no-postgres)"
    results["postgresql"] = (
        {"skipped": why_not} if why_not else run_on("postgresql", sizes, requests)
    )
    return results


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """Table rows: benchmark, measure, small, large, verdict."""
    table = []
    for kind, figures in results.items():
        if "skipped" in figures:
            table.append((f"inventory {kind}", "skipped", "", "", figures["skipped"][:60]))
            continue
        sizes = figures["sizes"]
        small, large = min(sizes, key=int), max(sizes, key=int)
        for name in PAGES:
            big = sizes[large]["pages"][name]
            verdict = "met" if big["median_ms"] <= TARGET_MS else "MISSED"
            table.append(
                (
                    f"inventory {kind}",
                    f"{PAGES[name]} median ms, {int(small):,} vs {int(large):,} "
                    f"({big['sql_statements']} SQL)",
                    f"{sizes[small]['pages'][name]['median_ms']:.1f}",
                    f"{big['median_ms']:.1f}",
                    f"<= {TARGET_MS:.0f} ms {verdict}",
                )
            )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_inventory", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="100,10000", help="vehicle counts, small vs large")
    parser.add_argument("--requests", type=int, default=25, help="timed loads per page and size")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    sizes = tuple(sorted(int(size) for size in args.sizes.split(",")))
    results = run(sizes=sizes, requests=args.requests, postgres=not args.no_postgres)
    header = ("benchmark", "measure", "small", "large", "target")
    table = [header, *rows(results)]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-inventory.json"
    path.write_text(json.dumps({"settings": vars(args), "results": results}, indent=2) + "\n")
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
