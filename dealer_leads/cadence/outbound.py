"""Turn one automatic touch into an e-mail or a text, within consent and quiet hours
(`compose`), and send it through the sender passed in (`Courier`). Records the message; the
engine records the touch's outcome.

The courier sends from a thread of its own, one message at a time and in order, so that the
worker composes the next touch while a message is on the wire (an SMTP send mostly waits for
the server's replies). Nothing else crosses threads: the database is used by the caller only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import User
from dealer_leads.cadence.batch import Batch, may_contact
from dealer_leads.cadence.drafts import draft_text
from dealer_leads.cadence.models import Touch
from dealer_leads.database import insert_row, now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Lead
from dealer_leads.messaging import consent
from dealer_leads.messaging.compliance import responds_to_inquiry
from dealer_leads.messaging.email import (
    build_email,
    dealership_footer,
    reply_address,
    reply_token,
    sender_domain,
)
from dealer_leads.messaging.models import MessageTemplate, OutboundMessage
from dealer_leads.messaging.senders import mail_sender_from_config
from dealer_leads.messaging.sms import sms_sender_from_config, status_callback_url
from dealer_leads.messaging.template_services import UnknownTemplate, get_template
from dealer_leads.messaging.templates import build_context, render_template
from dealer_leads.messaging.unsubscribe import unsubscribe_url


@dataclass
class Senders:
    """The side effects, injected: `mail.send(EmailMessage) -> message id` and
    `sms.send(to, body, status_callback) -> provider id`."""

    mail: Any
    sms: Any

    def close(self) -> None:
        """End connections a sender kept open (a reusing SMTP sender)."""
        for sender in (self.mail, self.sms):
            getattr(sender, "close", lambda: None)()


def senders_from_config(config) -> Senders:
    """The worker's senders: one SMTP connection for a tick's e-mails (close them after)."""
    return Senders(
        mail=mail_sender_from_config(config, reuse=True), sms=sms_sender_from_config(config)
    )


@dataclass
class SendResult:
    message_id: str
    summary: str


class NotAllowed(Exception):
    """Consent, an opt-out or a missing address rules this touch out; the message says which."""


class NotNow(Exception):
    """Quiet hours: the touch may go at `moment`."""

    def __init__(self, moment: datetime):
        super().__init__(f"quiet hours until {moment.isoformat()}")
        self.moment = moment


def describe(touch: Touch) -> str:
    kind = {"auto_email": "automatic e-mail", "auto_sms": "automatic text"}.get(touch.channel)
    if kind is None:  # a person's step: its title says what it is
        return f"step ({touch.title})" if touch.title else "step"
    return f"{kind} ({touch.template_key or touch.title})" if touch.template_key else kind


@dataclass
class Composed:
    """A checked, ready message: `send()` hands it over (in the courier's thread) and returns
    the sender's id; `record(id)` then stores the message (in the caller's thread)."""

    touch: Touch
    send: Callable[[], str]
    record: Callable[[str], SendResult]


class Courier:
    """Sends composed messages from one thread of its own, in order (a context manager)."""

    def __enter__(self) -> Courier:
        self._app = current_app._get_current_object()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="courier")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.shutdown(wait=True)

    def start(self, composed: Composed) -> Future[str]:
        """Begin sending; the future holds the sender's id, or its error."""
        return self._thread.submit(self._send, composed.send)

    def _send(self, send: Callable[[], str]) -> str:
        with self._app.app_context():  # senders may read the configuration
            return send()


def compose(touch: Touch, now: datetime, senders: Senders, batch: Batch) -> Composed:
    """Check and compose; raises NotAllowed or NotNow.

    Only a plan's first step can be the answer to the customer's own inquiry (allowed without
    prior consent), within 24 hours of it, and a text answers only a text (TCPA): a web-form
    inquiry is answered by e-mail, or by text when consent allows."""
    lead = touch.lead
    channel = "email" if touch.channel == "auto_email" else "sms"
    address = _address(lead, channel)
    responding = touch.position == 0 and responds_to_inquiry(
        channel, inquiry_channel=lead.channel, inquiry_at=lead.received_at, now=now
    )
    decision = may_contact(batch, lead.customer, channel, now=now, responding_to_inquiry=responding)
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    if channel == "sms":
        window = consent.contact_window(address, now)
        if window > now + timedelta(minutes=1):
            raise NotNow(window)
    template = _batch_template(batch, touch.template_key, channel)
    if channel == "email":
        return _compose_email(touch, lead, template, address, now, senders.mail, batch)
    return _compose_sms(touch, lead, template, address, now, senders.sms, batch)


def _address(lead: Lead, channel: str) -> str:
    customer = lead.customer
    if channel == "email":
        if not customer.email or not customer.email_valid:
            raise NotAllowed("no valid e-mail address")
        return customer.email
    if not customer.phone or not customer.phone_valid:
        raise NotAllowed("no valid phone number")
    return customer.phone


def _batch_template(batch: Batch, key: str, channel: str) -> MessageTemplate:
    """`_template`, looked up once per batch (a refusal too)."""
    if (key, channel) not in batch.templates:
        try:
            batch.templates[key, channel] = _template(key, channel)
        except NotAllowed as refusal:
            batch.templates[key, channel] = refusal
    found = batch.templates[key, channel]
    if isinstance(found, NotAllowed):
        raise NotAllowed(str(found))
    return found


