"""The template editor: who may open it, saving with checks, preview, the shipped defaults."""

import pytest

from dealer_leads.extensions import db
from dealer_leads.messaging.models import MessageTemplate
from dealer_leads.messaging.template_services import (
    InvalidTemplate,
    ensure_default_templates,
    get_template,
    save_template,
)
from dealer_leads.messaging.templates import DEFAULT_TEMPLATES

GOOD = {
    "name": "Auto-response (open hours)",
    "subject": "About the {{ vehicle.title }}",
    "body_text": "Hi {{ customer.first_name }},\r\n\r\nThanks!\r\n\r\n{{ advisor.signature }}",
    "body_html": "<p>Hi {{ customer.first_name }},</p>",
}


def saved(key: str) -> MessageTemplate | None:
    return db.session.scalar(db.select(MessageTemplate).filter_by(key=key))


@pytest.mark.parametrize(
    "role, status", [(None, 302), ("advisor", 403), ("webmaster", 403), ("supervisor", 200)]
)
def test_who_may_open_the_editor(client, login_as, role, status):
    if role:
        login_as(role)
    for url in ("/templates/", "/templates/auto_response"):
        assert client.get(url).status_code == status, url
    posted = client.post("/templates/auto_response", data=GOOD).status_code
    assert posted == (303 if status == 200 else status)
    assert (saved("auto_response") is not None) == (status == 200)


def test_list_shows_the_shipped_templates(client, login_as):
    login_as("admin")
    page = client.get("/templates/").get_data(as_text=True)
    for entry in DEFAULT_TEMPLATES:
        assert f'/templates/{entry["key"]}"' in page and entry["name"] in page
    assert "as shipped" in page


def test_edit_page_shows_the_template_and_a_preview(client, login_as):
    login_as("supervisor")
    page = client.get("/templates/day2_email").get_data(as_text=True)
    assert "A few details on the" in page  # the subject in the form
    assert "Preview" in page and "2025 Honda CR-V EX-L" in page  # rendered with sample values
    assert "srcdoc=" in page and "customer.first_name" in page  # the merge-field list
    assert "Unsubscribe: https://" in page  # previewed as sent, footer included
    assert "postal address is not set" in page  # a fresh install has none yet


def test_unknown_template_is_404(client, login_as):
    login_as("supervisor")
    assert client.get("/templates/no_such_thing").status_code == 404


def test_save_valid_template_redirects_and_stores_it(client, login_as):
    user = login_as("supervisor")
    response = client.post("/templates/auto_response", data=GOOD)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/templates/")
    row = saved("auto_response")
    assert (row.channel, row.name, row.updated_by_id) == ("email", GOOD["name"], user.id)
    assert row.body_text == "Hi {{ customer.first_name }},\n\nThanks!\n\n{{ advisor.signature }}"
    assert client.post("/templates/auto_response", data={**GOOD, "name": "v2"}).status_code == 303
    assert db.session.scalar(db.select(db.func.count(MessageTemplate.id))) == 1
    db.session.expire_all()
    assert saved("auto_response").name == "v2"


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"body_text": "Hi {{ custmer.first_name }}"}, "unknown variable &#39;custmer&#39;"),
        ({"body_text": "Hi\n{% if vehicle.price %}"}, "Text body, line 2:"),
        ({"subject": ""}, "An e-mail needs a subject."),
        ({"body_html": "{{ ''.__class__.__mro__ }}"}, "not allowed"),
    ],
)
def test_invalid_template_is_refused_with_the_problem(client, login_as, change, problem):
    login_as("supervisor")
    response = client.post("/templates/auto_response", data={**GOOD, **change})
    assert response.status_code == 422
    assert problem in response.get_data(as_text=True)
    assert saved("auto_response") is None


def test_preview_renders_without_saving(client, login_as):
    login_as("supervisor")
    response = client.post("/templates/auto_response", data={**GOOD, "action": "preview"})
    assert response.status_code == 200
    assert "About the 2025 Honda CR-V EX-L" in response.get_data(as_text=True)
    assert saved("auto_response") is None
    bad = client.post(
        "/templates/auto_response", data={**GOOD, "body_text": "{{ x }}", "action": "preview"}
    )
    assert bad.status_code == 422


def test_sms_template_keeps_no_subject_and_warns_when_long(client, login_as):
    login_as("supervisor")
    long_text = "Hi {{ customer.first_name }}. " + "Lots to say. " * 40
    data = {"name": "Intro", "subject": "ignored", "body_text": long_text, "body_html": "<p>x</p>"}
    response = client.post("/templates/text_intro", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "phones split it into several messages" in response.get_data(as_text=True)
    row = saved("text_intro")
    assert (row.channel, row.subject, row.body_html) == ("sms", "", "")


def test_editor_forms_need_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_user("supervisor", email="sup@example.com")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    form = {"email": "sup@example.com", "password": "password123", "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    assert client.post("/templates/auto_response", data=GOOD).status_code == 400


def test_save_template_service_refuses_with_every_problem(app, make_user):
    with pytest.raises(InvalidTemplate) as refused:
        save_template("Bad Key", {"name": "", "channel": "email"}, None)
    problems = refused.value.problems
    assert "The key must be lower-case letters, digits and _." in problems
    assert "The template needs a name." in problems and "An e-mail needs a subject." in problems
    created = save_template("holiday_hours", {**GOOD, "channel": "email"}, make_user("admin"))
    assert created.id and get_template("holiday_hours").name == GOOD["name"]


def test_ensure_default_templates_creates_the_missing_ones_once(app, make_user):
    save_template("auto_response", GOOD, make_user("supervisor"))
    assert ensure_default_templates() == len(DEFAULT_TEMPLATES) - 1
    assert ensure_default_templates() == 0
    assert saved("auto_response").name == GOOD["name"]  # an edited template is kept
    assert saved("text_intro").channel == "sms"
