"""`flask worker`: the one process that runs scheduled jobs (never started by create_app)."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal

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


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The scheduler with every job, each run inside an app context."""
    scheduler = BlockingScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": 300,
        },
    )

    def in_context(job):
        def run():
            with app.app_context():
                job()

        run.__name__ = job.__name__
        return run

    scheduler.add_job(
        in_context(purge_idempotency_keys),
        "interval",
        id="housekeeping",
        minutes=app.config["WORKER_HOUSEKEEPING_MINUTES"],
        replace_existing=True,
    )
    scheduler.add_job(  # uploads answer at once; the sizes are made here, off the request
        in_context(process_pending_photos),
        "interval",
        id="photos",
        seconds=app.config.get("WORKER_PHOTOS_SECONDS", 5),
        replace_existing=True,
    )
    scheduler.add_job(  # vehicles saved while vPIC was down: decode them now, a few at a time
        in_context(retry_pending_decodes),
        "interval",
        id="vin-decodes",
        minutes=app.config["VPIC_RETRY_MINUTES"],
        replace_existing=True,
    )
    scheduler.add_job(  # the follow-up plans: due e-mails, texts and tasks
        in_context(cadence_tick),
        "interval",
        id="cadence",
        seconds=app.config.get("CADENCE_TICK_SECONDS", 1),
        replace_existing=True,
    )
    scheduler.add_job(  # the leads mailbox (does nothing until IMAP_HOST is set)
        in_context(poll_mailbox),
        "interval",
        id="mailbox",
        seconds=app.config["IMAP_POLL_SECONDS"],
        replace_existing=True,
    )
    scheduler.add_job(  # service, parts and finance leads to the department's address
        in_context(forward_department_leads),
        "interval",
        id="forwarding",
        seconds=app.config.get("FORWARD_SECONDS", 30),
        replace_existing=True,
    )
    scheduler.add_job(  # no-shows, and booked vehicles that sold or changed price
        in_context(sweep_appointments),
        "interval",
        id="appointments",
        seconds=app.config["APPOINTMENT_SWEEP_SECONDS"],
        replace_existing=True,
    )
    scheduler.add_job(  # the feed files behind the pull URLs
        in_context(build_feeds),
        "interval",
        id="feeds",
        minutes=app.config["FEED_BUILD_MINUTES"],
        replace_existing=True,
    )
    return scheduler


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run scheduled jobs until stopped (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
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
