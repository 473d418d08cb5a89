"""Forwarding service, parts and finance leads to that department's address (set by the admin),
as a proper forward with the original attached, recorded on the lead's timeline.

An e-mailed inquiry is forwarded with the original message attached (message/rfc822); a lead
from the web-site form, the API, an ADF document or staff entry gets a summary of the lead and
the raw payload as received (JSON, XML or the form post). A lead is claimed (`forwarded_at`,
committed) before its forward is sent, so two processes never send it twice; a failed send
clears the claim and is recorded as `forward_failed`, so the worker tries again later.

The forward is marked `Auto-Submitted: auto-generated` (RFC 3834), so the department's own
out-of-office does not answer it, and its Reply-To is the customer, so the department answers
them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid

from flask import current_app
from sqlalchemy import update

from dealer_leads.admin.services import get_dealership
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.email import MAIL_POLICY, sender_domain
from dealer_leads.messaging.mail_in import InMail
from dealer_leads.messaging.models import OutboundMessage
from dealer_leads.messaging.senders import MailSender, mail_sender_from_config

log = logging.getLogger(__name__)

FORWARDED_DEPARTMENTS = ("service", "parts", "finance")
CHANNEL_NAMES = {
    "form": "the web-site form",
    "api": "the lead API",
    "adf": "an ADF lead document",
    "manual": "entry by staff",
    "email": "the leads mailbox",
}
# How each channel's raw payload is attached: (maintype, subtype, file extension).
PAYLOAD_TYPES = {
    "api": ("application", "json", "json"),
    "adf": ("application", "xml", "xml"),
    "form": ("text", "plain", "txt"),
    "manual": ("text", "plain", "txt"),
}


def build_forward(
    raw: bytes, mail: InMail, lead: Lead, *, to: str, from_addr: str, lead_url: str, now: datetime
) -> EmailMessage:
    """The forward of an e-mailed inquiry: a short note with the lead's link and text, the
    original attached (pure)."""
    forward = _new_forward(lead, f"Fwd: {mail.subject or 'inquiry'}", to, from_addr, now)
    forward.set_content(
        f"A {lead.department} inquiry came into the leads mailbox and was routed to you.\n\n"
        f"Lead #{lead.id}: {lead_url}\n"
        f"From: {mail.from_name} <{mail.from_address}>\nSubject: {mail.subject}\n"
        f"Date: {mail.date}\n\n---------- Forwarded message ----------\n{mail.text[:20_000]}\n"
    )
    _attach_original(forward, raw)
    return forward


def build_lead_forward(
    lead: Lead, raw: bytes | None, *, to: str, from_addr: str, lead_url: str, now: datetime
) -> EmailMessage:
    """The forward of a lead from the form, the API, ADF or staff entry: a summary of the
    lead, and the payload as received attached (pure)."""
    customer = lead.customer.name if lead.customer else "(no name)"
    subject = f"Fwd: {lead.department.capitalize()} lead from {customer} ({lead.source})"
    forward = _new_forward(lead, subject, to, from_addr, now)
    note = "The original submission is attached." if raw else "There is no original to attach."
    forward.set_content(f"{lead_summary(lead, lead_url)}\n{note}\n")
    if raw:
        maintype, subtype, extension = PAYLOAD_TYPES.get(
            lead.channel, ("application", "octet-stream", "bin")
        )
        # Byte for byte (base64), as received: the department sees exactly what was sent.
        forward.add_attachment(
            raw,
            maintype=maintype,
            subtype=subtype,
            filename=f"lead-{lead.id}-{lead.channel}.{extension}",
            params={"charset": "utf-8"} if maintype == "text" else {},
        )
    return forward


def lead_summary(lead: Lead, lead_url: str) -> str:
    """The lead in a few lines a department can act on without opening the system (pure)."""
    channel = CHANNEL_NAMES.get(lead.channel, lead.channel)
    customer = lead.customer
    lines = [
        f"A {lead.department} lead came in through {channel} ({lead.source}) "
        "and was routed to you.",
        "",
        f"Lead #{lead.id}: {lead_url}",
        f"Received: {lead.received_at:%Y-%m-%d %H:%M} UTC",
        f"Customer: {customer.name if customer else '(no name)'}",
    ]
    if customer and customer.email:
        lines.append(f"E-mail: {customer.email}")
    if customer and customer.phone:
        lines.append(f"Phone: {customer.phone}")
    for vehicle in lead.vehicles:
        label = "Trade-in" if vehicle.interest in ("trade-in", "sell") else "Vehicle"
        lines.append(f"{label}: {_vehicle_line(vehicle)}")
    if lead.comments:
        lines += ["", "Comments:", lead.comments[:20_000]]
    return "\n".join(lines) + "\n"


def _vehicle_line(vehicle) -> str:
    words = [vehicle.status, str(vehicle.year or "")]
    words += [vehicle.make, vehicle.model, vehicle.trim]
    line = " ".join(w for w in words if w)
    parts = [line or "(not described)"]
    parts += [f"VIN {vehicle.vin}"] if vehicle.vin else []
    parts += [f"stock {vehicle.stock}"] if vehicle.stock else []
    return ", ".join(parts)


def _new_forward(lead: Lead, subject: str, to: str, from_addr: str, now: datetime) -> EmailMessage:
    forward = EmailMessage(policy=MAIL_POLICY)
    forward["From"] = from_addr
    forward["To"] = to
    forward["Subject"] = " ".join(subject.split())[:250]  # no line breaks in a header
    forward["Date"] = format_datetime(now)
    forward["Message-ID"] = make_msgid(domain=sender_domain(from_addr))
    forward["Auto-Submitted"] = "auto-generated"
    forward["X-Auto-Response-Suppress"] = "All"
    customer = lead.customer.email if lead.customer and lead.customer.email_valid else ""
    if customer:
        forward["Reply-To"] = customer
    return forward


def _attach_original(forward: EmailMessage, raw: bytes) -> None:
    """As message/rfc822 when it can be re-serialised; byte for byte as a .eml file if not."""
    try:
        original = BytesParser(policy=MAIL_POLICY).parsebytes(raw)
        attached = EmailMessage(policy=MAIL_POLICY)
        attached.set_content(original)
        attached.as_bytes()  # a malformed original fails here, not when the forward is sent
        forward.add_attachment(original)
    except Exception:
        forward.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="original.eml"
        )


def department_addresses() -> dict[str, str]:
    """The forwarded departments that have an address, and that address."""
    addresses = get_dealership().department_emails or {}
    found = {d: (addresses.get(d) or "").strip() for d in FORWARDED_DEPARTMENTS}
    return {department: address for department, address in found.items() if address}


def claim_forwards(lead_ids: Iterable[int], now: datetime) -> list[int]:
    """Mark the leads not yet forwarded as being forwarded now and commit; returns those this
    call claimed (a lead claimed by another process is left to it)."""
    ids = list(lead_ids)
    claimed: list[int] = []
    if ids:
        statement = (
            update(Lead)
            .where(Lead.id.in_(ids), Lead.forwarded_at.is_(None))
            .values(forwarded_at=now)
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        claimed = sorted(db.session.scalars(statement))
    db.session.commit()
    return claimed


def send_forward(
    lead: Lead,
    to: str,
    build: Callable[[], EmailMessage],
    sender: MailSender,
    now: datetime,
    *,
    attached: str,
) -> bool:
    """Build and send a claimed lead's forward, and record the outcome (commits). A failure
    clears the claim, so the lead is forwarded later, and is on the timeline; never raised."""
    try:
        forward = build()
        message_id = sender.send(forward)
    except Exception as error:  # SMTP down, a bad address: retried later, or forwarded by hand
        log.warning("forward of lead #%s to %s failed: %s", lead.id, to, error)
        lead.forwarded_at = None
        record_event(lead, "forward_failed", f"Forward to {to} failed: {error}", at=now, to=to)
        db.session.commit()
        return False
    _record(lead, forward, to, message_id, now, attached)
    db.session.commit()
    return True


def forward_to_departments(
    raw: bytes, mail: InMail, lead_ids: list[int], now: datetime, sender: MailSender | None = None
) -> list[int]:
    """Forward the message for each lead routed to a department with an address (commits);
    returns the leads forwarded. A failed send is recorded on the lead, never raised."""
    addresses = department_addresses()
    if not addresses or not lead_ids:
        return []
    candidates = db.session.scalars(
        db.select(Lead.id).where(Lead.id.in_(lead_ids), Lead.department.in_(list(addresses)))
    ).all()
    config = current_app.config
    sender = sender or mail_sender_from_config(config)
    from_addr = config.get("MAIL_DEFAULT_SENDER") or "leads@localhost"
    done = []
    for lead_id in claim_forwards(candidates, now):
        lead = db.session.get(Lead, lead_id)
        to = addresses[lead.department]

        def build(lead=lead, to=to) -> EmailMessage:
            url = lead_url(lead.id)
            return build_forward(raw, mail, lead, to=to, from_addr=from_addr, lead_url=url, now=now)

        if send_forward(lead, to, build, sender, now, attached="the original e-mail"):
            done.append(lead.id)
    return done


def lead_url(lead_id: int) -> str:
    """The lead page's address (the worker has no request to build it from)."""
    return f"{(current_app.config.get('PUBLIC_BASE_URL') or '').rstrip('/')}/leads/{lead_id}"


def _record(
    lead: Lead, forward: EmailMessage, to: str, message_id: str, now: datetime, attached: str
) -> None:
    db.session.add(
        OutboundMessage(
            lead_id=lead.id,
            channel="email",
            to_address=to[:254],
            subject=str(forward["Subject"])[:250],
            body=f"(forward of the lead, with {attached} attached)",
            message_id=(message_id or str(forward["Message-ID"]))[:250],
            sent_at=now,
        )
    )
    record_event(
        lead,
        "forwarded",
        f"Forwarded to {lead.department} ({to}) with {attached} attached",
        at=now,
        to=to,
        message_id=message_id,
    )
