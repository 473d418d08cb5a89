"""The public inquiry form: standalone, embedded, cross-origin, and closed to bots."""

import re
import time
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer

from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload, Lead

PERSON = {
    "first_name": "Ana",
    "last_name": "Lopez",
    "email": "ana@example.com",
    "phone": "416 555 2671",
    "interest": "buy",
    "condition": "new",
    "year": "2025",
    "make": "Honda",
    "model": "Civic",
    "comments": "Best price?",
    "website": "",
}


def _token(app, seconds_ago: float) -> str:
    signer = URLSafeSerializer(app.config["SECRET_KEY"], salt="inquiry-form")
    return signer.dumps(str(time.time() - seconds_ago))


def test_form_post_creates_lead_and_thanks(client):
    page = client.get("/inquiry?stock=A123")
    assert page.status_code == 200 and 'value="A123"' in page.get_data(as_text=True)
    response = client.post(
        "/inquiry",
        data={
            **PERSON,
            "stock": "A123",
            "trade_year": "2015",
            "trade_make": "Mazda",
            "trade_model": "3",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/inquiry/thanks")
    lead = db.session.scalar(db.select(Lead))
    assert (lead.source, lead.channel, lead.customer.email) == (
        "Website",
        "form",
        "ana@example.com",
    )
    assert [(v.interest, v.model) for v in lead.vehicles] == [("buy", "Civic"), ("trade-in", "3")]
    assert lead.inbound.raw.startswith(b"first_name=Ana")
    assert "Thank you" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_cross_origin_plain_post_needs_no_csrf_and_page_can_be_framed(app_factory):
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    response = client.post(
        "/inquiry?embed=1", data=PERSON, headers={"Origin": "https://www.dealer-site.example"}
    )
    assert response.status_code == 303 and "embed=1" in response.headers["Location"]
    framed = client.get("/inquiry?embed=1")
    assert "frame-ancestors *" in framed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed.headers
    assert 'class="embed"' in framed.get_data(as_text=True)


def test_json_answer_when_asked(client):
    response = client.post("/inquiry", data=PERSON, headers={"Accept": "application/json"})
    assert response.status_code == 201 and response.json["ok"] is True
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.post(
        "/inquiry", data={"first_name": "X"}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) == {"email", "phone"}


def test_missing_name_and_contact_show_the_form_again(client):
    response = client.post("/inquiry", data={"comments": "hi"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "please tell us your name" in page
    assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0
    kept = db.session.scalar(db.select(InboundPayload))
    assert kept.status == "failed" and kept.raw == b"comments=hi"


def test_honeypot_gets_thanks_but_no_lead(client):
    response = client.post("/inquiry", data={**PERSON, "website": "http://spam.example"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/inquiry/thanks")
    assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0
    kept = db.session.scalar(db.select(InboundPayload))
    assert (kept.status, kept.error) == ("spam", "honeypot field filled")


def test_minimum_fill_time_and_forged_token(app_factory):
    app = app_factory(INQUIRY_MIN_FILL_SECONDS=3)
    client = app.test_client()
    with app.app_context():
        token = re.search(
            r'name="ts" value="([^"]+)"', client.get("/inquiry").get_data(as_text=True)
        )
        assert token
        client.post("/inquiry", data={**PERSON, "ts": token.group(1)})  # at once: a bot
        client.post("/inquiry", data={**PERSON, "ts": "forged"})
        client.post("/inquiry", data={**PERSON, "ts": _token(app, 10), "email": "p@example.com"})
        statuses = db.session.scalars(db.select(InboundPayload.status).order_by(InboundPayload.id))
        assert list(statuses) == ["spam", "spam", "processed"]
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 1


def test_rate_limit_per_client(app_factory):
    client = app_factory(RATELIMIT_ENABLED=True, INQUIRY_RATE_LIMIT="2 per minute").test_client()
    codes = [client.post("/inquiry", data=PERSON).status_code for _ in range(3)]
    assert codes == [303, 303, 429]


def _post_via_proxy(client, client_ip: str) -> int:
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    headers = {"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https"}
    return client.post("/inquiry", data=PERSON, headers=headers, environ_base=proxy).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_rate_limit(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, INQUIRY_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    first = [_post_via_proxy(client, "203.0.113.7") for _ in range(3)]
    second = [_post_via_proxy(client, "198.51.100.20") for _ in range(2)]
    assert first == [303, 303, 429] and second == [303, 303]
    with app.app_context():
        addresses = db.session.scalars(db.select(InboundPayload.source_ip))
        assert set(addresses) == {"203.0.113.7", "198.51.100.20"}


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_dodge_the_limit(app_factory):
    client = app_factory(RATELIMIT_ENABLED=True, INQUIRY_RATE_LIMIT="2 per minute").test_client()
    codes = [_post_via_proxy(client, f"203.0.113.{n}") for n in range(3)]
    assert codes == [303, 303, 429]


def test_non_utf8_form_body_is_kept_for_review(client):
    response = client.post(
        "/inquiry",
        data=b"first_name=Andr\xe9&email=a%40example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 422
    kept = db.session.scalar(db.select(InboundPayload))
    assert kept.status == "failed" and b"Andr\xe9" in kept.raw


def test_script_in_name_is_shown_escaped_to_staff(client, login_as):
    client.post("/inquiry", data={**PERSON, "first_name": "<script>alert(1)</script>"})
    login_as("supervisor")
    page = client.get("/leads/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_a_corrected_form_leaves_no_failed_attempt_to_review(client, app):
    from dealer_leads.leads.services import count_needs_review

    nameless = {
        key: value for key, value in PERSON.items() if key not in ("first_name", "last_name")
    }
    assert client.post("/inquiry", data=nameless).status_code == 422
    assert client.post("/inquiry", data={**nameless, "email": ""}).status_code == 422
    assert count_needs_review() == 2

    assert client.post("/inquiry", data=PERSON).status_code == 303

    assert count_needs_review() == 0
    rows = db.session.scalars(db.select(InboundPayload).order_by(InboundPayload.id)).all()
    assert [row.status for row in rows] == ["discarded", "discarded", "processed"]
    assert b"email=ana@example.com&phone=416" in rows[0].raw  # kept as sent
    assert f"Sent again, corrected, as payload #{rows[2].id}." in rows[0].error


def test_someone_else_failing_from_the_same_address_stays_for_review(client):
    from dealer_leads.leads.services import count_needs_review

    stranger = {"email": "bo@example.com", "phone": "647 555 0199", "comments": "call me"}
    assert client.post("/inquiry", data=stranger).status_code == 422
    other_ip = {"REMOTE_ADDR": "192.0.2.50"}
    assert (
        client.post(
            "/inquiry", data={"email": "ana@example.com"}, environ_base=other_ip
        ).status_code
        == 422
    )

    assert client.post("/inquiry", data=PERSON).status_code == 303
    assert count_needs_review() == 2


# --- "Text me about my inquiry": express consent to texts from the form ----------------------


def _us_dealership(app_factory):
    """An app whose dealership follows the US rules: automatic texts need express consent."""
    app = app_factory(DEALERSHIP_COUNTRY="US", DEALERSHIP_NAME="Lakeside Honda")
    return app, app.test_client()


def _sms_consents(customer_id: int):
    from dealer_leads.messaging.models import Consent

    query = db.select(Consent).filter_by(customer_id=customer_id, channel="sms", kind="express")
    return list(db.session.scalars(query))


def test_the_text_box_is_unticked_with_the_consent_statement_beside_it(app_factory):
    app, client = _us_dealership(app_factory)
    with app.app_context():
        page = client.get("/inquiry").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" name="sms_consent"[^>]*>', page)
    assert box and "checked" not in box.group(0)
    assert "Text me about my inquiry" in page
    statement = re.search(r'id="text-consent-statement">([^<]+)<', page).group(1)
    for words in ("Lakeside Honda", "not a condition of purchase", "Msg &amp; data rates", "STOP"):
        assert words in statement


def test_a_ticked_box_with_a_mobile_records_express_consent_that_lets_texts_go(app_factory):
    from dealer_leads.messaging.consent import may_contact

    app, client = _us_dealership(app_factory)
    with app.app_context():
        response = client.post("/inquiry", data={**PERSON, "sms_consent": "yes"})
        assert response.status_code == 303
        lead = db.session.scalar(db.select(Lead))
        [consent] = _sms_consents(lead.customer_id)
        assert consent.source == "web form" and consent.given_at == lead.received_at
        event = next(e for e in lead.events if e.kind == "consent")
        assert "+14165552671" in event.summary
        assert "not a condition of purchase" in event.data["statement"]
        assert "Lakeside Honda" in event.data["statement"]
        later = lead.received_at + timedelta(days=3)  # not an answer to the inquiry any more
        decision = may_contact(lead.customer, "sms", now=later, responding_to_inquiry=False)
        assert decision.allowed, decision.reason


def test_without_the_box_no_express_consent_and_no_automatic_texts_under_us_rules(app_factory):
    from dealer_leads.messaging.consent import may_contact

    app, client = _us_dealership(app_factory)
    with app.app_context():
        assert client.post("/inquiry", data=PERSON).status_code == 303
        lead = db.session.scalar(db.select(Lead))
        assert _sms_consents(lead.customer_id) == []
        assert not any(e.kind == "consent" for e in lead.events)
        later = lead.received_at + timedelta(days=3)
        assert not may_contact(lead.customer, "sms", now=later, responding_to_inquiry=False).allowed


@pytest.mark.parametrize(
    "phone, why",
    [
        ("", "no mobile number was given"),
        ("1-800-555-0199", "no mobile number was given"),  # toll-free
        ("+33 1 42 68 53 00", "no mobile number was given"),  # a Paris landline
        ("555", "no mobile number was given"),
    ],
)
def test_a_ticked_box_without_a_mobile_records_no_consent_and_says_why(app_factory, phone, why):
    app, client = _us_dealership(app_factory)
    with app.app_context():
        data = {**PERSON, "phone": phone, "sms_consent": "yes"}
        assert client.post("/inquiry", data=data).status_code == 303
        lead = db.session.scalar(db.select(Lead))
        assert _sms_consents(lead.customer_id) == []
        [event] = [e for e in lead.events if e.kind == "consent"]
        assert why in event.summary and "no consent recorded" in event.summary


def test_consent_covers_only_the_number_on_file(app_factory):
    app, client = _us_dealership(app_factory)
    with app.app_context():
        assert client.post("/inquiry", data=PERSON).status_code == 303
        data = {**PERSON, "phone": "647 555 0100", "sms_consent": "yes"}  # same e-mail
        assert client.post("/inquiry", data=data).status_code == 303
        lead = db.session.scalar(db.select(Lead))
        assert lead.customer.phone == "+14165552671"
        assert _sms_consents(lead.customer_id) == []
        [event] = [e for e in lead.events if e.kind == "consent"]
        assert "+16475550100" in event.summary and "not the one on file" in event.summary


def test_a_ticked_box_does_not_lift_an_opt_out(app_factory):
    from dealer_leads.database import now_utc
    from dealer_leads.messaging.consent import is_suppressed, withdraw

    app, client = _us_dealership(app_factory)
    with app.app_context():
        withdraw("+14165552671", "sms", "sms", "texted STOP", now_utc())
        assert client.post("/inquiry", data={**PERSON, "sms_consent": "yes"}).status_code == 303
        lead = db.session.scalar(db.select(Lead))
        assert _sms_consents(lead.customer_id) == []
        assert is_suppressed("+14165552671", "sms")
        [event] = [e for e in lead.events if e.kind == "consent"]
        assert "opted out of texts" in event.summary


def test_the_tick_is_kept_when_the_form_comes_back_with_a_problem(client):
    response = client.post("/inquiry", data={"phone": "416 555 2671", "sms_consent": "yes"})
    assert response.status_code == 422
    box = re.search(r'<input type="checkbox" name="sms_consent"[^>]*>', response.get_data(True))
    assert box and "checked" in box.group(0)


def test_the_embed_code_page_gives_the_text_box_and_its_statement(client, login_as):
    login_as("webmaster")
    page = client.get("/inquiry/embed-code").get_data(as_text=True)
    assert 'name="sms_consent" value="yes"' in page.replace("&lt;", "<").replace("&gt;", ">")
    assert "not a condition of purchase" in page
