"""Correcting a customer's contact after a bounce: the lead page's form (who may, CSRF,
validation, the timeline, the bounced mark), and a new inquiry that brings a working e-mail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import mail_corpus as corpus
import pytest
from builders import ingest, lead_json
from sqlalchemy import select
from support import login, login_with_csrf

from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent
from dealer_leads.messaging.mailbox_services import receive_email

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
EMAIL = "dana@example.com"
PHONE = "+14165550142"


@pytest.fixture
def bounced(app, make_user) -> Lead:
    """A lead given to its advisor whose e-mail address bounced."""
    make_user("advisor", name="Sam Advisor")
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": EMAIL, "phone": PHONE}
    lead = db.session.get(Lead, ingest(lead_json(customer=customer), now=NOW).lead_id)
    assert receive_email(corpus.bounce(EMAIL, "<none@dealer.example>"), NOW).kind == "bounce"
    assert lead.customer.email_valid is False and lead.assigned_to is not None
    return lead


def customer_of(lead: Lead) -> Customer:
    db.session.expire_all()
    return db.session.get(Lead, lead.id).customer


def changes(lead: Lead) -> list[LeadEvent]:
    query = select(LeadEvent).where(
        LeadEvent.lead_id == lead.id, LeadEvent.kind == "contact_changed"
    )
    return list(db.session.scalars(query))


def post(client, lead: Lead, **data):
    return client.post(f"/leads/{lead.id}/contact", data=data)


def test_supervisor_fixes_a_bounced_address(bounced, client, login_as):
    boss = login_as("supervisor")
    page = client.get(f"/leads/{bounced.id}").text
    assert "Edit contact" in page and 'name="email"' in page and EMAIL in page
    response = post(client, bounced, email=" Dana.T@Example.COM ", phone="(416) 555-0142")
    assert response.status_code == 303
    customer = customer_of(bounced)
    assert (customer.email, customer.email_valid) == ("dana.t@example.com", True)
    assert customer.phone == PHONE  # the same number, written another way: unchanged
    (event,) = changes(bounced)
    assert event.user_id == boss.id
    assert event.summary == f"Contact corrected: e-mail {EMAIL} → dana.t@example.com"
    assert (event.data["old_email"], event.data["new_email"]) == (EMAIL, "dana.t@example.com")
    shown = client.get(response.headers["Location"]).text
    assert "Contact corrected" in shown and "not valid" not in shown


def test_the_leads_own_advisor_fixes_the_phone(bounced, client):
    login(client, bounced.assigned_to)
    response = post(client, bounced, email=EMAIL, phone="613 555 0199")
    assert response.status_code == 303
    customer = customer_of(bounced)
    assert (customer.phone, customer.phone_valid) == ("+16135550199", True)
    assert customer.email_valid is False  # the bounced address was kept, so is its mark
    assert changes(bounced)[0].summary == f"Contact corrected: phone {PHONE} → +16135550199"


@pytest.mark.parametrize(("role", "status"), [("advisor", 404), ("webmaster", 403)])
def test_others_may_not(bounced, client, login_as, role, status):
    login_as(role)
    assert post(client, bounced, email="new@example.com", phone=PHONE).status_code == status
    assert customer_of(bounced).email == EMAIL and not changes(bounced)


@pytest.mark.parametrize(
    ("email", "phone", "problem"),
    [
        ("not an address", PHONE, "'not an address' is not a valid e-mail address"),
        (EMAIL, "12", "'12' is not a phone number that can be called"),
        ("", "", "give an e-mail address or a phone number"),
        (EMAIL, PHONE, "the e-mail and phone are as they were"),
    ],
)
def test_values_intake_would_not_accept_are_refused(
    bounced, client, login_as, email, phone, problem
):
    login_as("supervisor")
    response = post(client, bounced, email=email, phone=phone)
    assert response.status_code == 422
    assert problem.replace("'", "&#39;") in response.text
    customer = customer_of(bounced)
    assert (customer.email, customer.phone) == (EMAIL, PHONE) and not changes(bounced)


def test_an_address_that_bounced_itself_stays_marked(bounced, client, login_as):
    receive_email(corpus.bounce("old@example.com", "<none@dealer.example>"), NOW)
    login_as("supervisor")
    assert post(client, bounced, email="old@example.com", phone=PHONE).status_code == 303
    customer = customer_of(bounced)
    assert (customer.email, customer.email_valid) == ("old@example.com", False)
    assert "it bounced before" in changes(bounced)[0].summary


def test_post_without_csrf_token_is_refused(bounced, make_user, app_factory):
    boss_email = make_user("supervisor").email
    db.session.commit()  # end this session's SQLite transaction: the other app's session writes
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    login_with_csrf(client, SimpleNamespace(email=boss_email))
    assert post(client, bounced, email="new@example.com", phone=PHONE).status_code == 400
    assert customer_of(bounced).email == EMAIL
    page = client.get(f"/leads/{bounced.id}").text
    token = re.search(r'action="/leads/\d+/contact">\s*<input[^>]*value="([^"]+)"', page).group(1)
    response = post(client, bounced, email="new@example.com", phone=PHONE, csrf_token=token)
    assert response.status_code == 303 and customer_of(bounced).email == "new@example.com"


# --- a new inquiry brings a working address ---------------------------------------------------


def test_new_inquiry_replaces_a_bounced_address(bounced):
    later = NOW + timedelta(days=2)
    customer = {"first_name": "Dana", "email": "dana.new@example.com", "phone": "416-555-0142"}
    result = ingest(lead_json(customer=customer), now=later)
    assert result.lead_id == bounced.id  # matched by phone: the same open lead
    stored = customer_of(bounced)
    assert (stored.email, stored.email_valid) == ("dana.new@example.com", True)
    (event,) = changes(bounced)
    assert event.summary == (
        f"E-mail changed from {EMAIL} (not valid) to dana.new@example.com, given with this inquiry"
    )
    assert event.data["inbound_id"] is not None


def test_new_inquiry_on_a_new_lead_says_so_too(bounced):
    db.session.get(Lead, bounced.id).status = "lost"
    db.session.commit()
    customer = {"first_name": "Dana", "email": "dana.new@example.com", "phone": PHONE}
    result = ingest(lead_json(customer=customer), now=NOW + timedelta(days=3))
    assert result.lead_id != bounced.id
    fresh = db.session.get(Lead, result.lead_id)
    assert fresh.customer_id == bounced.customer_id
    assert fresh.customer.email == "dana.new@example.com"
    assert [e.kind for e in fresh.events][:2] == ["inquiry", "contact_changed"]


def test_a_valid_address_is_never_overwritten(app):
    customer = {"first_name": "Dana", "email": EMAIL, "phone": PHONE}
    first = ingest(lead_json(customer=customer), now=NOW)
    ingest(lead_json(customer={**customer, "email": "other@example.com"}), now=NOW)
    assert db.session.get(Lead, first.lead_id).customer.email == EMAIL


def test_a_new_address_that_bounced_too_is_not_taken(bounced):
    receive_email(corpus.bounce("gone@example.com", "<none@dealer.example>"), NOW)
    ingest(lead_json(customer={"email": "gone@example.com", "phone": PHONE}), now=NOW)
    assert customer_of(bounced).email == EMAIL and not changes(bounced)
