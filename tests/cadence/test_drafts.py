"""E-mail tasks carry their step's template filled in for the lead, as a draft the person can
read, copy or open in their own mail program."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json

from dealer_leads.cadence import plan_services
from dealer_leads.cadence import services as cadence
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.drafts import draft_text, email_draft, mailto_link
from dealer_leads.cadence.engine import run_due_touches
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

TORONTO = ZoneInfo("America/Toronto")
DAY0 = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)  # a Tuesday, 10:00


class FakeSender:
    def __init__(self):
        self.sent = []

    def send(self, *message, **options) -> str:
        self.sent.append(message)
        return f"id-{len(self.sent)}"


@pytest.fixture
def senders(app, make_user):
    ensure_default_plans()
    make_user("advisor", name="Ana Advisor")
    return Senders(mail=FakeSender(), sms=FakeSender())


def _email_task_lead(template_key: str = "day2_email") -> Lead:
    """A lead on a plan whose only step is an e-mail for a person to write, due at once."""
    step = {"offset_minutes": 0, "channel": "email_task", "title": "Write to them"}
    plan = plan_services.save_plan(
        None, "Personal", "", True, [{**step, "template_key": template_key}]
    ).plan
    lead = db.session.get(Lead, ingest(lead_json(), now=DAY0).lead_id)
    for touch in db.session.scalars(db.select(Touch).where(Touch.lead_id == lead.id)):
        touch.status = "cancelled"  # only the e-mail task is left to happen
    cadence.switch_plan(lead, plan.key, "test", DAY0)
    db.session.commit()
    return lead


def _task(lead: Lead) -> Touch:
    db.session.expire_all()
    query = db.select(Touch).where(Touch.lead_id == lead.id, Touch.channel == "email_task")
    return db.session.scalar(query)


def test_the_draft_is_stored_and_read_back():
    text = draft_text("A few details", "Hi Dana,\n\nIt is here & ready.\n")
    assert text == "Subject: A few details\n\nHi Dana,\n\nIt is here & ready.\n"
    draft = email_draft(SimpleNamespace(channel="email_task", outcome=text), "dana@example.com")
    assert (draft.subject, draft.body) == ("A few details", "Hi Dana,\n\nIt is here & ready.\n")
    assert draft.mailto == (
        "mailto:dana@example.com?subject=A%20few%20details"
        "&body=Hi%20Dana%2C%0D%0A%0D%0AIt%20is%20here%20%26%20ready.%0D%0A"
    )
    assert email_draft(SimpleNamespace(channel="call_task", outcome=text)) is None
    assert email_draft(SimpleNamespace(channel="email_task", outcome="Left a voicemail")) is None
    assert mailto_link("", "x", "y") == "mailto:?subject=x&body=y"


def test_an_email_task_opens_with_its_template_filled_in(senders):
    lead = _email_task_lead()
    report = run_due_touches(DAY0, senders)

    task = _task(lead)
    assert report.outcomes == {"task": 1} and senders.mail.sent == []  # a person sends it
    assert task.status == "open" and task.assigned_to_id == lead.assigned_to_id
    draft = email_draft(task, lead.customer.email)
    assert draft.subject == "A few details on the 2025 Honda CR-V EX-L"
    assert draft.body.startswith("Hi Dana,\n\nI wanted to make sure you have what you need")
    assert "{{" not in draft.body and "Ana" in draft.body  # the advisor's details merged in
    assert draft.mailto.startswith(f"mailto:{lead.customer.email}?subject=A%20few%20details")


def test_the_draft_shows_on_the_task_list_and_the_lead_page(client, login_as, senders):
    lead = _email_task_lead()
    run_due_touches(DAY0, senders)
    task = _task(lead)
    login_as("supervisor")

    for url in ("/tasks", f"/leads/{lead.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "<summary>Draft e-mail</summary>" in page, url
        assert "<b>Subject:</b> A few details on the 2025 Honda CR-V EX-L" in page, url
        assert "Hi Dana,\n\nI wanted to make sure" in page, url
        assert f'href="mailto:{lead.customer.email}?subject=A%20few%20details' in page, url

    client.post(f"/tasks/{task.id}/done", data={"outcome": "Sent it from my phone"})
    assert _task(lead).outcome == "Sent it from my phone"  # the notes replace the draft
    page = client.get("/tasks?done=1").get_data(as_text=True)
    assert "Sent it from my phone" in page and "Draft e-mail" not in page


def test_a_template_that_cannot_be_filled_in_still_opens_the_task(senders):
    lead = _email_task_lead()
    touch = db.session.scalar(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.channel == "email_task")
    )
    touch.template_key = "deleted_since"
    db.session.commit()
    run_due_touches(DAY0, senders)
    task = _task(lead)
    assert task.status == "open"
    assert task.outcome.startswith("No draft from template 'deleted_since': ")
    assert email_draft(task) is None


def test_an_email_task_without_a_template_has_no_draft(senders):
    lead = _email_task_lead(template_key="")
    run_due_touches(DAY0 + timedelta(minutes=1), senders)
    task = _task(lead)
    assert (task.status, task.outcome) == ("open", "")
