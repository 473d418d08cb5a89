"""Child processes of the cadence benchmarks: `python -m bench.cadence_child ROLE`.

- drain: one worker that runs `run_due_touches` back to back (each tick in its own app
  context, as `flask worker` runs them) until a tick claims nothing; prints its figures.
- send-only: the bare sender on pre-built messages (the throughput baseline).
- worker: the real scheduler (`build_scheduler`) with a tick below the 1 s that the integer
  setting CADENCE_TICK_SECONDS allows: what a sub-second or immediate trigger would give.

`ReusingSmtpSender` is the bench-only prototype of a sender that keeps one SMTP connection for a
tick's messages; the app's own SmtpSender has done so since (`reuse=True` in the worker), so the
"reusing" legs now wrap a reusing sender and measure the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import sys
import time
from collections import Counter

from sqlalchemy import select

from bench.cadence_support import recipient


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
    from dealer_leads.worker import freeze_startup_objects

    app = create_app(Config)
    _ready_then_wait(app)
    freeze_startup_objects()  # as `flask worker` does before its first tick
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
    from dealer_leads.worker import build_scheduler, freeze_startup_objects

    app = create_app(Config, CADENCE_TICK_SECONDS=tick)
    scheduler = build_scheduler(app)
    print(f"worker: {len(scheduler.get_jobs())} jobs scheduled (tick {tick}s)", flush=True)
    freeze_startup_objects()
    scheduler.start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cadence_child")
    parser.add_argument("role", choices=("drain", "send-only", "worker"))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--sender", choices=("smtp", "reusing"), default="smtp")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--tick", type=float, default=0.2)
    args = parser.parse_args(argv)
    if args.role == "worker":
        scheduled_worker(args.tick)
        return 0
    if args.role == "drain" and os.environ.get("BENCH_PROFILE"):
        # BENCH_PROFILE=FILE: the drain under cProfile (slower), its statistics written to FILE
        import cProfile

        profiler = cProfile.Profile()
        figures = profiler.runcall(drain, args.batch, args.sender)
        profiler.dump_stats(os.environ["BENCH_PROFILE"])
    elif args.role == "drain":
        figures = drain(args.batch, args.sender)
    else:
        figures = send_only(args.count, args.sender)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
