"""The leads mailbox: every received e-mail is stored raw (committed), then becomes one of

- a lead through the intake service (ADF in the message, or a plain inquiry),
- a reply on a lead (it names our Message-ID or plus-address token, or comes from a customer
  with an open lead): the automatic follow-up pauses and the assignee is alerted,
- a bounce (RFC 3464): the address is marked bounced, e-mail touches stop, a task is made,
- an automatic reply or out-of-office: a note on the lead, the follow-up goes on,
- mail from a member of staff: a customer's message they forwarded becomes a lead for that
  customer; anything else waits for review (staff are never taken for customers),
- or "needs review" (stored as failed) for a person to read.

Nothing here ever answers a message, so automatic replies and bounces cannot start a loop. The
same Message-ID received twice (two polls, a provider retry) is acted on once; a message with no
Message-ID is recognised by a hash of its bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy.exc import IntegrityError

from dealer_leads.auth.models import User
from dealer_leads.cadence import services as cadence
from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import body_hash, process_inbound, store_inbound
from dealer_leads.leads.models import InboundPayload, Lead, LeadEvent
from dealer_leads.leads.normalize import LeadIn
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
from dealer_leads.messaging.mail_leads import forwarded_inquiry, leads_from_email
from dealer_leads.messaging.mailbox_forwards import Forwarded, forwarded_original
from dealer_leads.messaging.models import OutboundMessage
from dealer_leads.messaging.senders import MailSender

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
AUTO_REPLY_QUIET = timedelta(hours=24)  # one note per sender and lead a day: loops stay quiet
REPLY_REASON = "customer replied by e-mail"


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
    kept = header_block(raw) if too_large else raw
    message_id = _message_id(raw, too_large)
    key = _duplicate_key(message_id, kept)
    earlier = _earlier_copy(key, api_key_id)
    if earlier is not None:
        seen = f"Message-ID <{message_id}>" if message_id else "the same message"
        return MailOutcome(earlier.id, "duplicate", detail=f"{seen} seen")
    try:
        inbound = store_inbound(
            "email",
            kept,
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


def _duplicate_key(message_id: str, kept: bytes) -> str:
    """What recognises a message received again: its Message-ID, else a hash of the bytes kept
    (a message without one, read again after a restart or a new UIDVALIDITY, is the same)."""
    if message_id:
        return f"email:{message_id}"[:200]
    return f"email-sha256:{body_hash(kept)}"


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
    staff = staff_member(mail.from_address, mail.reply_to)
    if staff is not None:
        return _from_staff(inbound, mail, staff, now, sender)
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


def staff_member(*addresses: str) -> User | None:
    """The member of staff (any role, active or not) with one of these e-mail addresses."""
    wanted = [a.strip().lower() for a in addresses if a and a.strip()]
    if not wanted:
        return None
    # Staff addresses are stored lower-case (create_user), so the unique index answers this.
    query = db.select(User).where(User.email.in_(wanted)).order_by(User.id)
    return db.session.scalar(query.limit(1))


def staff_inquiry(raw: bytes, mail: InMail, staff: User) -> tuple[LeadIn, Forwarded]:
    """Mail from a member of staff: the customer's message they forwarded, as an inquiry from
    that customer. Anything else raises InvalidPayload naming them, so it waits for a person:
    a member of staff never becomes a customer nor gets the first response."""
    reason = f"sent by staff ({staff.name})"
    original = forwarded_original(raw, mail)
    if original is None:
        raise InvalidPayload(reason)
    ours = {_our_address()} - {""}
    if staff_member(*original.addresses) is not None or ours & set(original.addresses):
        raise InvalidPayload(f"{reason}; the original is ours too")
    try:
        return forwarded_inquiry(mail, original), original
    except InvalidPayload as error:
        raise InvalidPayload(f"{reason}: {error.message}", error.fields) from error


def prospects_in_email(raw: bytes) -> list[LeadIn]:
    """The intake service's reader of the e-mail channel: `leads_from_email`, with mail from
    staff held to `staff_inquiry`, so a message re-run from the review queue is judged as it
    was on arrival."""
    mail = read_mail_once(raw)
    if not mail.adf_documents:
        staff = staff_member(mail.from_address, mail.reply_to)
        if staff is not None:
            return [staff_inquiry(raw, mail, staff)[0]]
    return leads_from_email(raw)


def _from_staff(
    inbound: InboundPayload, mail: InMail, staff: User, now: datetime, sender: MailSender | None
) -> MailOutcome:
    """A customer's message forwarded by staff is taken in for that customer; anything else from
    staff waits for review."""
    try:
        prospect, original = staff_inquiry(inbound.raw, mail, staff)
    except InvalidPayload as error:
        return _needs_review(inbound, "needs_review", error.message)
    outcome = _intake(inbound, mail, "inquiry", now, sender, parse=lambda raw: [prospect])
    _note_forwarder(outcome, staff, original, now)
    return outcome


def _note_forwarder(outcome: MailOutcome, staff: User, original: Forwarded, now: datetime) -> None:
    """Say on each lead who forwarded the message in and whose it was."""
    for lead_id in outcome.lead_ids:
        record_event(
            db.session.get(Lead, lead_id),
            "staff_forward",
            f"E-mail forwarded in by {staff.name}; the customer is the original's sender",
            at=now,
            user=staff,
            sender=original.from_address,
            reply_to=original.reply_to,
            inbound_id=outcome.inbound_id,
        )
    if outcome.lead_ids:
        db.session.commit()


def _intake(
    inbound: InboundPayload,
    mail: InMail,
    kind: str,
    now: datetime,
    sender: MailSender | None,
    *,
    parse: Callable[[bytes], list[LeadIn]] | None = None,
) -> MailOutcome:
    try:
        results = process_inbound(inbound.id, now=now, parse=parse)
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
    assigned = lead.assigned_to_id is not None
    paused = cadence.pause_automatic(lead, REPLY_REASON, now, alert=assigned)
    if not (paused and assigned):
        # Nothing to pause, or nobody owns the lead: someone still has to answer. A task on an
        # unassigned lead is nobody's yet, so it waits in the supervisor's task list, due now.
        cadence.open_task(lead, f"Respond: {REPLY_REASON}", now)
    return _finish(inbound, "reply", [lead.id], now, rule)


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
