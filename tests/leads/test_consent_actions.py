"""The lead page's consent: staff record express consent, and each channel's state is shown."""

import re
from datetime import timedelta

import pytest
from builders import ingest, lead_json
from support import csrf_token, login_with_csrf

from dealer_leads.admin.services import get_dealership
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.consent import is_suppressed, may_contact, withdraw
from dealer_leads.messaging.models import Consent

PHONE, EMAIL = "+14165552671", "kim@example.com"


def _us_rules() -> None:
    get_dealership().compliance_regime = "US"
    db.session.add(get_dealership())
    db.session.commit()


def _lead_for(advisor=None, **customer) -> int:
    person = {"first_name": "Kim", "email": EMAIL, "phone": "416 555 2671", **customer}
    lead_id = ingest(lead_json(customer=person)).lead_id
    if advisor is not None:
        db.session.get(Lead, lead_id).assigned_to_id = advisor.id
        db.session.commit()
    return lead_id


def _express(channel: str) -> list[Consent]:
    query = db.select(Consent).filter_by(channel=channel, kind="express")
    return list(db.session.scalars(query))


def _texts_allowed(lead_id: int) -> bool:
    lead = db.session.get(Lead, lead_id)
    later = now_utc() + timedelta(days=2)
    return may_contact(lead.customer, "sms", now=later, responding_to_inquiry=False).allowed


def test_an_advisor_records_spoken_consent_to_texts_and_texts_may_go(client, login_as):
    advisor = login_as("advisor", name="Ana Advisor")
    _us_rules()
    lead_id = _lead_for(advisor)
    assert not _texts_allowed(lead_id)
    form = {"channel": "sms", "method": "phone", "note": "asked for texts about the test drive"}
    response = client.post(f"/leads/{lead_id}/consent", data=form)
    assert response.status_code == 303
    [consent] = _express("sms")
    assert "verbal, on the phone" in consent.source and "Ana Advisor" in consent.source
    assert _express("email") == []
    assert _texts_allowed(lead_id)
    [event] = [e for e in db.session.get(Lead, lead_id).events if e.kind == "consent"]
    assert event.summary.startswith("Express consent to texts: verbal, on the phone")
    assert event.user_id == advisor.id and "test drive" in event.summary
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "Express consent to texts" in page


def test_consent_to_both_channels_from_a_signed_form(client, login_as):
    login_as("supervisor")
    lead_id = _lead_for()
    data = {"channel": "both", "method": "signed_form", "note": ""}
    assert client.post(f"/leads/{lead_id}/consent", data=data).status_code == 303
    assert len(_express("sms")) == 1 and len(_express("email")) == 1


def test_consent_given_again_lifts_the_opt_out_of_that_channel_only(client, login_as):
    login_as("supervisor")
    lead_id = _lead_for()
    withdraw(PHONE, "all", "staff", "asked for nothing", now_utc())
    data = {"channel": "sms", "method": "in_person", "note": "at the showroom"}
    assert client.post(f"/leads/{lead_id}/consent", data=data).status_code == 303
    assert not is_suppressed(PHONE, "sms")
    assert is_suppressed(PHONE, "call") and is_suppressed(EMAIL, "email")
    [event] = [e for e in db.session.get(Lead, lead_id).events if e.kind == "consent"]
    assert "the opt-out of texts is lifted" in event.summary


@pytest.mark.parametrize(
    "customer, form, problem",
    [
        ({}, {"channel": "sms", "method": "other", "note": ""}, "say how the customer gave"),
        ({"phone": "1-800-555-0199"}, {"channel": "sms", "method": "phone"}, "cannot receive"),
        ({"phone": ""}, {"channel": "both", "method": "phone"}, "no valid phone number"),
        ({"email": "not-an-address"}, {"channel": "email", "method": "phone"}, "no valid e-mail"),
    ],
)
def test_consent_that_cannot_be_recorded_is_refused_with_the_reason(
    client, login_as, customer, form, problem
):
    login_as("supervisor")
    lead_id = _lead_for(**customer)
    response = client.post(f"/leads/{lead_id}/consent", data=form)
    assert response.status_code == 422 and problem in response.get_data(as_text=True)
    assert _express("sms") == [] and _express("email") == []


