"""The leads mailbox: every received e-mail is stored raw (committed), then becomes one of

- a lead through the intake service (ADF in the message, or a plain inquiry),
- a reply on a lead (it names our Message-ID or plus-address token, or comes from a customer
  with an open lead): the automatic follow-up pauses and the assignee is alerted,
- a bounce (RFC 3464): the address is marked bounced, e-mail touches stop, a task is made,
- an automatic reply or out-of-office: a note on the lead, the follow-up goes on,
- or "needs review" (stored as failed) for a person to read.

Nothing here ever answers a message, so automatic replies and bounces cannot start a loop. The
same Message-ID received twice (two polls, a provider retry) is acted on once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy.exc import IntegrityError

from dealer_leads.cadence import services as cadence
from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.models import InboundPayload, Lead, LeadEvent
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.bounces import (
    leads_of_messages,
    open_leads_of_email,
    record_bounce,
    surviving,
)
from dealer_leads.messaging.email import token_from_address
from dealer_leads.messaging.forwarding import forward_to_departments
from dealer_leads.messaging.mail_in import (
    InMail,
    header_block,
    read_headers,
    read_mail_once,
    split_quoted,
)
from dealer_leads.messaging.models import OutboundMessage
from dealer_leads.messaging.senders import MailSender

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
AUTO_REPLY_QUIET = timedelta(hours=24)  # one note per sender and lead a day: loops stay quiet


@dataclass
class MailOutcome:
    """What one received e-mail became: `kind` is adf, inquiry, reply, bounce, auto_reply,
    notice, needs_review, too_large or duplicate; `lead_ids` the leads it touched."""

    inbound_id: int
    kind: str
    lead_ids: list[int] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict:
        return {
            "inbound_id": self.inbound_id,
            "kind": self.kind,
            "lead_ids": self.lead_ids,
            "detail": self.detail,
        }


def max_email_bytes() -> int:
    """The size over which only a message's headers are kept."""
    return int(current_app.config.get("MAX_INBOUND_EMAIL_BYTES", DEFAULT_MAX_BYTES))


def receive_email(
    raw: bytes,
    now: datetime,
    *,
    full_size: int | None = None,
    api_key_id: int | None = None,
    source_ip: str = "",
    sender: MailSender | None = None,
) -> MailOutcome:
    """Store one received message, then act on it (commits; never raises on bad input).

    `full_size` is the message's real size when `raw` holds only its headers (the IMAP poll
    does not download a message over the limit); `sender` forwards department inquiries."""
    size, limit = max(full_size or 0, len(raw)), max_email_bytes()
    too_large = size > limit
    message_id = _message_id(raw, too_large)
    key = f"email:{message_id}"[:200] if message_id else None
    earlier = _earlier_copy(key, api_key_id)
    if earlier is not None:
        return MailOutcome(earlier.id, "duplicate", detail=f"Message-ID <{message_id}> seen")
    try:
        inbound = store_inbound(
            "email",
            header_block(raw) if too_large else raw,
            content_type=CONTENT_TYPE,
            source_ip=source_ip,
            api_key_id=api_key_id,
            idempotency_key=key,
        )
    except IntegrityError:  # the same message stored by a concurrent poll or post
        db.session.rollback()
        earlier = _earlier_copy(key, api_key_id)
        return MailOutcome(earlier.id if earlier else 0, "duplicate")
    if too_large:
        detail = f"too large: {size} bytes, over the {limit}-byte limit; only the headers are kept"
        return _needs_review(inbound, "too_large", detail)
    try:
        return _act(inbound, now, sender)
    except Exception as error:  # a bug must not lose the message or stop the poll
        db.session.rollback()
        log.exception("e-mail payload #%s could not be processed", inbound.id)
        inbound = db.session.get(InboundPayload, inbound.id)
        return _needs_review(inbound, "needs_review", f"processing failed: {error!r}"[:2000])


