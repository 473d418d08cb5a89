"""Texts from customers and delivery reports, through the signed provider webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import pytest
from builders import ingest, lead_json
from sqlalchemy import select

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, Touch
from dealer_leads.cadence.services import get_cadence
from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload, Lead, LeadEvent
from dealer_leads.leads.services import list_needs_review
from dealer_leads.messaging.consent import is_suppressed
from dealer_leads.messaging.models import Consent, OutboundMessage, Suppression
from dealer_leads.messaging.sms import twilio_signature
from dealer_leads.messaging.sms_views import EMPTY_TWIML

TOKEN = "test-auth-token"
PUBLIC = "https://dealer.example.com"
INBOUND, STATUS = "/api/v1/inbound/sms", "/api/v1/inbound/sms/status"
PHONE, EMAIL = "+14163630142", "dana@example.com"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Toronto
_sids = count(1)


@pytest.fixture
def app(app_factory):
    """The app as the provider reaches it: public URL and auth token configured."""
    app = app_factory(SMS_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=PUBLIC + "/")
    with app.app_context():
        yield app


@pytest.fixture
def lead(app, make_user) -> Lead:
    """A new-vehicle lead from the real intake, assigned, with its follow-up plan running."""
    make_user("advisor", name="Sam Advisor")
    ensure_default_plans()
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": EMAIL}
    result = ingest(lead_json(customer=customer | {"phone": "(416) 363-0142"}), now=NOW)
    lead = db.session.get(Lead, result.lead_id)
    assert lead.customer.phone == PHONE and lead.assigned_to is not None
    assert get_cadence(lead.id)[0].state == "active"
    return lead


def post_signed(client, path: str, params: dict, *, url: str | None = None, signature=None):
    """Post form `params` as the provider does, signed over the public URL."""
    signed = twilio_signature(url or PUBLIC + path, params, TOKEN)
    headers = {} if signature is False else {"X-Twilio-Signature": signature or signed}
    return client.post(path, data=params, headers=headers)


def text_params(body: str, sender: str = PHONE, sid: str | None = None) -> dict:
    return {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+14165550100",
        "Body": body,
        "NumMedia": "0",
    }


def send_text(client, body: str, sender: str = PHONE, sid: str | None = None):
    response = post_signed(client, INBOUND, text_params(body, sender, sid))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == EMPTY_TWIML
    return response


def events(lead: Lead, kind: str) -> list[LeadEvent]:
    query = select(LeadEvent).where(LeadEvent.lead_id == lead.id, LeadEvent.kind == kind)
    return list(db.session.scalars(query))


def touches(lead: Lead, *channels: str) -> dict[str, set[str]]:
    rows = db.session.scalars(select(Touch).where(Touch.lead_id == lead.id))
    found: dict[str, set[str]] = {}
    for touch in rows:
        if touch.channel in channels:
            found.setdefault(touch.channel, set()).add(touch.status)
    return found


def payloads() -> list[InboundPayload]:
    query = select(InboundPayload).where(InboundPayload.channel == "sms")
    return list(db.session.scalars(query.order_by(InboundPayload.id)))


def suppressions() -> set[tuple[str, str]]:
    return {(s.channel, s.address) for s in db.session.scalars(select(Suppression))}


# --- replies ----------------------------------------------------------------------------------


def test_reply_goes_on_the_lead_and_pauses_automatic_follow_up(client, lead):
    send_text(client, "Is the CR-V still there? I can come Saturday")

    [reply] = events(lead, "reply")
    assert reply.summary == "Text from the customer: Is the CR-V still there? I can come Saturday"
    assert reply.data["body"] == "Is the CR-V still there? I can come Saturday"
    cadence = get_cadence(lead.id)[0]
    assert (cadence.state, cadence.reason) == ("paused", "customer texted back")
    assert touches(lead, *AUTOMATIC_CHANNELS) == {"auto_email": {"held"}, "auto_sms": {"held"}}
    [task] = db.session.scalars(
        select(Touch).where(Touch.lead_id == lead.id, Touch.status == "open")
    )
    assert (task.title, task.assigned_to_id) == (
        "Respond: customer texted back",
        lead.assigned_to_id,
    )
    [stored] = payloads()
    assert (stored.status, stored.error, stored.response["lead_ids"]) == (
        "processed",
        "",
        [lead.id],
    )
    assert b"Body=Is+the+CR-V" in stored.raw
    assert stored.content_type.startswith("application/x-www-form-urlencoded")


def open_tasks(lead: Lead) -> list[Touch]:
    query = select(Touch).where(
        Touch.lead_id == lead.id, Touch.channel == "task", Touch.status == "open"
    )
    return [t for t in db.session.scalars(query) if t.title.startswith("Respond:")]


def test_text_on_an_unassigned_lead_opens_a_task_for_the_supervisor(client, app):
    ensure_default_plans()
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": EMAIL, "phone": PHONE}
    lead = db.session.get(Lead, ingest(lead_json(customer=customer), now=NOW).lead_id)
    assert lead.assigned_to_id is None
    send_text(client, "Can I see it tonight?")
    assert get_cadence(lead.id)[0].state == "paused"
    (task,) = open_tasks(lead)
    assert (task.title, task.assigned_to_id) == ("Respond: customer texted back", None)
    assert task.due_at <= datetime.now(UTC)
    send_text(client, "Hello?")  # nothing left to pause: still someone must answer
    assert len(open_tasks(lead)) == 2


def test_each_text_on_a_paused_plan_is_a_task_for_the_advisor(client, lead):
    send_text(client, "Is it still there?")
    send_text(client, "I can come at 6")  # the plan is paused already: nothing to pause
    tasks = open_tasks(lead)
    assert [t.title for t in tasks] == ["Respond: customer texted back"] * 2
    assert {t.assigned_to_id for t in tasks} == {lead.assigned_to_id}


def test_provider_retry_of_the_same_text_is_acted_on_once(client, lead):
    send_text(client, "Call me after 5", sid="SM" + "7" * 32)
    send_text(client, "Call me after 5", sid="SM" + "7" * 32)
    assert len(events(lead, "reply")) == 1
    assert len(payloads()) == 1


def test_reply_with_no_open_lead_lands_on_the_latest_lead(client, lead):
    lead.status, lead.lost_reason = "lost", "bought elsewhere"
    db.session.commit()
    send_text(client, "Actually, is it still for sale?")
    assert [e.data["body"] for e in events(lead, "reply")] == ["Actually, is it still for sale?"]


def test_public_url_with_a_query_string_is_what_is_signed(client, lead):
    params = text_params("Yes")
    path = INBOUND + "?rooftop=main"
    response = post_signed(client, path, params, url=PUBLIC + path)
    assert response.status_code == 200
    assert len(events(lead, "reply")) == 1


# --- opt-out and opt-in -----------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "stop", "Arrêt", " Unsubscribe ", "QUIT.", "cancel"])
def test_stop_words_opt_the_number_out_of_texts(client, lead, word):
    send_text(client, word)

    assert suppressions() == {("sms", PHONE)}
    assert is_suppressed(PHONE, "sms") and not is_suppressed(PHONE, "call")
    [opt_out] = events(lead, "opt_out")
    assert opt_out.data["channel"] == "sms"
    found = touches(lead, *AUTOMATIC_CHANNELS)
    assert found["auto_sms"] == {"cancelled"} and found["auto_email"] == {"scheduled"}
    assert get_cadence(lead.id)[0].state == "active"  # e-mails and calls go on
    assert events(lead, "reply") == []
    assert payloads()[0].status == "processed"


def test_stopall_opts_out_of_everything_and_stops_the_plan(client, lead):
    send_text(client, "STOPALL")

    assert suppressions() == {("all", PHONE), ("all", EMAIL)}
    assert is_suppressed(EMAIL, "email") and is_suppressed(PHONE, "call")
    cadence, planned = get_cadence(lead.id)
    assert (cadence.state, cadence.reason) == ("stopped", "opted out of all messages")
    assert {t.status for t in planned} == {"cancelled"}
    assert (
        events(lead, "opt_out")[0].summary
        == "Customer texted STOPALL: no more messages of any kind"
    )


def test_start_opts_back_in_to_texts(client, lead):
    send_text(client, "STOP")
    send_text(client, "start")

    assert suppressions() == set()
    assert not is_suppressed(PHONE, "sms")
    [opt_in] = events(lead, "opt_in")
    assert opt_in.summary == "Customer texted START: texts allowed again"
    express = select(Consent).filter_by(customer_id=lead.customer_id, kind="express")
    assert [(c.channel, c.withdrawn_at) for c in db.session.scalars(express)] == [("sms", None)]


def test_stop_from_a_number_we_do_not_know_is_still_honoured(client, lead):
    send_text(client, "STOP", sender="+16135550188")
    assert suppressions() == {("sms", "+16135550188")}
    assert payloads()[0].status == "processed"
    assert events(lead, "opt_out") == []


# --- bad and unknown input --------------------------------------------------------------------


def test_unknown_number_is_kept_for_review(client, lead):
    send_text(client, "Hi, who is this?", sender="+16135550188")

    [stored] = payloads()
    assert (stored.status, stored.error) == ("failed", "no customer with this number")
    assert stored in list_needs_review()
    assert events(lead, "reply") == []


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("missing", "missing_signature"),
        ("wrong_token", "bad_signature"),
        ("internal_url", "bad_signature"),
        ("tampered_body", "bad_signature"),
    ],
)
def test_bad_signature_is_refused_and_nothing_is_stored(client, lead, how, code):
    params = text_params("STOP")
    signature = {
        "missing": False,
        "wrong_token": twilio_signature(PUBLIC + INBOUND, params, "not-the-token"),
        "internal_url": twilio_signature("http://localhost" + INBOUND, params, TOKEN),
        "tampered_body": twilio_signature(PUBLIC + INBOUND, {**params, "Body": "hi"}, TOKEN),
    }[how]
    response = post_signed(client, INBOUND, params, signature=signature)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == code
    assert payloads() == [] and suppressions() == set() and events(lead, "opt_out") == []


def test_status_callback_needs_a_signature_too(client, lead):
    params = {"MessageSid": "SM1", "MessageStatus": "failed"}
    assert client.post(STATUS, data=params).status_code == 403
    assert post_signed(client, STATUS, params, signature="AAAA").status_code == 403


def test_oversized_body_is_refused(client, lead):
    response = post_signed(client, INBOUND, text_params("x" * 70_000))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert payloads() == []


def test_without_an_auth_token_the_webhooks_say_sms_is_not_configured(app_factory):
    unconfigured = app_factory(SMS_AUTH_TOKEN="").test_client()
    for path in (INBOUND, STATUS):
        response = unconfigured.post(
            path, data=text_params("hi"), headers={"X-Twilio-Signature": "x"}
        )
        assert response.status_code == 503
        assert response.get_json()["error"] == {
            "code": "not_configured",
            "message": "SMS is not configured",
            "fields": {},
        }


# --- delivery reports -------------------------------------------------------------------------


def _sent_text(lead: Lead, provider_id: str) -> OutboundMessage:
    message = OutboundMessage(
        lead_id=lead.id,
        channel="sms",
        to_address=PHONE,
        body="Hi Dana, Sam from Maple Ridge Motors here.",
        message_id=f"sms-{provider_id}",
        provider_id=provider_id,
        status="sent",
        sent_at=NOW,
    )
    db.session.add(message)
    db.session.commit()
    return message


def report(client, sid: str, status: str, **extra):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
    response = post_signed(client, STATUS, params)
    assert response.status_code == 204, response.get_data(as_text=True)


def test_delivery_report_updates_the_text_and_never_goes_back(client, lead):
    message = _sent_text(lead, "SMdelivered")
    report(client, "SMdelivered", "delivered")
    assert (message.status, message.error) == ("delivered", "")
    report(client, "SMdelivered", "sent")  # arrived late
    assert message.status == "delivered"
    assert events(lead, "sms_undelivered") == []


def test_undelivered_text_shows_on_the_lead_with_the_reason(client, lead):
    message = _sent_text(lead, "SMlandline")
    report(client, "SMlandline", "undelivered", ErrorCode="30006")

    assert message.status == "undelivered"
    assert message.error == "error 30006: a landline or a carrier that cannot take texts"
    [event] = events(lead, "sms_undelivered")
    assert "30006" in event.summary and event.data["outbound_id"] == message.id


def test_report_on_an_unknown_text_is_ignored(client, lead, caplog):
    message = _sent_text(lead, "SMknown")
    with caplog.at_level("INFO", logger="dealer_leads.messaging.sms_inbound"):
        report(client, "SMnobody", "failed", ErrorCode="30003")
    assert "SMnobody" in caplog.text
    assert message.status == "sent"
