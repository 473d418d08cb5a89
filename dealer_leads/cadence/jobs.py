"""The cadence job the worker runs every few seconds."""

from __future__ import annotations

import logging
import os
import socket

from flask import current_app

from dealer_leads.cadence.engine import TickReport, run_due_touches
from dealer_leads.cadence.outbound import senders_from_config
from dealer_leads.database import now_utc

log = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def cadence_tick() -> TickReport:
    """Send what is due, open the tasks that are due, flag claims left by a dead worker."""
    config = current_app.config
    report = run_due_touches(
        now_utc(),
        senders_from_config(config),
        limit=config.get("CADENCE_BATCH", 100),
        worker=WORKER_ID,
    )
    if report.claimed or report.flagged:
        log.info(
            "cadence: claimed %s %s flagged %s", report.claimed, report.outcomes, report.flagged
        )
    return report