def _message_id(raw: bytes, too_large: bool) -> str:
    """The Message-ID, to recognise a message received before; '' if it cannot be read."""
    try:
        return (read_headers(header_block(raw)) if too_large else read_mail_once(raw)).message_id
    except Exception:  # storing the message matters more than recognising it
        log.exception("could not read the Message-ID of a received e-mail")
        return ""


def _earlier_copy(key: str | None, api_key_id: int | None = None) -> InboundPayload | None:
    """The stored copy with this key: received by the mailbox (no API key), or posted with
    the same API key. One look-up each, so both use the (api_key_id, idempotency_key) index."""
    if key is None:
        return None
    for owner in dict.fromkeys((None, api_key_id)):
        query = db.select(InboundPayload).where(
            InboundPayload.api_key_id.is_(None)
            if owner is None
            else InboundPayload.api_key_id == owner,
            InboundPayload.idempotency_key == key,
            InboundPayload.channel == "email",
        )
        found = db.session.scalar(query.limit(1))
        if found is not None:
            return found
    return None


def _act(inbound: InboundPayload, now: datetime, sender: MailSender | None = None) -> MailOutcome:
    mail = read_mail_once(inbound.raw)
    if mail.report:
        if mail.bounced:
            return _bounce(inbound, mail, now)
        actions = ", ".join(sorted({f.action for f in mail.failures})) or "no recipients"
        return _finish(inbound, "notice", [], now, f"delivery report ({actions}); nothing to do")
    if mail.from_address and mail.from_address == _our_address():
        # Our own message (a copy, or a loop through a forwarding rule): never act on it.
        return _finish(inbound, "notice", [], now, "sent from our own address; ignored")
    if mail.adf_documents:
        return _intake(inbound, mail, "adf", now, sender)
    lead, rule = replied_lead(mail)
    if mail.auto_reply or (lead is not None and mail.automatic):
        return _auto_reply(inbound, mail, lead, now)
    if lead is not None:
        return _reply(inbound, mail, lead, rule, now)
    return _intake(inbound, mail, "inquiry", now, sender)


def _our_address() -> str:
    return parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1].strip().lower()


def replied_lead(mail: InMail) -> tuple[Lead | None, str]:
    """The lead a message answers: our Message-ID, our plus-address token, or the sender."""
    found = leads_of_messages(mail.refers_to)
    if found:
        return found[0], "names our Message-ID"
    tokens = {t for t in (token_from_address(a) for a in mail.recipients) if t}
    if tokens:
        query = (
            db.select(Lead)
            .join(OutboundMessage, OutboundMessage.lead_id == Lead.id)
            .where(OutboundMessage.reply_token.in_(tokens))
            .order_by(OutboundMessage.sent_at.desc())
            .limit(1)
        )
        lead = db.session.scalar(query)
        if lead is not None:
            return surviving(lead), "sent to our reply address"
    for address in dict.fromkeys(a for a in (mail.from_address, mail.reply_to) if a):
        leads = open_leads_of_email(address)
        if leads:
            return leads[0], "from a customer with an open lead"
    return None, ""


def _intake(
    inbound: InboundPayload, mail: InMail, kind: str, now: datetime, sender: MailSender | None
) -> MailOutcome:
    try:
        results = process_inbound(inbound.id, now=now)
    except InvalidPayload as error:  # process_inbound marked it failed: needs review
        inbound = db.session.get(InboundPayload, inbound.id)
        inbound.response = {"kind": "needs_review", "lead_ids": []}
        db.session.commit()
        return MailOutcome(inbound.id, "needs_review", detail=error.message)
    lead_ids = [result.lead_id for result in results]
    inbound.response = {**(inbound.response or {}), "kind": kind, "lead_ids": lead_ids}
    db.session.commit()
    return MailOutcome(inbound.id, kind, lead_ids, _forward(inbound, mail, results, now, sender))


