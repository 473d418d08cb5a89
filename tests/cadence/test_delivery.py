"""The engine against real servers on loopback: an SMTP server (aiosmtpd) and an HTTP server
playing the SMS provider. A lead's first e-mail and first text arrive, each once."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from builders import ingest, lead_json
from flask import Flask, jsonify, request
from support import serve

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import run_due_touches
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.messaging.senders import SmtpSender
from dealer_leads.messaging.sms import SmsSender

ARRIVAL = datetime(2026, 6, 2, 10, 0, tzinfo=ZoneInfo("America/Toronto")).astimezone(UTC)


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def sms_provider():
    provider, texts = Flask("provider"), []

    @provider.post("/2010-04-01/Accounts/AC123/Messages.json")
    def messages():
        assert request.authorization.username == "AC123"
        texts.append(dict(request.form))
        return jsonify(sid=f"SM{len(texts):032d}", status="queued"), 201

    with serve(provider) as base:
        yield f"{base}/2010-04-01", texts


def test_first_email_and_text_reach_real_servers_once(app, make_user, smtp, sms_provider):
    controller, inbox = smtp
    api_url, texts = sms_provider
    ensure_default_plans()
    make_user("advisor", name="Ana Advisor")
    lead_id = ingest(
        lead_json(
            customer={
                "first_name": "Sam",
                "last_name": "Tran",
                "email": "sam@example.com",
                "phone": "4165552671",
            }
        ),
        now=ARRIVAL,
    ).lead_id
    db.session.commit()
    senders = Senders(
        mail=SmtpSender(controller.hostname, controller.port, use_tls=False, timeout=5),
        sms=SmsSender(api_url, "AC123", "token", "+14165550100", timeout=5),
    )
    run_due_touches(ARRIVAL, senders)
    run_due_touches(ARRIVAL + timedelta(seconds=10), senders)
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["sam@example.com"]
    assert "Sam" in message.get_payload(0).get_payload(decode=True).decode()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"].startswith("leads+")
    run_due_touches(ARRIVAL + timedelta(hours=1, minutes=1), senders)
    assert [t["To"] for t in texts] == ["+14165552671"]
    assert "STOP" in texts[0]["Body"] and texts[0]["StatusCallback"].endswith("/sms/status")
    from dealer_leads.messaging.models import OutboundMessage

    sent = db.session.scalars(db.select(OutboundMessage).where(OutboundMessage.lead_id == lead_id))
    assert sorted(m.channel for m in sent) == ["email", "sms"]
