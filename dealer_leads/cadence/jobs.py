"""The cadence job the worker runs every few seconds."""

from __future__ import annotations

import logging
import os
import socket
import time

from flask import Flask, current_app

from dealer_leads.cadence.engine import TickReport, run_due_touches
from dealer_leads.cadence.outbound import senders_from_config
from dealer_leads.database import now_utc
from dealer_leads.messaging.sms import sms_config_problem

log = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def check_configuration(app: Flask) -> list[str]:
    """Log, once per worker process, the settings that switch a channel off (incomplete SMS
    settings: texts fail with the reason while e-mails and tasks go on); returns them."""
    problems = [problem for problem in (sms_config_problem(app.config),) if problem]
    if not app.extensions.get("cadence_config_checked"):
        app.extensions["cadence_config_checked"] = True
        for problem in problems:
            log.error("cadence: configuration error, texts are switched off: %s", problem)
    return problems


def cadence_tick() -> TickReport:
    """Send what is due, open the tasks that are due, flag claims left by a dead worker.

    While batches come back full, claim again (for up to CADENCE_TICK_BUDGET_SECONDS): a
    backlog drains at the worker's own speed, not one CADENCE_BATCH per CADENCE_TICK_SECONDS."""
    config = current_app.config
    check_configuration(current_app)  # the first tick, as the worker starts
    limit = config.get("CADENCE_BATCH", 100)
    deadline = time.monotonic() + config.get("CADENCE_TICK_BUDGET_SECONDS", 30)
    senders = senders_from_config(config)
    total = TickReport()
    try:
        while True:
            report = run_due_touches(now_utc(), senders, limit=limit, worker=WORKER_ID)
            total.add(report)
            if report.claimed < limit or time.monotonic() >= deadline:
                break
    finally:
        senders.close()
    if total.claimed or total.flagged:
        log.info("cadence: claimed %s %s flagged %s", total.claimed, total.outcomes, total.flagged)
    return total
