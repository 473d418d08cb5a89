"""Unsubscribe links: signed tokens, the page (GET changes nothing), RFC 8058 one-click POST."""

import pytest

from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db
from dealer_leads.messaging.models import Suppression
from dealer_leads.messaging.unsubscribe import (
    InvalidUnsubscribeToken,
    make_unsubscribe_token,
    read_unsubscribe_token,
    unsubscribe_url,
)

ADDRESS = "Dana.Tremblay@Example.com"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def suppressions() -> list[tuple[str, str, str]]:
    rows = db.session.scalars(db.select(Suppression).order_by(Suppression.id))
    return [(row.channel, row.address, row.source) for row in rows]


def tampered(token: str) -> str:
    payload, _, signature = token.rpartition(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{payload}.{flipped}{signature[1:]}"


@pytest.fixture
def csrf_app(app_factory):
    """CSRF protection on, as in production: one-click POSTs cannot carry a token."""
    app = app_factory(WTF_CSRF_ENABLED=True, PUBLIC_BASE_URL="https://dealer.example/")
    with app.app_context():
        db.session.add(Dealership(name="Maple Ridge Motors", phone="(416) 555-0100"))
        db.session.commit()
        yield app


def path(url: str) -> str:
    return url.removeprefix("https://dealer.example")


def test_tokens_round_trip_and_never_expire(app):
    token = make_unsubscribe_token(ADDRESS)
    wanted = read_unsubscribe_token(token)
    assert (wanted.address, wanted.channel) == ("dana.tremblay@example.com", "email")
    assert read_unsubscribe_token(make_unsubscribe_token("+14165550199", "sms")).channel == "sms"


@pytest.mark.parametrize(
    "forge",
    [
        tampered,
        lambda token: token[:-3],
        lambda token: "x" + token,
        lambda token: "eyJhIjoxfQ.bm90IGEgc2lnbmF0dXJl",
        lambda token: "",
    ],
)
def test_forged_tokens_are_refused(app, forge):
    with pytest.raises(InvalidUnsubscribeToken):
        read_unsubscribe_token(forge(make_unsubscribe_token(ADDRESS)))


def test_tokens_from_another_key_are_refused_but_a_rotated_key_still_reads(app):
    token = make_unsubscribe_token(ADDRESS)
    app.config["SECRET_KEY"] = "a-new-key"
    with pytest.raises(InvalidUnsubscribeToken):
        read_unsubscribe_token(token)
    app.config["SECRET_KEY_FALLBACKS"] = ["testing"]
    assert read_unsubscribe_token(token).address == "dana.tremblay@example.com"


def test_unsubscribe_url_uses_the_public_base_url(csrf_app):
    url = unsubscribe_url(ADDRESS)
    assert url.startswith("https://dealer.example/unsubscribe/")
    assert read_unsubscribe_token(url.rsplit("/", 1)[1]).address == "dana.tremblay@example.com"


def test_get_shows_the_page_and_unsubscribes_nobody(csrf_app):
    client = csrf_app.test_client()
    response = client.get(path(unsubscribe_url(ADDRESS)))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Maple Ridge Motors" in page and "d***@example.com" in page
    assert 'method="post"' in page and "dana.tremblay@example.com" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert suppressions() == []


def test_one_click_post_unsubscribes_without_a_csrf_token(csrf_app):
    client = csrf_app.test_client()
    url = path(unsubscribe_url(ADDRESS))
    response = client.post(url, data=ONE_CLICK)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert suppressions() == [("email", "dana.tremblay@example.com", "one_click")]
    again = client.post(url, data=ONE_CLICK)  # idempotent: mail clients may retry
    assert again.status_code == 200
    assert len(suppressions()) == 1
    page = client.get(url).get_data(as_text=True)
    assert "already receives no more e-mails" in page


def test_the_page_button_unsubscribes_too(csrf_app):
    client = csrf_app.test_client()
    response = client.post(path(unsubscribe_url(ADDRESS)), data={"confirm": "1"})
    assert response.status_code == 200
    assert suppressions() == [("email", "dana.tremblay@example.com", "unsubscribe_page")]


def test_other_forms_still_need_their_csrf_token(csrf_app):
    assert csrf_app.test_client().post("/login", data={"email": "a@b.c"}).status_code == 400


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_link_is_404_and_changes_nothing(csrf_app, method):
    client = csrf_app.test_client()
    token = make_unsubscribe_token(ADDRESS)
    for bad in (tampered(token), token[:-1], "not-a-token"):
        response = getattr(client, method)(f"/unsubscribe/{bad}", data=ONE_CLICK)
        assert response.status_code == 404
    assert suppressions() == []


def test_text_message_links_suppress_the_phone(csrf_app):
    client = csrf_app.test_client()
    response = client.post(path(unsubscribe_url("+14165550199", "sms")), data=ONE_CLICK)
    assert response.status_code == 200
    assert suppressions() == [("sms", "+14165550199", "one_click")]


def test_unsubscribing_cancels_the_emails_to_come_and_says_so_on_the_timeline(app, client):
    from builders import ingest, lead_json

    from dealer_leads.cadence.defaults import ensure_default_plans
    from dealer_leads.cadence.models import Touch
    from dealer_leads.leads.models import Lead

    ensure_default_plans()
    customer = {"first_name": "Dana", "email": ADDRESS, "phone": "4165550199"}
    lead = db.session.get(Lead, ingest(lead_json(customer=customer)).lead_id)
    pending = {"scheduled", "held", "open"}

    def statuses(channel: str) -> set[str]:
        query = db.select(Touch.status).filter_by(lead_id=lead.id, channel=channel)
        return set(db.session.scalars(query))

    total = len(db.session.scalars(db.select(Touch).filter_by(lead_id=lead.id)).all())
    assert statuses("auto_email") & pending
    url = path(unsubscribe_url(lead.customer.email))
    assert client.post(url, data={"confirm": "1"}).status_code == 200
    assert statuses("auto_email") == {"cancelled"}
    assert statuses("call_task") <= pending and statuses("auto_sms") <= pending
    cancelled = db.session.scalars(db.select(Touch).filter_by(lead_id=lead.id, status="cancelled"))
    count = len(cancelled.all())
    assert 0 < count < total

    def opt_out_lines() -> list[str]:
        db.session.expire(lead, ["events"])
        return [event.summary for event in lead.events if event.kind == "opt_out"]

    expected = f"Opted out of e-mail via the unsubscribe link; {count} pending steps cancelled"
    assert opt_out_lines() == [expected]
    client.post(url, data=ONE_CLICK)  # a second click changes nothing, adds no line
    assert opt_out_lines() == [expected]
