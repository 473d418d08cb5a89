"""Pieces the cadence benchmarks and the cadence tests share.

- `SmtpSink` / `smtp_sink()`: a real SMTP server (aiosmtpd) on loopback that records when each
  message arrived, for whom, and its Message-ID.
- `insert_due_touches()`: many scheduled automatic e-mails made fast with Core inserts
  (customers, leads, an active LeadCadence each, touches), in the current app context.
- Small helpers for the benchmarks: an app on a throw-away database, child processes that are
  always stopped, quantiles, the machine's CPU use.
"""

from __future__ import annotations

import math
import os
import re
import socket
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import insert, select

from bench.bench_app import PROJECT_ROOT, create_bench_app, postgres_available

HOST = "127.0.0.1"
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Received:
    """One message the SMTP server accepted: wall-clock time, envelope recipients, Message-ID."""

    at: float
    recipients: tuple[str, ...]
    message_id: str


class SmtpSink:
    """aiosmtpd handler that accepts everything and records each message's arrival."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Received] = []

    async def handle_DATA(self, server, session, envelope):
        arrived = time.time()
        header_end = envelope.content.find(b"\r\n\r\n")
        found = MESSAGE_ID.search(envelope.content, 0, header_end if header_end > 0 else None)
        message_id = found.group(1).decode("ascii", "replace") if found else ""
        with self.lock:
            self.messages.append(Received(arrived, tuple(envelope.rcpt_tos), message_id))
        return "250 OK queued"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def repeated(self) -> dict[str, dict[str, int]]:
        """Message-IDs and recipients seen more than once (a resend has a new Message-ID, so
        the recipient, unique per touch in these runs, is what catches it)."""
        messages = self.snapshot()
        by_id = Counter(m.message_id for m in messages)
        by_rcpt = Counter(r for m in messages for r in m.recipients)
        return {
            "message_ids": {k: v for k, v in by_id.items() if v > 1},
            "recipients": {k: v for k, v in by_rcpt.items() if v > 1},
        }


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    """A recording SMTP server on loopback; yields (sink, port)."""
    sink = SmtpSink()
    controller = Controller(sink, hostname=HOST, port=free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


def recipient(tag: str, n: int) -> str:
    """The customer e-mail address of the n-th inserted lead (unique per touch when per_lead=1)."""
    return f"bench.{tag}.{n}@example.com"


def insert_due_touches(
    count: int,
    due_at: datetime,
    *,
    tag: str,
    per_lead: int = 1,
    received_at: datetime | None = None,
    plan_key: str = "new_vehicle",
    template_key: str = "auto_response",
    chunk: int = 5000,
) -> int:
    """Insert `count` scheduled automatic e-mails (first one of each lead due at `due_at`, the
    others a day apart) for new customers and leads with an active plan; commits. Position 0
    and a recent `received_at` make the first e-mail an answer to the inquiry (no consent
    needed). Returns how many leads were made."""
    from dealer_leads.cadence.models import FollowUpPlan, LeadCadence, Touch
    from dealer_leads.database import now_utc
    from dealer_leads.extensions import db
    from dealer_leads.leads.models import Customer, Lead

    received_at = received_at or now_utc()
    plan_id = db.session.scalar(select(FollowUpPlan.id).where(FollowUpPlan.key == plan_key))
    leads = -(-count // per_lead)
    for first in range(0, leads, chunk):
        numbers = range(first, min(first + chunk, leads))
        customer_ids = _insert_returning(
            Customer,
            [
                {
                    "first_name": "Jordan",
                    "last_name": f"Bench{n}",
                    "email": recipient(tag, n),
                    "created_at": received_at,
                }
                for n in numbers
            ],
        )
        lead_ids = _insert_returning(
            Lead,
            [
                {
                    "customer_id": customer_id,
                    "channel": "api",
                    "source": "Bench",
                    "latest_source": "Bench",
                    "received_at": received_at,
                    "last_activity_at": received_at,
                }
                for customer_id in customer_ids
            ],
        )
        cadence = {"plan_id": plan_id, "state": "active", "started_at": received_at}
        db.session.execute(
            insert(LeadCadence.__table__),
            [{**cadence, "lead_id": lead_id, "updated_at": received_at} for lead_id in lead_ids],
        )
        touches = [
            {
                "lead_id": lead_id,
                "plan_id": plan_id,
                "position": step,
                "channel": "auto_email",
                "template_key": template_key,
                "due_at": due_at + timedelta(days=step),
                "status": "scheduled",
                "created_at": received_at,
            }
            for n, lead_id in zip(numbers, lead_ids, strict=True)
            for step in range(min(per_lead, count - n * per_lead))
        ]
        db.session.execute(insert(Touch.__table__), touches)
    db.session.commit()
    return leads


def _insert_returning(model, rows: list[dict]) -> list[int]:
    from dealer_leads.extensions import db

    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.session.execute(statement, rows).scalars())


# -- helpers for the benchmarks ------------------------------------------------------------------


def bench_app_on(url: str):
    """The bench app (the real app plus the bench-only endpoint) on `url`."""
    return create_bench_app(SQLALCHEMY_DATABASE_URI=url)


@contextmanager
def in_app(url: str) -> Iterator:
    """An app context on `url`; connections closed afterwards (the database gets dropped)."""
    from dealer_leads.extensions import db

    with bench_app_on(url).app_context():
        try:
            yield db
        finally:
            db.session.remove()
            db.engine.dispose()


@contextmanager
def running(command: list[str], env: dict, log) -> Iterator[subprocess.Popen]:
    """A child process that is always stopped: SIGTERM, then SIGKILL after 15 s."""
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) - 1e-9)
    return ordered[min(len(ordered), max(rank, 1)) - 1]


def summary(values: list[float], digits: int = 3) -> dict:
    """n, median, p90, p99 (nearest rank) and max of `values`."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "p90": round(quantile(values, 0.90), digits),
        "p99": round(quantile(values, 0.99), digits),
        "max": round(max(values), digits),
    }


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_since(start: tuple[int, int]) -> float:
    """The share of the machine's CPU time that was busy since `start` (from cpu_busy)."""
    busy, total = cpu_busy()
    return round((busy - start[0]) / (total - start[1]), 3) if total > start[1] else 0.0


def mail_env(url: str, smtp_port: int, **extra: str) -> dict:
    """A child's environment: the database, and the loopback SMTP server without TLS."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MAIL_SERVER": HOST,
        "MAIL_PORT": str(smtp_port),
        "MAIL_USE_TLS": "0",
        **extra,
    }


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def database_kinds(postgres: bool, results: dict) -> list[str]:
    """sqlite, and postgresql when wanted and reachable (else why not, in `results`)."""
    why_not = postgres_available() if postgres else "turned off (--no-postgres)"
    if why_not:
        results["postgresql"] = {"skipped": why_not}
        return ["sqlite"]
    return ["sqlite", "postgresql"]