def test_unknown_channel_or_method_is_a_bad_request(client, login_as):
    login_as("supervisor")
    lead_id = _lead_for()
    bad = [{"channel": "fax", "method": "phone"}, {"channel": "sms", "method": "telepathy"}]
    assert [client.post(f"/leads/{lead_id}/consent", data=d).status_code for d in bad] == [400, 400]


def test_a_webmaster_may_not_record_consent(client, login_as):
    login_as("webmaster")
    lead_id = _lead_for()
    response = client.post(f"/leads/{lead_id}/consent", data={"channel": "sms", "method": "phone"})
    assert response.status_code == 403 and _express("sms") == []


def test_an_advisor_may_not_record_consent_on_someone_elses_lead(client, login_as, make_user):
    login_as("advisor")
    lead_id = _lead_for(make_user("advisor"))
    response = client.post(f"/leads/{lead_id}/consent", data={"channel": "sms", "method": "phone"})
    assert response.status_code == 404 and _express("sms") == []


def test_recording_consent_needs_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        boss = make_user("supervisor")
        lead_id = _lead_for()
        login_with_csrf(client, boss)
        data = {"channel": "sms", "method": "phone"}
        assert client.post(f"/leads/{lead_id}/consent", data=data).status_code == 400
        assert _express("sms") == []
        page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
        form = page[page.index("/consent") :]
        data["csrf_token"] = csrf_token(form)
        assert client.post(f"/leads/{lead_id}/consent", data=data).status_code == 303
        assert len(_express("sms")) == 1


def _states(page: str) -> dict[str, str]:
    cells = re.findall(r'<dd data-consent="(\w+)">(.*?)</dd>', page, re.S)
    return {channel: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for channel, text in cells}


def test_the_lead_page_shows_implied_consent_with_its_expiry_under_casl(client, login_as):
    login_as("supervisor")
    lead_id = _lead_for()
    states = _states(client.get(f"/leads/{lead_id}").get_data(as_text=True))
    assert set(states) == {"email", "sms", "call"}
    for channel in ("email", "sms"):
        assert states[channel].startswith("implied until ")
        assert "Automatic" in states[channel] and "allowed" in states[channel]


def test_the_lead_page_shows_express_consent_and_opt_outs(client, login_as):
    login_as("supervisor")
    _us_rules()
    lead_id = _lead_for()
    before = _states(client.get(f"/leads/{lead_id}").get_data(as_text=True))
    assert before["sms"].startswith("implied no expiry")
    assert "not sent" in before["sms"] and "TCPA" in before["sms"]
    client.post(f"/leads/{lead_id}/consent", data={"channel": "sms", "method": "phone"})
    client.post(f"/leads/{lead_id}/opt-out", data={"channel": "email"})
    after = _states(client.get(f"/leads/{lead_id}").get_data(as_text=True))
    assert after["sms"].startswith("express since ") and "until withdrawn" in after["sms"]
    assert after["email"].startswith("opted out ") and "marked by" in after["email"]
    assert after["call"].startswith("implied")


def test_the_lead_page_shows_an_implied_consent_that_ran_out(client, login_as):
    login_as("supervisor")
    lead_id = ingest(
        lead_json(customer={"first_name": "Kim", "email": EMAIL}),
        now=now_utc() - timedelta(days=200),
    ).lead_id
    states = _states(client.get(f"/leads/{lead_id}").get_data(as_text=True))
    assert states["email"].startswith("implied consent expired")
    assert "not sent" in states["email"]
    assert states["sms"] == "no phone"
