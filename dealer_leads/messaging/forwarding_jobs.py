"""The worker's forwarding job: every service, parts or finance lead, whatever its channel, is
forwarded once to the department's address (set by the admin).

Leads are claimed (`forwarded_at`, committed) before anything is sent: on PostgreSQL the rows
are selected `FOR UPDATE SKIP LOCKED`, so two workers never take the same lead; SQLite has one
writer at a time. A lead whose send failed is tried again after RETRY_AFTER; the run stops at
its first failure (a relay that is down would otherwise cost a timeout per lead) and gives back
the claims it did not try. A lead whose
department has no address waits (for people, in the department's queue) and is forwarded once
the admin sets one; a lead re-routed to a department later is forwarded then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, text, update

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import UNFORWARDED, Lead, LeadEvent
from dealer_leads.messaging.forwarding import (
    build_forward,
    build_lead_forward,
    claim_forwards,
    department_addresses,
    lead_url,
    send_forward,
)
from dealer_leads.messaging.mail_in import read_mail_once
from dealer_leads.messaging.senders import MailSender, mail_sender_from_config

log = logging.getLogger(__name__)

BATCH = 50
# A failed forward is tried again after this; sooner would write a line on the timeline of
# every waiting lead every few seconds while the relay is down.
RETRY_AFTER = timedelta(minutes=15)


@dataclass
class ForwardReport:
    """What one run did, for logs and tests."""

    claimed: int = 0
    forwarded: int = 0
    failed: int = 0
    skipped: int = 0  # re-routed or merged between being chosen and being sent
    deferred: int = 0  # left for the next run after a failure


def forward_department_leads(
    now: datetime | None = None, sender: MailSender | None = None, *, limit: int = BATCH
) -> ForwardReport:
    """Forward department leads not yet forwarded whose department has an address (commits);
    up to `limit` leads of each department a run."""
    now = now or now_utc()
    addresses = department_addresses()
    report = ForwardReport()
    if not addresses:
        db.session.rollback()  # end the read transaction: nothing to claim
        return report
    ids = claim_forwards(_due_lead_ids(list(addresses), now, limit), now)
    report.claimed = len(ids)
    if not ids:
        return report
    config = current_app.config
    own = sender is None
    sender = sender or mail_sender_from_config(config, reuse=True)
    from_addr = config.get("MAIL_DEFAULT_SENDER") or "leads@localhost"
    try:
        for n, lead_id in enumerate(ids):
            outcome = forward_lead(db.session.get(Lead, lead_id), addresses, sender, from_addr, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "failed":  # the relay is likely down: one try a run, not one a lead
                report.deferred = _release(ids[n + 1 :])
                break
    finally:
        if own and hasattr(sender, "close"):
            sender.close()
    if report.claimed:
        log.info("forwarding: %d forwarded, %d failed", report.forwarded, report.failed)
    return report


def _release(lead_ids: list[int]) -> int:
    """Give back claims that were not tried (commits), for a later run."""
    if lead_ids:
        db.session.execute(
            update(Lead)
            .where(Lead.id.in_(lead_ids))
            .values(forwarded_at=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(lead_ids)


def _due_lead_ids(departments: list[str], now: datetime, limit: int) -> list[int]:
    """The oldest unforwarded leads of each department, not failed within RETRY_AFTER.

    The predicate is the partial index's own text (`UNFORWARDED`): SQLite uses a partial index
    only when the query's terms name its predicate, and bound parameters would not. One query
    per department: with `department IN (...)` PostgreSQL walks ix_leads_received_at instead."""
    recently_failed = exists().where(
        LeadEvent.lead_id == Lead.id,
        LeadEvent.kind == "forward_failed",
        LeadEvent.at > now - RETRY_AFTER,
    )
    skip_locked = db.session.get_bind().dialect.name == "postgresql"
    ids: list[int] = []
    for department in departments:
        query = (
            select(Lead.id)
            .where(text(UNFORWARDED), Lead.department == department, ~recently_failed)
            .order_by(Lead.received_at, Lead.id)
            .limit(limit)
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True, of=Lead)
        ids += db.session.scalars(query)
    return ids


def forward_lead(
    lead: Lead, addresses: dict[str, str], sender: MailSender, from_addr: str, now: datetime
) -> str:
    """Send one claimed lead's forward and record it (commits): forwarded, failed or skipped."""
    to = addresses.get(lead.department, "")
    if not to or lead.merged_into_id is not None:  # re-routed or merged since it was chosen
        lead.forwarded_at = None
        db.session.commit()
        return "skipped"
    inbound = lead.inbound
    url = lead_url(lead.id)
    if lead.channel == "email" and inbound is not None:

        def build():
            mail = read_mail_once(inbound.raw)
            return build_forward(
                inbound.raw, mail, lead, to=to, from_addr=from_addr, lead_url=url, now=now
            )

        attached = "the original e-mail"
    else:

        def build():
            raw = inbound.raw if inbound is not None else None
            return build_lead_forward(lead, raw, to=to, from_addr=from_addr, lead_url=url, now=now)

        attached = "the original submission" if inbound is not None else "no original"
    sent = send_forward(lead, to, build, sender, now, attached=attached)
    return "forwarded" if sent else "failed"
