"""Delivery failures (RFC 3464 bounces): the address is marked bounced, e-mail touches stop, and
whoever owns the lead gets a task to find a working contact. Helpers that add and flush."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from dealer_leads.cadence.channel_steps import BOUNCE_OUTCOME, cancel_pending
from dealer_leads.cadence.services import open_task
from dealer_leads.extensions import db
from dealer_leads.leads.models import OPEN_STATUSES, Customer, Lead
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.mail_in import Failure
from dealer_leads.messaging.models import OutboundMessage, Suppression

BOUNCE_SOURCE = "bounce"


def surviving(lead: Lead) -> Lead:
    """Follow merges to the lead that absorbed this one."""
    seen: set[int] = set()
    while lead.merged_into_id and lead.id not in seen:
        seen.add(lead.id)
        lead = db.session.get(Lead, lead.merged_into_id)
    return lead


def leads_of_messages(message_ids: list[str]) -> list[Lead]:
    """The leads our messages with these Message-IDs went to, most recent message first."""
    wanted = {i.strip("<>") for i in message_ids if i} if message_ids else set()
    if not wanted:
        return []
    forms = [f"<{i}>" for i in wanted] + list(wanted)  # stored with their angle brackets
    query = (
        db.select(Lead)
        .join(OutboundMessage, OutboundMessage.lead_id == Lead.id)
        .where(OutboundMessage.message_id.in_(forms))
        .order_by(OutboundMessage.sent_at.desc())
    )
    return _unique(surviving(lead) for lead in db.session.scalars(query))


def open_leads_of_email(address: str) -> list[Lead]:
    """Open leads of the customers with this e-mail address, most recently active first."""
    if not address:
        return []
    query = (
        db.select(Lead)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(
            Customer.email == address,
            Customer.merged_into_id.is_(None),
            Lead.merged_into_id.is_(None),
            Lead.status.in_(OPEN_STATUSES),
        )
        .order_by(Lead.last_activity_at.desc(), Lead.id.desc())
    )
    return list(db.session.scalars(query))


def _unique(leads) -> list[Lead]:
    seen, kept = set(), []
    for lead in leads:
        if lead.id not in seen:
            seen.add(lead.id)
            kept.append(lead)
    return kept


def record_bounce(
    failure: Failure, original_ids: list[str], now: datetime, *, inbound_id: int
) -> list[Lead]:
    """Mark the address bounced and tell its leads (flushes); returns the leads told."""
    address = failure.recipient
    reason = f"bounced: {failure.status} {failure.diagnostic}".strip()[:200]
    first_time = _suppress(address, reason, now)
    for customer in db.session.scalars(db.select(Customer).where(Customer.email == address)):
        customer.email_valid = False
    leads = _unique(
        [
            lead
            for lead in leads_of_messages(original_ids)
            if lead.customer and lead.customer.email == address
        ]
        + open_leads_of_email(address)
    )
    for lead in leads:
        stopped = cancel_pending(lead, "auto_email", now, BOUNCE_OUTCOME)
        record_event(
            lead,
            "bounce",
            f"E-mail to {address} bounced ({failure.status or 'failed'}); no more e-mails go to it",
            at=now,
            address=address,
            status=failure.status,
            diagnostic=failure.diagnostic,
            cancelled=stopped,
            inbound_id=inbound_id,
        )
        if first_time:
            open_task(lead, f"Find a working contact: e-mail to {address} bounced", now)
    db.session.flush()
    return leads


def is_bounced(address: str) -> bool:
    """Whether mail to this address bounced (its suppression came from a bounce)."""
    query = db.select(Suppression.id).filter_by(
        channel="email", address=address, source=BOUNCE_SOURCE
    )
    return bool(address) and db.session.scalar(query.limit(1)) is not None


def _suppress(address: str, reason: str, now: datetime) -> bool:
    """Add the e-mail suppression unless the address has one; True when it is new."""
    query = db.select(Suppression.id).filter_by(channel="email", address=address)
    if db.session.scalar(query.limit(1)) is not None:
        return False
    row = Suppression(channel="email", address=address, reason=reason, source=BOUNCE_SOURCE, at=now)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # a concurrent bounce of the same address got there first
        return False
    return True
