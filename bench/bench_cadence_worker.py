"""The cadence worker's throughput (10,000 due e-mails, one or two workers) and its idle tick
(100,000 touches scheduled, none due). Run through `python -m bench.bench_cadence`."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from bench.bench_app import PROJECT_ROOT, temporary_database
from bench.cadence_support import (
    SmtpSink,
    bench_app_on,
    busy_since,
    cpu_busy,
    database_kinds,
    in_app,
    insert_due_touches,
    mail_env,
    running,
    smtp_sink,
    summary,
    wait_for,
)

THROUGHPUT_RATE, SCALE_RATIO, IDLE_MS = 200.0, 1.6, 20.0

# -- throughput ---------------------------------------------------------------------------------


def _children(role: list[str], count: int, env: dict, timeout: float) -> tuple[float, list[dict]]:
    """Start `count` children, wait until each is ready, start them together, wait for all;
    returns (wall seconds from the start signal to the last exit, each child's figures)."""
    command = [sys.executable, "-m", "bench.cadence_child", *role]
    processes = [
        subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            line = process.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"child did not start: {line}{process.stderr.read()[-3000:]}")
        began = time.perf_counter()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=timeout) for process in processes]
        seconds = time.perf_counter() - began
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
    for process, (_out, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"child failed ({process.returncode}):\n{err[-3000:]}")
    return seconds, [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def _checks(url: str, sink: SmtpSink) -> dict:
    """Exactly once: per touch one outbound_messages row, and at the SMTP server each touch's
    Message-ID (and its recipient) once; nothing received that no touch recorded."""
    from dealer_leads.cadence.models import Touch
    from dealer_leads.messaging.models import OutboundMessage

    with in_app(url) as db:
        statuses = dict(
            db.session.execute(select(Touch.status, func.count()).group_by(Touch.status)).all()
        )
        recorded = set(db.session.scalars(select(Touch.message_id).where(Touch.status == "sent")))
        per_touch = (
            select(OutboundMessage.touch_id)
            .group_by(OutboundMessage.touch_id)
            .having(func.count() > 1)
        )
        rows_twice = len(db.session.scalars(per_touch).all())
        outbound = db.session.scalar(select(func.count(OutboundMessage.id)))
    received = {m.message_id for m in sink.snapshot()}
    repeated = sink.repeated()
    return {
        "touch_statuses": statuses,
        "outbound_rows": outbound,
        "touches_with_two_outbound_rows": rows_twice,
        "smtp_messages": sink.count(),
        "smtp_message_ids_twice": len(repeated["message_ids"]),
        "smtp_recipients_twice": len(repeated["recipients"]),
        "sent_not_received": len(recorded - received),
        "received_not_recorded": len(received - recorded),
    }


def _exactly_once(checks: dict, touches: int) -> bool:
    return (
        checks["touch_statuses"] == {"sent": touches}
        and checks["outbound_rows"] == checks["smtp_messages"] == touches
        and not any(
            checks[k]
            for k in (
                "touches_with_two_outbound_rows",
                "smtp_message_ids_twice",
                "smtp_recipients_twice",
                "sent_not_received",
                "received_not_recorded",
            )
        )
    )


def drain_leg(
    kind: str, workers: int, touches: int, batch: int, sender: str, analyze: bool = True
) -> dict:
    """A fresh database with `touches` due e-mails, drained by `workers` worker processes."""
    from dealer_leads.cadence.defaults import ensure_default_plans
    from dealer_leads.database import now_utc

    with temporary_database(kind) as url, smtp_sink() as (sink, smtp_port):
        with in_app(url) as db:
            ensure_default_plans()
            began = time.perf_counter()
            insert_due_touches(touches, now_utc() - timedelta(minutes=1), tag=f"{kind}{workers}")
            insert_seconds = time.perf_counter() - began
            if analyze and kind == "postgresql":  # a live table has statistics (see README)
                db.session.execute(text("ANALYZE touches"))
                db.session.commit()
        env = mail_env(url, smtp_port)
        cpu = cpu_busy()
        role = ["drain", "--batch", str(batch), "--sender", sender]
        seconds, children = _children(role, workers, env, timeout=touches / 5 + 120)
        busy = busy_since(cpu)
        checks = _checks(url, sink)
    sent = checks["touch_statuses"].get("sent", 0)
    return {
        "database": kind,
        "workers": workers,
        "sender": sender,
        "batch": batch,
        "analyzed": analyze,
        "touches": touches,
        "insert_seconds": round(insert_seconds, 2),
        "seconds": round(seconds, 2),
        "touches_per_s": round(sent / seconds, 1),
        "machine_cpu_busy": busy,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "children": children,
        "checks": checks,
        "exactly_once": _exactly_once(checks, touches),
    }


def send_only_leg(count: int, sender: str) -> dict:
    """Baseline: the sender alone on pre-built messages, in a child process like the worker."""
    with smtp_sink() as (sink, smtp_port):
        env = mail_env("sqlite://", smtp_port)
        cpu = cpu_busy()
        seconds, [child] = _children(
            ["send-only", "--count", str(count), "--sender", sender], 1, env, 300
        )
        received = sink.count()
    return {
        "sender": sender,
        "messages": count,
        "received": received,
        "seconds": round(child["seconds"], 2),
        "messages_per_s": round(count / child["seconds"], 1),
        "child_cpu_ms_per_message": round(child["cpu_seconds"] / count * 1000, 2),
        "machine_cpu_busy": busy_since(cpu),
    }


def scheduled_leg(kind: str, touches: int, tick: int = 1, batch: int = 100) -> dict:
    """`flask worker` as shipped (APScheduler, one run_due_touches of CADENCE_BATCH per
    CADENCE_TICK_SECONDS) on `touches` due e-mails: first to last receipt at the server."""
    from dealer_leads.cadence.defaults import ensure_default_plans
    from dealer_leads.database import now_utc

    with temporary_database(kind) as url, smtp_sink() as (sink, smtp_port):
        with in_app(url):
            ensure_default_plans()
            insert_due_touches(touches, now_utc() - timedelta(minutes=1), tag=f"{kind}w")
        extra = {"CADENCE_TICK_SECONDS": str(tick), "CADENCE_BATCH": str(batch)}
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
        with (
            tempfile.TemporaryFile("w+") as log,
            running(command, mail_env(url, smtp_port, **extra), log),
        ):
            done = wait_for(lambda: sink.count() >= touches, touches / 5 + 60, 0.2)
        checks = _checks(url, sink)
    received = sorted(m.at for m in sink.snapshot())
    seconds = received[-1] - received[0] if len(received) > 1 else 0.0
    return {
        "database": kind,
        "workers": 1,
        "sender": "smtp",
        "batch": batch,
        "tick_seconds": tick,
        "touches": touches,
        "finished": done,
        "seconds_first_to_last": round(seconds, 2),
        "touches_per_s": round((len(received) - 1) / seconds, 1) if seconds else 0.0,
        "checks": checks,
        "exactly_once": _exactly_once(checks, touches),
    }


def _pooled(legs: list[dict]) -> dict:
    """Several rounds of one configuration: touches over seconds, all rounds together."""
    touches, seconds = sum(leg["touches"] for leg in legs), sum(leg["seconds"] for leg in legs)
    return {
        **{key: legs[0][key] for key in ("database", "workers", "sender", "batch")},
        "touches": touches,
        "seconds": round(seconds, 2),
        "touches_per_s": round(touches / seconds, 1),
        "per_round_per_s": [leg["touches_per_s"] for leg in legs],
        "exactly_once": all(leg["exactly_once"] for leg in legs),
        "rounds": legs,
    }


def _postgres_scaling(results: dict, touches: int, batch: int, rounds: int) -> None:
    """One worker, then two, alternating `rounds` times (the machine's noise hits both)."""
    legs: dict[int, list[dict]] = {1: [], 2: []}
    for number in range(rounds):
        for workers in legs:
            print(
                f"   throughput postgresql {workers} worker(s), round {number + 1} ...",
                file=sys.stderr,
                flush=True,
            )
            legs[workers].append(drain_leg("postgresql", workers, touches, batch, "smtp"))
    one, two = _pooled(legs[1]), _pooled(legs[2])
    results["postgresql 1 worker smtp"], results["postgresql 2 workers smtp"] = one, two
    per_round = [
        b["touches_per_s"] / a["touches_per_s"] for a, b in zip(legs[1], legs[2], strict=True)
    ]
    results["postgresql scaling"] = {
        "one_per_s": one["touches_per_s"],
        "two_per_s": two["touches_per_s"],
        "ratio": round(two["touches_per_s"] / one["touches_per_s"], 3),
        "per_round": [round(r, 3) for r in per_round],
        "target": SCALE_RATIO,
    }


def throughput(
    *, touches: int, batch: int, postgres: bool, reusing: bool = True, rounds: int = 2
) -> dict:
    """Baselines (sender alone), SQLite one worker, PostgreSQL one and two workers."""
    results: dict = {"target_sqlite_per_s": THROUGHPUT_RATE}
    senders = ["smtp", "reusing"] if reusing else ["smtp"]
    for sender in senders:
        print(f"   throughput baseline sender {sender} ...", file=sys.stderr, flush=True)
        results[f"baseline sender {sender}"] = send_only_leg(min(touches, 2000), sender)
    for sender in senders:
        print(f"   throughput sqlite 1 worker {sender} ...", file=sys.stderr, flush=True)
        results[f"sqlite 1 worker {sender}"] = drain_leg("sqlite", 1, touches, batch, sender)
    print("   throughput sqlite flask worker as shipped ...", file=sys.stderr, flush=True)
    results["sqlite flask worker, tick 1 s"] = scheduled_leg("sqlite", min(touches, 2000))
    if "postgresql" not in database_kinds(postgres, results):
        return results
    _postgres_scaling(results, touches, batch, rounds)
    # A fresh table without statistics: does one tick still claim at most its batch?
    print("   throughput postgresql 1 worker, no ANALYZE ...", file=sys.stderr, flush=True)
    results["postgresql 1 worker smtp no-ANALYZE"] = drain_leg(
        "postgresql", 1, min(touches, 1000), batch, "smtp", analyze=False
    )
    return results


# -- idle tick ----------------------------------------------------------------------------------


class _NoSenders:
    """Nothing is due in the idle runs: a send would be a bug."""

    mail = sms = None


def _tick_ms(app) -> float:
    from dealer_leads.cadence.engine import run_due_touches
    from dealer_leads.database import now_utc

    with app.app_context():
        began = time.perf_counter()
        report = run_due_touches(now_utc(), _NoSenders())
        elapsed = (time.perf_counter() - began) * 1000
    assert report.claimed == 0 and report.flagged == 0, report
    return elapsed


PLAN_SQL = {
    "claim": "SELECT id FROM touches WHERE status = 'scheduled' AND due_at <= :now "
    "ORDER BY due_at, id LIMIT 100",
    "stale": "SELECT id FROM touches WHERE status = 'claimed' AND claimed_at < :now",
}


def _plans(db, kind: str) -> dict[str, list[str]]:
    """The query plans of the tick's two selects (written out here as the engine builds them)."""
    prefix = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLite stores naive UTC
    now = now if kind == "sqlite" else now + "+00"
    plans = {}
    for name, sql in PLAN_SQL.items():
        rows = db.session.execute(text(prefix + sql), {"now": now}).all()
        plans[name] = [" ".join(str(c) for c in row) for row in rows]
    db.session.rollback()
    return plans


def idle_on(kind: str, *, scheduled: int, ticks: int) -> dict:
    """Empty table vs `scheduled` future touches, alternating ticks on two fresh databases."""
    from dealer_leads.database import now_utc
    from dealer_leads.extensions import db

    with temporary_database(kind) as empty_url, temporary_database(kind) as full_url:
        with in_app(full_url):
            began = time.perf_counter()
            leads = insert_due_touches(
                scheduled, now_utc() + timedelta(days=1), tag="idle", per_lead=10
            )
            insert_seconds = time.perf_counter() - began
        apps = {"empty": bench_app_on(empty_url), "full": bench_app_on(full_url)}
        times: dict[str, list[float]] = {"empty": [], "full": []}
        for round_ in range(ticks + 3):
            for name, app in apps.items():
                elapsed = _tick_ms(app)
                if round_ >= 3:  # the first ticks connect and warm caches
                    times[name].append(elapsed)
        with apps["full"].app_context():
            plans = _plans(db, kind)
        for app in apps.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    full = statistics.median(times["full"])
    return {
        "database": kind,
        "scheduled": scheduled,
        "leads": leads,
        "insert_seconds": round(insert_seconds, 1),
        "empty_ms": summary(times["empty"], digits=2),
        "full_ms": summary(times["full"], digits=2),
        "ratio": round(full / statistics.median(times["empty"]), 2),
        "plans": plans,
        "target_ms": IDLE_MS,
        "met": full <= IDLE_MS,
    }


def idle(*, scheduled: int, ticks: int, postgres: bool) -> dict:
    results: dict = {}
    for kind in database_kinds(postgres, results):
        print(f"   idle {kind} ...", file=sys.stderr, flush=True)
        results[kind] = idle_on(kind, scheduled=scheduled, ticks=ticks)
    return results
