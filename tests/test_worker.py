"""The worker: scheduler wiring, its housekeeping job, and `flask worker` as a real process."""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from dealer_leads.extensions import db
from dealer_leads.leads.ingest import store_inbound
from dealer_leads.leads.jobs import purge_idempotency_keys
from dealer_leads.leads.models import InboundPayload
from dealer_leads.worker import build_scheduler, freeze_startup_objects

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def test_housekeeping_job_has_a_fixed_id_and_never_piles_up(app):
    scheduler = build_scheduler(app)
    # Job defaults are applied when the scheduler starts; paused, it runs nothing.
    thread = threading.Thread(target=scheduler.start, kwargs={"paused": True}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if scheduler.running and scheduler.get_job("housekeeping") is not None:
                break
            time.sleep(0.01)
        job = scheduler.get_job("housekeeping")
        assert job is not None
        assert job.coalesce is True
        assert job.max_instances == 1
        assert isinstance(job.trigger, IntervalTrigger)
        minutes = app.config["WORKER_HOUSEKEEPING_MINUTES"]
        assert job.trigger.interval == timedelta(minutes=minutes)
        assert [j.id for j in scheduler.get_jobs()].count("housekeeping") == 1
    finally:
        scheduler.shutdown(wait=False)
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_every_job_is_named_by_its_id(app):
    """The log and any error name the job, not the wrapper that gives it an app context."""
    jobs = build_scheduler(app).get_jobs()

    assert {job.id for job in jobs} >= {"housekeeping", "cadence", "mailbox", "feeds"}
    assert all(job.name == job.id for job in jobs)
    assert all("<locals>" not in job.func.__qualname__ for job in jobs)


def test_jobs_run_inside_their_own_app_context(app):
    """A scheduler thread has no app context of its own; the job must bring one."""
    job = build_scheduler(app).get_job("housekeeping")
    errors = []

    def run():
        try:
            job.func()
        except Exception as error:  # reported to the test thread below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert errors == []


def test_create_app_starts_no_scheduler(app_factory, monkeypatch):
    started = []
    monkeypatch.setattr(BaseScheduler, "start", lambda self, *a, **k: started.append(self))

    app_factory()

    assert started == []
    assert not [t.name for t in threading.enumerate() if "apscheduler" in t.name.lower()]


def _payload(key: str | None, received_at: datetime) -> InboundPayload:
    inbound = store_inbound("api", b'{"customer": {}}', idempotency_key=key)
    inbound.received_at = received_at
    db.session.commit()
    return inbound


def test_purge_forgets_old_idempotency_keys_and_keeps_recent_ones(app):
    keep = timedelta(days=app.config["IDEMPOTENCY_KEEP_DAYS"])
    old = _payload("old-key", NOW - keep - timedelta(minutes=1))
    older = _payload("older-key", NOW - keep - timedelta(days=30))
    recent = _payload("recent-key", NOW - keep + timedelta(minutes=1))
    fresh = _payload("fresh-key", NOW - timedelta(seconds=5))
    keyless = _payload(None, NOW - keep - timedelta(days=2))

    assert purge_idempotency_keys(NOW) == 2

    db.session.expire_all()
    assert old.idempotency_key is None and older.idempotency_key is None
    assert recent.idempotency_key == "recent-key" and fresh.idempotency_key == "fresh-key"
    assert keyless.idempotency_key is None
    assert old.raw == b'{"customer": {}}'  # only the key is forgotten, never the payload
    assert db.session.scalar(db.select(db.func.count(InboundPayload.id))) == 5
    assert purge_idempotency_keys(NOW) == 0


def _flask_command() -> list[str]:
    script = Path(sys.executable).with_name("flask")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flask"]


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


@pytest.mark.skipif(sys.platform != "linux", reason="SIGTERM handling is checked on Linux")
def test_flask_worker_runs_quietly_until_sigterm(tmp_path):
    """Started, it runs its jobs (the cadence every second) without a log line per run."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FLASK_ENV", None)
    flask = [*_flask_command(), "--app", "wsgi"]
    upgraded = subprocess.run(
        [*flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert upgraded.returncode == 0, upgraded.stderr

    worker = subprocess.Popen(
        [*flask, "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(worker.stdout, output), daemon=True).start()
    try:
        seen = []
        while not any("jobs scheduled" in line for line in seen):
            line = output.get(timeout=60)
            assert line is not None, "".join(seen)
            seen.append(line)
        deadline = time.monotonic() + 2.5  # the cadence job runs twice or more meanwhile
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(queue.Empty):
                seen.append(output.get(timeout=left))
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=10)
        while (line := output.get(timeout=5)) is not None:
            seen.append(line)
        assert code == 0, "".join(seen)
        assert not [line for line in seen if "Running job" in line or "executed" in line]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()


def test_start_up_objects_are_frozen_after_the_garbage_is_collected():
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage  # only the cyclic collector can free it
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_startup_objects()
        assert gone() is None  # collected first, not kept forever
        assert gc.get_freeze_count() > 1000  # the modules, the app and its mappers
    finally:
        gc.unfreeze()