def _forward(inbound, mail, results, now: datetime, sender: MailSender | None) -> str:
    """Forward new department leads; the leads stand even if this fails (it is logged)."""
    new = [result.lead_id for result in results if not result.duplicate]
    if not new:
        return ""
    try:
        forwarded = forward_to_departments(inbound.raw, mail, new, now, sender)
    except Exception:
        db.session.rollback()
        log.exception("forwarding the leads of e-mail payload #%s failed", inbound.id)
        return "forwarding failed; see the log"
    return f"forwarded lead(s) {forwarded}" if forwarded else ""


def _reply(
    inbound: InboundPayload, mail: InMail, lead: Lead, rule: str, now: datetime
) -> MailOutcome:
    written, quoted = split_quoted(mail.text)
    record_event(
        lead,
        "reply",
        f"E-mail from the customer: {mail.subject or '(no subject)'}",
        at=now,
        channel="email",
        sender=mail.from_address,
        subject=mail.subject[:250],
        body=written[:10_000],
        quoted=quoted[:20_000],
        inbound_id=inbound.id,
        message_id=mail.message_id,
        rule=rule,
    )
    if not cadence.pause_automatic(lead, "customer replied by e-mail", now):
        _alert_assignee(lead, now)  # nothing to pause, but someone still has to answer
    return _finish(inbound, "reply", [lead.id], now, rule)


def _alert_assignee(lead: Lead, now: datetime) -> None:
    if lead.assigned_to_id is None:
        return
    cadence.open_task(lead, "Respond: customer replied by e-mail", now)


def _auto_reply(
    inbound: InboundPayload, mail: InMail, lead: Lead | None, now: datetime
) -> MailOutcome:
    if lead is None:
        return _finish(inbound, "auto_reply", [], now, "automatic reply to no lead of ours")
    if _noted_recently(lead, mail.from_address, now):
        return _finish(inbound, "auto_reply", [lead.id], now, "repeat automatic reply; not noted")
    written, _ = split_quoted(mail.text)
    record_event(
        lead,
        "auto_reply",
        f"Automatic reply from {mail.from_address or 'the customer'}: {mail.subject}"[:500],
        at=now,
        channel="email",
        sender=mail.from_address,
        body=written[:2000],
        inbound_id=inbound.id,
    )
    return _finish(inbound, "auto_reply", [lead.id], now, "noted; follow-up goes on")


def _noted_recently(lead: Lead, sender: str, now: datetime) -> bool:
    query = db.select(LeadEvent.data).where(
        LeadEvent.lead_id == lead.id,
        LeadEvent.kind == "auto_reply",
        LeadEvent.at >= now - AUTO_REPLY_QUIET,
    )
    return any((data or {}).get("sender") == sender for data in db.session.scalars(query))


def _bounce(inbound: InboundPayload, mail: InMail, now: datetime) -> MailOutcome:
    lead_ids: list[int] = []
    for failure in mail.bounced:
        leads = record_bounce(failure, mail.original_ids, now, inbound_id=inbound.id)
        lead_ids += [lead.id for lead in leads if lead.id not in lead_ids]
    addresses = ", ".join(f.recipient for f in mail.bounced)
    return _finish(inbound, "bounce", lead_ids, now, f"bounced: {addresses}")


def _finish(
    inbound: InboundPayload, kind: str, lead_ids: list[int], now: datetime, detail: str = ""
) -> MailOutcome:
    inbound.status, inbound.error, inbound.processed_at = "processed", "", now
    inbound.response = {"kind": kind, "lead_ids": lead_ids, "detail": detail}
    db.session.commit()
    return MailOutcome(inbound.id, kind, lead_ids, detail)


def _needs_review(inbound: InboundPayload, kind: str, detail: str) -> MailOutcome:
    """Kept for a person: the needs-review queue lists failed payloads."""
    inbound.status, inbound.error = "failed", detail
    inbound.response = {"kind": kind, "lead_ids": []}
    db.session.commit()
    log.warning("e-mail payload #%s needs review: %s", inbound.id, detail)
    return MailOutcome(inbound.id, kind, detail=detail)
