"""Texts customers send us, and the provider's delivery reports on the texts we sent.

A received text is stored raw first (committed), then acted on:
- STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ARRET: the number is opted out of texts
  (STOPALL: of everything, every address of the customer), the open leads say so, their
  automatic texts are cancelled (STOPALL: the whole plan stops). An opt-out is honoured even
  from a number no customer has.
- START, UNSTOP: the number is opted back in to texts.
- Anything else is a reply on the customer's most recent open lead (or, with none open, their
  most recent lead), handled by `handle_sms_reply`. A reply from a number no customer has stays
  stored as "failed" so it shows in the needs-review queue.
A provider retry of the same MessageSid is recognised and not acted on twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, select

from dealer_leads.admin.services import get_dealership
from dealer_leads.cadence import services as cadence
from dealer_leads.cadence.channel_steps import cancel_pending
from dealer_leads.extensions import db
from dealer_leads.leads.ingest import store_inbound
from dealer_leads.leads.models import OPEN_STATUSES, Customer, InboundPayload, Lead
from dealer_leads.leads.normalize import normalize_phone
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging import consent
from dealer_leads.messaging.compliance import classify_sms_keyword, sms_keyword
from dealer_leads.messaging.models import OutboundMessage

log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
UNKNOWN_NUMBER = "no customer with this number"
STOP_EVERYTHING = "STOPALL"
REPLY_REASON = "customer texted back"
# Provider delivery states in the order they happen; a late report never moves a text back.
DELIVERY_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
NOT_DELIVERED = ("undelivered", "failed")
ERROR_MEANINGS = {
    "21610": "the recipient has opted out (STOP) with the carrier",
    "30003": "the phone is off or unreachable",
    "30004": "the recipient blocked the message",
    "30005": "the number is unknown or no longer in service",
    "30006": "a landline or a carrier that cannot take texts",
    "30007": "filtered by the carrier as spam",
    "30008": "unknown error from the carrier",
}


@dataclass
class SmsOutcome:
    """What a received text did: `action` is reply, opt_out, opt_in, needs_review or
    duplicate; `lead_ids` the leads it touched."""

    inbound_id: int
    action: str
    lead_ids: list[int] = field(default_factory=list)


def _param(params: Mapping[str, str], name: str, limit: int = 2000) -> str:
    value = params.get(name) or ""
    return str(value).strip()[:limit]


def receive_sms(
    params: Mapping[str, str],
    raw: bytes,
    now: datetime,
    *,
    content_type: str = FORM_CONTENT_TYPE,
    source_ip: str = "",
) -> SmsOutcome:
    """Store a text the provider delivered to us, then act on it (commits)."""
    sid = _param(params, "MessageSid", 100)
    key = f"sms:{sid}" if sid else None
    earlier = _earlier_copy(key)
    if earlier is not None:
        log.info("SMS %s received again; payload #%s already has it", sid, earlier.id)
        return SmsOutcome(earlier.id, "duplicate")
    inbound = store_inbound(
        "sms", raw, content_type=content_type, source_ip=source_ip, idempotency_key=key
    )
    phone = _sender_phone(_param(params, "From", 40))
    body = _param(params, "Body", 5000)
    keyword = classify_sms_keyword(body)
    customers = _customers_with_phone(phone)
    if not phone or (not customers and keyword is None):
        return _needs_review(inbound, UNKNOWN_NUMBER if phone else "the text has no sender number")
    if keyword == "opt_out":
        outcome = _opt_out(inbound, phone, sms_keyword(body), customers, now)
    elif keyword == "opt_in":
        outcome = _opt_in(inbound, phone, sms_keyword(body), customers, now)
    else:
        lead = _reply_lead(customers)
        if lead is None:
            return _needs_review(inbound, "the customer with this number has no lead")
        handle_sms_reply(lead, body, now, inbound_id=inbound.id, message_sid=sid)
        outcome = SmsOutcome(inbound.id, "reply", [lead.id])
    _mark_processed(inbound, outcome, now)
    db.session.commit()
    return outcome


def handle_sms_reply(
    lead: Lead, body: str, now: datetime, *, inbound_id: int | None = None, message_sid: str = ""
) -> None:
    """What a customer's text does to their lead (flushes): the one place to extend.

    The reply goes on the timeline. "C" or "YES" confirms the lead's next visit and the
    reminders go on; anything else pauses the automatic follow-up, with a task for the
    assignee to answer. With nothing to pause or nobody assigned, the task is still opened (an
    unassigned one waits in the supervisor's task list), so the text is never left unanswered.
    """
    from dealer_leads.appointments.confirmations import confirm_by_text

    record_event(
        lead,
        "reply",
        f"Text from the customer: {body or '(no text)'}",
        at=now,
        channel="sms",
        body=body,
        inbound_id=inbound_id,
        message_sid=message_sid,
    )
    if confirm_by_text(lead, body, now):
        return
    assigned = lead.assigned_to_id is not None
    paused = cadence.pause_automatic(lead, REPLY_REASON, now, alert=assigned)
    if not (paused and assigned):
        cadence.open_task(lead, f"Respond: {REPLY_REASON}", now)
    db.session.flush()


def _earlier_copy(key: str | None) -> InboundPayload | None:
    if key is None:
        return None
    query = select(InboundPayload).where(
        InboundPayload.channel == "sms",
        InboundPayload.api_key_id.is_(None),
        InboundPayload.idempotency_key == key,
    )
    return db.session.scalar(query.limit(1))


def _sender_phone(raw: str) -> str:
    """The sender in E.164 (the dealership's country for numbers without one); as given when
    it cannot be parsed (a short code, a name), so it matches nobody but is still kept."""
    if "@" in raw:  # not a phone at all: nothing to match or opt out
        return ""
    return normalize_phone(raw, get_dealership().country or "US")[0]


def _customers_with_phone(phone: str) -> list[Customer]:
    if not phone:
        return []
    query = select(Customer).where(Customer.phone == phone, Customer.merged_into_id.is_(None))
    return list(db.session.scalars(query.order_by(Customer.id)))


def _leads_of(customers: list[Customer], *, open_only: bool) -> list[Lead]:
    if not customers:
        return []
    query = select(Lead).where(
        Lead.customer_id.in_([c.id for c in customers]), Lead.merged_into_id.is_(None)
    )
    if open_only:
        query = query.where(Lead.status.in_(OPEN_STATUSES))
    open_first = case((Lead.status.in_(OPEN_STATUSES), 0), else_=1)
    return list(
        db.session.scalars(query.order_by(open_first, Lead.last_activity_at.desc(), Lead.id.desc()))
    )


def _reply_lead(customers: list[Customer]) -> Lead | None:
    """The most recent open lead; a customer with none open still gets their text seen."""
    leads = _leads_of(customers, open_only=False)
    return leads[0] if leads else None


def _opt_out(
    inbound: InboundPayload, phone: str, word: str, customers: list[Customer], now: datetime
) -> SmsOutcome:
    everything = word == STOP_EVERYTHING
    what = "messages of any kind" if everything else "texts"
    leads = _leads_of(customers, open_only=True)
    for lead in leads:
        record_event(
            lead,
            "opt_out",
            f"Customer texted {word}: no more {what}",
            at=now,
            channel="all" if everything else "sms",
            address=phone,
            inbound_id=inbound.id,
        )
        if everything:
            cadence.stop(lead, "opted out of all messages", now)
        else:
            cancel_pending(lead, "auto_sms", now, "the customer opted out of texts")
    # Commits what is above with it: the opt-out is honoured before anything else can fail.
    consent.withdraw(phone, "all" if everything else "sms", "sms", f"texted {word}", now)
    return SmsOutcome(inbound.id, "opt_out", [lead.id for lead in leads])


def _opt_in(
    inbound: InboundPayload, phone: str, word: str, customers: list[Customer], now: datetime
) -> SmsOutcome:
    leads = _leads_of(customers, open_only=True)
    for lead in leads:
        record_event(
            lead,
            "opt_in",
            f"Customer texted {word}: texts allowed again",
            at=now,
            channel="sms",
            address=phone,
            inbound_id=inbound.id,
        )
    consent.opt_in(phone, "sms", f"texted {word}", now)  # commits
    return SmsOutcome(inbound.id, "opt_in", [lead.id for lead in leads])


def _mark_processed(inbound: InboundPayload, outcome: SmsOutcome, now: datetime) -> None:
    inbound.status, inbound.error, inbound.processed_at = "processed", "", now
    inbound.response = {"action": outcome.action, "lead_ids": outcome.lead_ids}


def _needs_review(inbound: InboundPayload, reason: str) -> SmsOutcome:
    """Keep the text for a person: the needs-review queue lists failed payloads."""
    inbound.status, inbound.error = "failed", reason
    db.session.commit()
    log.warning("SMS payload #%s needs review: %s", inbound.id, reason)
    return SmsOutcome(inbound.id, "needs_review")


# --- delivery reports -------------------------------------------------------------------------


def record_delivery_status(params: Mapping[str, str], now: datetime) -> OutboundMessage | None:
    """Note a delivery report on the text it is about (commits); unknown SIDs are ignored."""
    sid, status = _param(params, "MessageSid", 100), _param(params, "MessageStatus", 20).lower()
    if status not in DELIVERY_ORDER:
        log.warning("SMS status %r for %s is not one we know; ignored", status, sid)
        return None
    message = _outbound_text(sid)
    if message is None:
        log.info("SMS status %s for unknown message %r; ignored", status, sid)
        return None
    if DELIVERY_ORDER[status] < DELIVERY_ORDER.get(message.status, 0):
        return message  # a late report of an earlier state
    changed = message.status != status
    message.status = status
    message.error = _delivery_error(params) if status in NOT_DELIVERED else ""
    if changed and status in NOT_DELIVERED and message.lead_id:
        _record_undelivered(message, now)
    db.session.commit()
    return message


def _outbound_text(sid: str) -> OutboundMessage | None:
    if not sid:
        return None
    query = select(OutboundMessage).where(
        OutboundMessage.provider_id == sid, OutboundMessage.channel == "sms"
    )
    return db.session.scalar(query.limit(1))


def _delivery_error(params: Mapping[str, str]) -> str:
    code = _param(params, "ErrorCode", 20)
    text = _param(params, "ErrorMessage", 500) or ERROR_MEANINGS.get(code, "")
    if not code:
        return text or "not delivered"
    return f"error {code}: {text}" if text else f"error {code}"


def _record_undelivered(message: OutboundMessage, now: datetime) -> None:
    lead = db.session.get(Lead, message.lead_id)
    record_event(
        lead,
        "sms_undelivered",
        f"Text to {message.to_address} not delivered ({message.error})",
        at=now,
        outbound_id=message.id,
        provider_id=message.provider_id,
        status=message.status,
    )
