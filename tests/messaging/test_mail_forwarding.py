"""Service, parts and finance inquiries e-mailed in are forwarded to the department's address,
through a real SMTP server (aiosmtpd) on loopback, with the original attached."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

import mail_corpus as corpus
import pytest
from flask import g
from sqlalchemy import select
from support import app_smtp

from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead, LeadEvent
from dealer_leads.messaging.mailbox_services import receive_email
from dealer_leads.messaging.models import OutboundMessage

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SERVICE = "service@dealer.example"


def question(subject: str, text: str, sender: str = "Lee Park <lee@example.com>") -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, corpus.DEALER, subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(text)
    return bytes(message)


def service_question() -> bytes:
    return question("Oil change", "My brakes squeak. Can I book an oil change?\n\nLee\n")


@pytest.fixture
def dealership(app):
    db.session.add(Dealership(name="Maple Ridge Motors", department_emails={"service": SERVICE}))
    db.session.commit()
    g.pop("dealership", None)


@pytest.fixture
def smtp(app):
    with app_smtp(app, PUBLIC_BASE_URL="https://crm.dealer.example") as handler:
        yield handler


def test_service_inquiry_is_forwarded_with_the_original(dealership, smtp):
    raw = service_question()
    outcome = receive_email(raw, NOW)
    lead = db.session.get(Lead, outcome.lead_ids[0])
    assert outcome.kind == "inquiry" and lead.department == "service"
    (envelope,) = smtp.envelopes
    assert envelope.rcpt_tos == [SERVICE]
    forward = BytesParser(policy=policy.default).parsebytes(envelope.content)
    assert forward["Subject"] == "Fwd: Oil change"
    assert forward["Auto-Submitted"] == "auto-generated"
    assert forward["Reply-To"] == "lee@example.com"
    body = forward.get_body(("plain",)).get_content()
    assert f"https://crm.dealer.example/leads/{lead.id}" in body and "brakes squeak" in body
    (attached,) = list(forward.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_content()["Subject"] == "Oil change"
    event = db.session.scalar(
        select(LeadEvent).where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "forwarded")
    )
    assert event.data["to"] == SERVICE
    assert (
        db.session.scalar(select(OutboundMessage).filter_by(lead_id=lead.id)).to_address == SERVICE
    )


def test_sales_inquiries_and_departments_without_address_are_not_forwarded(dealership, smtp):
    receive_email(corpus.plain_inquiry(), NOW)
    receive_email(question("Mats", "I need floor mats for my Civic.", "Al <al@example.com>"), NOW)
    assert smtp.envelopes == []


def test_a_failed_forward_is_on_the_timeline_and_the_lead_is_kept(app, dealership):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=1, MAIL_USE_TLS=False, MAIL_TIMEOUT=2)
    outcome = receive_email(service_question(), NOW)
    assert outcome.kind == "inquiry"
    kinds = db.session.scalars(
        select(LeadEvent.kind).where(LeadEvent.lead_id == outcome.lead_ids[0])
    ).all()
    assert "forward_failed" in kinds and "forwarded" not in kinds
