"""Turn one automatic touch into an e-mail or a text, within consent and quiet hours, and send
it through the sender passed in. Records the message; the engine records the touch's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import User
from dealer_leads.cadence.models import Touch
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Lead
from dealer_leads.messaging import consent
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

# The first answer to the customer's own inquiry is allowed without prior consent.
RESPONDING_WINDOW = timedelta(hours=24)


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
    kind = {"auto_email": "automatic e-mail", "auto_sms": "automatic text"}.get(
        touch.channel, "step"
    )
    return f"{kind} ({touch.template_key or touch.title})" if touch.template_key else kind


def send_touch(touch: Touch, now: datetime, senders: Senders) -> SendResult:
    """Check, compose and send; raises NotAllowed, NotNow or the sender's errors."""
    lead = touch.lead
    channel = "email" if touch.channel == "auto_email" else "sms"
    address = _address(lead, channel)
    responding = now - lead.received_at <= RESPONDING_WINDOW and touch.position == 0
    decision = consent.may_contact(
        lead.customer, channel, now=now, responding_to_inquiry=responding
    )
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    if channel == "sms":
        window = consent.contact_window(address, now)
        if window > now + timedelta(minutes=1):
            raise NotNow(window)
    template = _template(touch.template_key, channel)
    if channel == "email":
        return _send_email(touch, lead, template, address, now, senders.mail)
    return _send_sms(touch, lead, template, address, now, senders.sms)


def _address(lead: Lead, channel: str) -> str:
    customer = lead.customer
    if channel == "email":
        if not customer.email or not customer.email_valid:
            raise NotAllowed("no valid e-mail address")
        return customer.email
    if not customer.phone or not customer.phone_valid:
        raise NotAllowed("no valid phone number")
    return customer.phone


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


def _context(lead: Lead, address: str) -> dict:
    return build_context(
        lead,
        advisor=lead.assigned_to,
        dealership=get_dealership(),
        similar_vehicles=similar_vehicles(lead),
        unsubscribe_url=unsubscribe_url(address),
        manager=_manager(),
    )


def _send_email(touch, lead, template, address, now, mail) -> SendResult:
    dealership = get_dealership()
    rendered = render_template(template, _context(lead, address))
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    token = reply_token()
    footer_text, footer_html = dealership_footer(dealership)
    message = build_email(
        rendered=rendered,
        to=address,
        from_addr=sender,
        reply_to=reply_address(sender, token),
        message_id_domain=sender_domain(sender),
        unsubscribe_url=unsubscribe_url(address),
        dealership_footer_text=footer_text,
        dealership_footer_html=footer_html,
        now=now,
    )
    message_id = mail.send(message)
    _record(
        lead, touch, "email", address, rendered.subject, rendered.text, message_id, token, "", now
    )
    return SendResult(message_id, f"E-mail sent: {rendered.subject}")


def _send_sms(touch, lead, template, address, now, sms) -> SendResult:
    rendered = render_template(template, _context(lead, address))
    callback = status_callback_url(current_app.config["PUBLIC_BASE_URL"])
    provider_id = sms.send(address, rendered.text, callback)
    message_id = f"sms-{provider_id}"
    _record(lead, touch, "sms", address, "", rendered.text, message_id, "", provider_id, now)
    return SendResult(message_id, f"Text sent: {rendered.text[:120]}")


def _record(lead, touch, channel, to, subject, body, message_id, token, provider_id, now):
    db.session.add(
        OutboundMessage(
            lead_id=lead.id,
            touch_id=touch.id,
            channel=channel,
            to_address=to,
            subject=subject[:250],
            body=body,
            message_id=message_id[:250],
            reply_token=token,
            provider_id=provider_id,
            status="sent",
            sent_at=now,
        )
    )
