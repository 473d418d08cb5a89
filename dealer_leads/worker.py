"""`flask worker`: the one process that runs scheduled jobs (never started by create_app)."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
from collections.abc import Callable

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import with_appcontext

from dealer_leads.appointments.jobs import sweep_appointments
from dealer_leads.cadence.jobs import cadence_tick, check_configuration
from dealer_leads.inventory.decode_retries import retry_pending_decodes
from dealer_leads.inventory.feed_jobs import build_feeds
from dealer_leads.inventory.photo_jobs import process_pending_photos
from dealer_leads.leads.jobs import purge_idempotency_keys
from dealer_leads.messaging.forwarding_jobs import forward_department_leads
from dealer_leads.messaging.mailbox_jobs import poll_mailbox

log = logging.getLogger(__name__)


def freeze_startup_objects() -> None:
    """Keep what start-up made (the app, every module, SQLAlchemy's mappers) out of the cyclic
    garbage collector's walks from now on. A long-running process otherwise walks all of it at
    every full collection, which the objects of each sent e-mail trigger every few hundred
    touches: about a millisecond a touch, measured. Garbage is collected first, so none is kept.
    """
    gc.collect()
    gc.freeze()


def _jobs(config) -> list[tuple[str, Callable[[], object], dict]]:
    """Each job: its id (also its name in the log), what it runs, and how often."""
    return [
        # idempotency keys older than IDEMPOTENCY_KEEP_DAYS (the payloads are kept)
        (
            "housekeeping",
            purge_idempotency_keys,
            {"minutes": config["WORKER_HOUSEKEEPING_MINUTES"]},
        ),
        # uploads answer at once; the sizes are made here, off the request
        ("photos", process_pending_photos, {"seconds": config.get("WORKER_PHOTOS_SECONDS", 5)}),
        # vehicles saved while vPIC was down: decode them now, a few at a time
        ("vin-decodes", retry_pending_decodes, {"minutes": config["VPIC_RETRY_MINUTES"]}),
        # the follow-up plans: due e-mails, texts and tasks
        ("cadence", cadence_tick, {"seconds": config.get("CADENCE_TICK_SECONDS", 1)}),
        # the leads mailbox (does nothing until IMAP_HOST is set)
        ("mailbox", poll_mailbox, {"seconds": config["IMAP_POLL_SECONDS"]}),
        # service, parts and finance leads to the department's address
        ("forwarding", forward_department_leads, {"seconds": config.get("FORWARD_SECONDS", 30)}),
        # no-shows, and booked vehicles that sold or changed price
        ("appointments", sweep_appointments, {"seconds": config["APPOINTMENT_SWEEP_SECONDS"]}),
        # the feed files behind the pull URLs
        ("feeds", build_feeds, {"minutes": config["FEED_BUILD_MINUTES"]}),
    ]


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The scheduler with every job, each run inside an app context."""
    scheduler = BlockingScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )

    def in_context(job):
        def run():
            with app.app_context():
                job()

        run.__name__ = run.__qualname__ = job.__name__
        return run

    for job_id, job, every in _jobs(app.config):
        scheduler.add_job(
            in_context(job), "interval", id=job_id, name=job_id, replace_existing=True, **every
        )
    return scheduler


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run scheduled jobs until stopped (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # A line per run (every second for the cadence) would bury what the jobs say; a job that
    # fails or misses its time is still logged (errors and warnings).
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    app = current_app._get_current_object()
    check_configuration(app)  # a channel switched off by its settings is said at start-up
    scheduler = build_scheduler(app)

    def stop(*_):
        if scheduler.running:
            scheduler.shutdown(wait=False)
        else:
            raise SystemExit(0)  # stopped before the scheduler started

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"worker: {len(scheduler.get_jobs())} jobs scheduled; Ctrl-C stops.")
    freeze_startup_objects()
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
