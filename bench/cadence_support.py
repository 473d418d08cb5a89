"""Pieces the cadence benchmarks and the cadence crash tests share.

- `SmtpSink` / `smtp_sink()`: a real SMTP server (aiosmtpd) on loopback that records when each
  message arrived, for whom, and its Message-ID.
- `insert_due_touches()`: many scheduled automatic e-mails made fast with Core inserts
  (customers, leads, an active LeadCadence each, touches), in the current app context.
- A child process (`python -m bench.cadence_support drain|send-only|worker`): one worker that
  runs `run_due_touches` back to back until nothing is due, the bare SMTP sender as a baseline,
  or the real scheduler (`build_scheduler`) with a sub-second tick.
- `ReusingSmtpSender`: bench-only prototype of a sender that keeps one SMTP connection for a
  tick's messages (the proposal in the cadence benchmark's report); the app does not use it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import smtplib
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import insert, select

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


class ReusingSmtpSender:
    """Bench-only prototype: the shipped SmtpSender's checks and error mapping, but one
    connection for many messages (NOOP before reuse; a dead connection is replaced before
    anything is sent, so no message can go twice). `close()` ends the connection."""

    def __init__(self, sender) -> None:
        self.sender, self._smtp = sender, None

    def send(self, message) -> str:
        from dealer_leads.messaging import senders

        message_id = senders._message_id(message)
        recipients = senders._recipients(message)
        smtp = self._connection()
        try:
            self.sender._deliver(smtp, message, recipients)
        except senders.TemporarySendError:
            self.close()  # the connection may be half-way through a transaction
            raise
        return message_id

    def _connection(self) -> smtplib.SMTP:
        from dealer_leads.messaging.senders import TemporarySendError

        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        try:
            self._smtp = self.sender._connect()
        except (smtplib.SMTPException, OSError) as error:
            raise TemporarySendError(f"SMTP {self.sender.host}: {error}") from error
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            from dealer_leads.messaging.senders import _quit

            _quit(self._smtp)
            self._smtp = None


def _senders(app, kind: str):
    from dealer_leads.cadence.outbound import Senders, senders_from_config

    senders = senders_from_config(app.config)
    if kind == "reusing":
        senders = Senders(mail=ReusingSmtpSender(senders.mail), sms=senders.sms)
    return senders


def _ready_then_wait(app) -> None:
    """Connect, warm up, say 'ready', and start when the parent writes a line."""
    from dealer_leads.extensions import db

    with app.app_context():
        db.session.execute(select(1))
    print("ready", flush=True)
    sys.stdin.readline()


def drain(batch: int, sender: str) -> dict:
    """One worker: ticks back to back (each in its own app context, as `flask worker` runs
    them) until a tick claims nothing; returns what it did."""
    from config import Config
    from dealer_leads import create_app
    from dealer_leads.cadence.engine import run_due_touches
    from dealer_leads.database import now_utc

    app = create_app(Config)
    _ready_then_wait(app)
    began, cpu = time.perf_counter(), time.process_time()
    outcomes: Counter = Counter()
    ticks = largest = 0
    while True:
        with app.app_context():
            senders = _senders(app, sender)
            try:
                report = run_due_touches(
                    now_utc(), senders, limit=batch, worker=f"bench{os.getpid()}"
                )
            finally:
                getattr(senders.mail, "close", lambda: None)()
        ticks += 1
        outcomes.update(report.outcomes)
        largest = max(largest, report.claimed)
        if not report.claimed:
            break
    return {
        "ticks": ticks,
        "largest_claim": largest,  # more than --batch: the LIMIT did not hold
        "outcomes": dict(outcomes),
        "seconds": time.perf_counter() - began,
        "cpu_seconds": time.process_time() - cpu,
    }


def send_only(count: int, sender: str) -> dict:
    """Baseline: the same kind of message built beforehand, handed to the sender `count` times
    (no database, no rendering)."""
    from config import Config
    from dealer_leads import create_app
    from dealer_leads.messaging.email import build_email
    from dealer_leads.messaging.templates import Rendered

    app = create_app(Config)
    text = "Hi Jordan,\n\nThank you for your inquiry about the 2026 Toyota RAV4.\n" * 8
    messages = [
        build_email(
            rendered=Rendered("Your inquiry about the 2026 Toyota RAV4", text, f"<p>{text}</p>"),
            to=recipient("sendonly", n),
            from_addr="leads@localhost",
            reply_to=f"leads+{n:016d}@localhost",
            message_id_domain="localhost",
            unsubscribe_url="http://127.0.0.1:5000/unsubscribe/x",
            dealership_footer_text="Maple Ridge Motors",
            dealership_footer_html="Maple Ridge Motors",
        )
        for n in range(count)
    ]
    _ready_then_wait(app)
    mail = _senders(app, sender).mail
    began, cpu = time.perf_counter(), time.process_time()
    for message in messages:
        mail.send(message)
    getattr(mail, "close", lambda: None)()
    return {"seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}


def scheduled_worker(tick: float) -> None:
    """The real `flask worker` scheduler, with a tick below the 1 s that CADENCE_TICK_SECONDS
    (an integer setting) allows: what an immediate or sub-second trigger would give."""
    from config import Config
    from dealer_leads import create_app
    from dealer_leads.worker import build_scheduler

    app = create_app(Config, CADENCE_TICK_SECONDS=tick)
    scheduler = build_scheduler(app)
    print(f"worker: {len(scheduler.get_jobs())} jobs scheduled (tick {tick}s)", flush=True)
    scheduler.start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cadence_support")
    parser.add_argument("role", choices=("drain", "send-only", "worker"))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--sender", choices=("smtp", "reusing"), default="smtp")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--tick", type=float, default=0.2)
    args = parser.parse_args(argv)
    if args.role == "worker":
        scheduled_worker(args.tick)
        return 0
    if args.role == "drain":
        figures = drain(args.batch, args.sender)
    else:
        figures = send_only(args.count, args.sender)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