def _template(key: str, channel: str) -> MessageTemplate:
    try:
        template = get_template(key)
    except UnknownTemplate as missing:
        raise NotAllowed(str(missing)) from missing
    if template.channel != channel:
        raise NotAllowed(f"template {key!r} is not for {channel}")
    return template


def similar_vehicles(lead: Lead, limit: int = 3) -> list[Vehicle]:
    """In-stock vehicles like the one asked about: same model first, then same make."""
    wanted = next((v for v in lead.vehicles if v.interest not in ("trade-in", "sell")), None)
    if wanted is None or not wanted.make:
        return []
    same = [Vehicle.make == wanted.make]
    if wanted.model:
        same.append(Vehicle.model == wanted.model)
    query = (
        select(Vehicle)
        .where(Vehicle.status == "available", or_(*same))
        .order_by((Vehicle.model == wanted.model).desc(), Vehicle.in_stock_on.desc())
        .limit(limit + 1)
    )
    return [v for v in db.session.scalars(query) if v.id != wanted.vehicle_id][:limit]


def _manager() -> User | None:
    """Who signs the manager's e-mail: the first active supervisor."""
    query = select(User).where(User.role == "supervisor", User.active.is_(True)).order_by(User.id)
    return db.session.scalar(query.limit(1))


def _uses(template: MessageTemplate, *names: str) -> bool:
    """Whether the template's text names any of `names`: what it does not name, it cannot show
    (sandboxed templates have no includes), so those queries are skipped."""
    source = f"{template.subject}\n{template.body_text}\n{template.body_html}"
    return any(name in source for name in names)


def _context(template: MessageTemplate, lead: Lead, unsubscribe: str, batch: Batch) -> dict:
    from dealer_leads.appointments.notify import booking_url  # the self-scheduling link

    fields = {}
    if _uses(template, "appointment", "booking_url"):  # as notify.message_fields makes them
        fields = {
            "appointment": batch.appointment(lead.id),
            "booking_url": booking_url(lead.id, now_utc()),
        }
    return build_context(
        lead,
        advisor=lead.assigned_to,
        dealership=get_dealership(),
        similar_vehicles=similar_vehicles(lead) if _uses(template, "similar_vehicles") else [],
        unsubscribe_url=unsubscribe,
        manager=batch.once("manager", _manager) if _uses(template, "manager") else None,
        **fields,
    )


def email_draft_text(touch: Touch, batch: Batch) -> str:
    """The e-mail task's template filled in for its lead, as draft text for the person (no
    footer or headers: they send it themselves). Raises NotAllowed, or the template's error."""
    template = _batch_template(batch, touch.template_key, "email")
    lead = touch.lead
    address = lead.customer.email or ""
    unsubscribe = unsubscribe_url(address) if address else ""
    rendered = render_template(template, _context(template, lead, unsubscribe, batch))
    return draft_text(rendered.subject, rendered.text)


def _compose_email(touch, lead, template, address, now, mail, batch: Batch) -> Composed:
    unsubscribe = unsubscribe_url(address)
    rendered = render_template(template, _context(template, lead, unsubscribe, batch))
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    token = reply_token()
    footer_text, footer_html = batch.once("footer", lambda: dealership_footer(get_dealership()))
    message = build_email(
        rendered=rendered,
        to=address,
        from_addr=sender,
        reply_to=reply_address(sender, token),
        message_id_domain=sender_domain(sender),
        unsubscribe_url=unsubscribe,
        dealership_footer_text=footer_text,
        dealership_footer_html=footer_html,
        now=now,
    )

    def record(message_id: str) -> SendResult:
        subject, text = rendered.subject, rendered.text
        _record(lead, touch, "email", address, subject, text, message_id, token, "", now)
        return SendResult(message_id, f"E-mail sent: {rendered.subject}")

    return Composed(touch, lambda: mail.send(message), record)


def _compose_sms(touch, lead, template, address, now, sms, batch: Batch) -> Composed:
    unsubscribe = unsubscribe_url(address, "sms")  # a phone's link opts it out of texts
    rendered = render_template(template, _context(template, lead, unsubscribe, batch))
    callback = status_callback_url(current_app.config["PUBLIC_BASE_URL"])

    def record(provider_id: str) -> SendResult:
        message_id = f"sms-{provider_id}"
        _record(lead, touch, "sms", address, "", rendered.text, message_id, "", provider_id, now)
        return SendResult(message_id, f"Text sent: {rendered.text[:120]}")

    return Composed(touch, lambda: sms.send(address, rendered.text, callback), record)


def _record(lead, touch, channel, to, subject, body, message_id, token, provider_id, now):
    """The message's row, written at once on the session's connection (the worker commits
    right after; no object for the unit of work to flush)."""
    row = {
        "lead_id": lead.id,
        "touch_id": touch.id,
        "channel": channel,
        "to_address": to,
        "subject": subject[:250],
        "body": body,
        "message_id": message_id[:250],
        "reply_token": token,
        "provider_id": provider_id,
        "status": "sent",
        "sent_at": now,
    }
    insert_row(db.session(), OutboundMessage.__table__, row)
