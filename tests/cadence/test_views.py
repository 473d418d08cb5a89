"""The plan pages over HTTP: who may open them, editing plans and rules, tasks, the missed-steps
report and its CSV, and the plan actions on one lead."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from sqlalchemy import select
from support import csrf_token, login_with_csrf
from werkzeug.datastructures import MultiDict

from dealer_leads.cadence.defaults import RULES, ensure_default_plans
from dealer_leads.cadence.models import FollowUpPlan, LeadCadence, PlanRule, Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

TORONTO = ZoneInfo("America/Toronto")
TUESDAY_10AM = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)
ROLES = [None, "supervisor", "advisor", "webmaster", "admin"]
# fmt: off
PAGES = [
    # url                                 anon  supervisor  advisor  webmaster  admin
    ("/plans",                            302,  200,        403,     403,       200),
    ("/plans/new",                        302,  200,        403,     403,       200),
    ("/plans/{plan}",                     302,  200,        403,     403,       200),
    ("/plans/999999",                     302,  404,        403,     403,       404),
    ("/plans/rules",                      302,  200,        403,     403,       200),
    ("/tasks",                            302,  200,        200,     403,       200),
    ("/tasks/missed",                     302,  200,        403,     403,       200),
    ("/tasks/missed?format=csv",          302,  200,        403,     403,       200),
    ("/tasks/flagged",                    302,  200,        403,     403,       200),
]
ACTIONS = [
    # url (POST; the lead is nobody's)    anon  supervisor  advisor  webmaster  admin
    ("/leads/{lead}/cadence/pause",       302,  303,        404,     403,       303),
    ("/leads/{lead}/cadence/resume",      302,  303,        404,     403,       303),
    ("/leads/{lead}/cadence/plan",        302,  303,        404,     403,       303),
    ("/leads/{lead}/touches/{touch}/skip", 302, 303,        404,     403,       303),
    ("/tasks/{task}/done",                302,  303,        404,     403,       303),
    ("/tasks/flagged/{flagged}/again",    302,  303,        403,     403,       303),
    ("/tasks/flagged/{flagged}/sent",     302,  303,        403,     403,       303),
    ("/tasks/flagged/{flagged}/dismiss",  302,  303,        403,     403,       303),
    ("/tasks/flagged/{touch}/dismiss",    302,  404,        403,     403,       404),
]
# fmt: on


@pytest.fixture
def plans(app):
    ensure_default_plans()


def _plan(key: str) -> FollowUpPlan:
    return db.session.scalar(select(FollowUpPlan).where(FollowUpPlan.key == key))


def _touches(lead_id: int) -> list[Touch]:
    query = select(Touch).where(Touch.lead_id == lead_id).order_by(Touch.due_at, Touch.id)
    return list(db.session.scalars(query))


def _cadence(lead_id: int) -> LeadCadence:
    db.session.expire_all()
    return db.session.scalar(select(LeadCadence).where(LeadCadence.lead_id == lead_id))


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=TORONTO).astimezone(UTC)


def _flagged_touch(lead_id: int, status: str, outcome: str, at: datetime, **values) -> Touch:
    """A touch the worker flagged: its outcome unknown, or failed."""
    values.setdefault("channel", "auto_email")
    values.setdefault("template_key", "auto_response")
    touch = Touch(lead_id=lead_id, due_at=at, status=status, outcome=outcome, finished_at=at)
    for name, value in values.items():
        setattr(touch, name, value)
    db.session.add(touch)
    db.session.commit()
    return touch


@pytest.mark.parametrize("role_index, role", list(enumerate(ROLES)))
def test_role_table(client, login_as, plans, role_index, role):
    plan_id = _plan("new_vehicle").id
    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    pending = [t for t in _touches(lead_id) if t.status == "scheduled"]
    task = Touch(lead_id=lead_id, channel="task", title="Call", due_at=TUESDAY_10AM, status="open")
    flagged = _flagged_touch(lead_id, "unknown", "worker stopped", TUESDAY_10AM)
    db.session.add(task)
    db.session.commit()
    ids = {"plan": plan_id, "lead": lead_id, "touch": pending[-1].id, "task": task.id}
    ids["flagged"] = flagged.id
    if role:
        login_as(role)
    for row in PAGES:
        url, expected = row[0].format(**ids), row[1 + ROLES.index(role)]
        assert client.get(url).status_code == expected, f"{role} GET {url}"
    for row in ACTIONS:
        url, expected = row[0].format(**ids), row[1 + role_index]
        assert client.post(url, data={"plan": "long_term"}).status_code == expected, f"{role} {url}"


# --- editing a plan -------------------------------------------------------------------------


def _form(plan: FollowUpPlan) -> list[tuple[str, str]]:
    """The edit form as the page posts it: one value per row for each field."""
    data = [("name", plan.name), ("description", plan.description), ("active", "1")]
    for step in plan.steps:
        token = f"s{step.id}"
        data += [
            ("row", token),
            ("id", str(step.id)),
            ("offset", str(step.offset_minutes)),
            ("unit", "minutes"),
            ("offset_from", step.offset_from),
            ("channel", step.channel),
            ("template_key", step.template_key),
            ("title", step.title),
        ]
        if step.business_hours:
            data.append(("business_hours", token))
    return data


def _replace(data: list[tuple[str, str]], field: str, row: int, value: str) -> list:
    """Set `field` of the row-th row (from 1)."""
    seen, out = 0, []
    for name, old in data:
        if name == field:
            seen += 1
            old = value if seen == row else old
        out.append((name, old))
    return out


def test_edit_page_shows_the_steps_in_friendly_units(client, login_as, plans):
    login_as("supervisor")
    page = client.get(f"/plans/{_plan('new_vehicle').id}").get_data(as_text=True)
    assert 'value="First call: within 5 minutes"' in page
    assert 'name="offset" value="2"' in page  # the day-2 steps, shown in days
    assert 'name="offset" value="60"' in page  # the 60-day nurture
    assert "static/plans.js" in page


def test_invalid_rows_are_refused_with_the_row_and_the_problem(client, login_as, plans):
    login_as("supervisor")
    plan = _plan("new_vehicle")
    data = _replace(_form(plan), "template_key", 3, "auto_response")  # a text step
    data = _replace(data, "title", 2, "")  # the first call
    data = _replace(data, "offset", 4, "one day")
    response = client.post(f"/plans/{plan.id}", data=MultiDict(data))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Step 3: automatic text needs a text-message template, not &#39;auto_response&#39;." in (
        page
    )
    assert "Step 2: a step for a person needs a title." in page
    assert "Step 4: the offset must be a whole number of minutes." in page
    assert 'value="one day"' in page  # what was typed comes back
    db.session.expire_all()
    assert _plan("new_vehicle").steps[1].title == "First call: within 5 minutes"


def test_a_valid_edit_is_what_the_next_lead_gets(client, login_as, plans):
    login_as("supervisor")
    plan = _plan("new_vehicle")
    count = len(plan.steps)
    data = _replace(_form(plan), "offset", 2, "30")
    data = _replace(data, "offset", 4, "2")  # day 1 call becomes day 2 …
    data = _replace(data, "unit", 4, "days")
    data += [("row", "new-1"), ("id", ""), ("offset", "1.5"), ("unit", "hours")]
    data += [("offset_from", "previous"), ("channel", "email_task")]
    data += [("template_key", "day2_email"), ("title", "Write a personal note")]
    response = client.post(f"/plans/{plan.id}", data=MultiDict(data))
    assert response.status_code == 303 and response.headers["Location"].endswith("/plans")

    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    touches = {t.title: t for t in _touches(lead_id)}
    assert len(_touches(lead_id)) == count + 1
    assert touches["First call: within 5 minutes"].due_at == TUESDAY_10AM + timedelta(minutes=30)
    assert touches["Day 1 call"].due_at == _local(2026, 6, 4, 10, 0)
    # 1.5 h after the step before it: the 180-day nurture e-mail, which keeps the clock time
    assert touches["Write a personal note"].due_at == _local(2026, 11, 29, 11, 30)


def test_a_new_plan_from_the_form_and_rows_removed(client, login_as, plans):
    login_as("supervisor")
    data = [("name", "Spring event"), ("description", ""), ("active", "1")]
    for token, offset, title in (("a", "0", "Call"), ("b", "1", "Gone"), ("c", "2", "Again")):
        data += [("row", token), ("id", ""), ("offset", offset), ("unit", "days")]
        data += [("offset_from", "arrival"), ("channel", "call_task"), ("template_key", "")]
        data += [("title", title)]
    data += [("business_hours", "c"), ("remove", "b")]
    data += [("row", "spare"), ("id", ""), ("offset", ""), ("unit", "minutes")]
    data += [("offset_from", "arrival"), ("channel", ""), ("template_key", ""), ("title", "")]
    assert client.post("/plans/new", data=MultiDict(data)).status_code == 303
    plan = _plan("spring_event")
    assert [(s.title, s.offset_minutes, s.business_hours) for s in plan.steps] == [
        ("Call", 0, False),
        ("Again", 2 * 24 * 60, True),
    ]


def test_rules_page_saves_the_table(client, login_as, plans):
    login_as("admin")
    page = client.get("/plans/rules").get_data(as_text=True)
    assert page.count('name="plan"') == len(RULES) + 2  # the rules, the spare row, the template
    fields = ("department", "sales_kind", "source", "interest", "after_hours", "plan")
    data = []
    for token, values in (
        ("r1", ("", "", "CarGurus", "", "", "long_term")),
        ("r2", ("sales", "used", "", "", "no", "used_vehicle")),
        ("r3", ("", "", "", "", "", "")),  # blank: no rule
    ):
        data += [("row", token), *zip(fields, values, strict=True)]
    assert client.post("/plans/rules", data=MultiDict(data)).status_code == 303
    rules = db.session.scalars(select(PlanRule).order_by(PlanRule.position)).all()
    assert [(r.source, r.sales_kind, r.after_hours, r.plan.key) for r in rules] == [
        ("CarGurus", "", None, "long_term"),
        ("", "used", False, "used_vehicle"),
    ]
    bad = [("row", "x"), *zip(fields, ("bakery", "", "", "", "", "long_term"), strict=True)]
    response = client.post("/plans/rules", data=MultiDict(bad))
    assert response.status_code == 422
    assert "Rule 1: unknown department &#39;bakery&#39;." in response.get_data(as_text=True)


# --- one lead's plan ------------------------------------------------------------------------


def test_pause_resume_skip_and_change_plan(client, login_as, plans):
    login_as("supervisor")
    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    base = f"/leads/{lead_id}"

    response = client.post(f"{base}/cadence/pause", data={"reason": "on holiday"})
    assert response.status_code == 303 and response.headers["Location"].endswith(base)
    assert (_cadence(lead_id).state, _cadence(lead_id).reason) == ("paused", "on holiday")
    page = client.get(base).get_data(as_text=True)
    assert "Automatic follow-up paused." in page

    client.post(f"{base}/cadence/pause")
    page = client.get(base).get_data(as_text=True)
    assert "Follow-up unchanged: the follow-up is not running." in page

    client.post(f"{base}/cadence/resume")
    assert _cadence(lead_id).state == "active"

    touch = [t for t in _touches(lead_id) if t.channel == "auto_sms"][0]
    client.post(f"{base}/touches/{touch.id}/skip")
    assert db.session.get(Touch, touch.id).status == "skipped"
    client.post(f"{base}/touches/{touch.id}/skip")
    assert "not waiting to happen" in client.get(base).get_data(as_text=True)

    other = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    their_touch = _touches(other)[0].id
    assert client.post(f"{base}/touches/{their_touch}/skip").status_code == 404

    client.post(f"{base}/cadence/plan", data={"plan": "long_term"})
    assert _cadence(lead_id).plan.key == "long_term"
    client.post(f"{base}/cadence/plan", data={"plan": "no_such_plan"})
    assert "there is no plan" in client.get(base).get_data(as_text=True)


def test_advisors_act_on_their_own_leads_only(client, login_as, make_user, plans):
    advisor = login_as("advisor")
    other = make_user("advisor")
    mine = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    theirs = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    db.session.get(Lead, mine).assigned_to_id = advisor.id
    db.session.get(Lead, theirs).assigned_to_id = other.id
    db.session.commit()
    assert client.post(f"/leads/{mine}/cadence/pause").status_code == 303
    assert client.post(f"/leads/{theirs}/cadence/pause").status_code == 404
    assert (_cadence(mine).state, _cadence(theirs).state) == ("paused", "active")


# --- tasks ----------------------------------------------------------------------------------


def test_an_advisor_sees_and_completes_only_their_tasks(client, login_as, make_user):
    advisor = login_as("advisor", name="Ana Lindqvist")
    other = make_user("advisor", name="Ben Okafor")
    now = datetime.now(UTC)
    tasks = {}
    for owner, surname in ((advisor, "Mine"), (other, "Theirs")):
        lead_id = ingest(
            customer={"first_name": "Cus", "last_name": surname, "email": f"{surname}@example.com"}
        ).lead_id
        db.session.get(Lead, lead_id).assigned_to_id = owner.id
        tasks[surname] = Touch(
            lead_id=lead_id, channel="call_task", title=f"Call {surname}", due_at=now, status="open"
        )
        db.session.add(tasks[surname])
    db.session.commit()

    page = client.get("/tasks").get_data(as_text=True)
    assert "Cus Mine" in page and "Call Mine" in page
    assert "Cus Theirs" not in page and "Call Theirs" not in page

    assert client.post(f"/tasks/{tasks['Theirs'].id}/done").status_code == 404
    response = client.post(
        f"/tasks/{tasks['Mine'].id}/done", data={"outcome": "Booked Saturday", "next": "//evil"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks")
    db.session.expire_all()
    done = db.session.get(Touch, tasks["Mine"].id)
    assert (done.status, done.outcome, done.finished_by_id) == (
        "done",
        "Booked Saturday",
        advisor.id,
    )
    # The call made is the first human response: the lead leaves the awaiting part of the queue.
    responded = {lead.id: lead.first_response_at for lead in db.session.scalars(select(Lead))}
    assert responded[done.lead_id] == done.finished_at
    assert responded[tasks["Theirs"].lead_id] is None
    assert "Nothing to do right now." in client.get("/tasks").get_data(as_text=True)
    assert "Booked Saturday" in client.get("/tasks?done=1").get_data(as_text=True)


def test_supervisor_filters_tasks_by_advisor(client, login_as, make_user):
    login_as("supervisor")
    ana, ben = make_user("advisor", name="Ana"), make_user("advisor", name="Ben")
    for owner in (ana, ben):
        lead_id = ingest().lead_id
        db.session.get(Lead, lead_id).assigned_to_id = owner.id
        db.session.add(
            Touch(
                lead_id=lead_id,
                channel="call_task",
                title=f"Call for {owner.name}",
                due_at=datetime.now(UTC) - timedelta(hours=1),
                status="open",
            )
        )
    db.session.commit()
    everyone = client.get("/tasks").get_data(as_text=True)
    assert "Call for Ana" in everyone and "Call for Ben" in everyone and "overdue" in everyone
    only_ben = client.get(f"/tasks?advisor={ben.id}").get_data(as_text=True)
    assert "Call for Ben" in only_ben and "Call for Ana" not in only_ben


# --- missed steps ---------------------------------------------------------------------------


def test_missed_steps_page_and_csv(client, login_as, make_user):
    """By hand: Ana has a June 3 task still open (missed) and one done 90 min late;
    Ben, on a lead named '=cmd', one done on time on June 4; a June 20 task is out of range."""
    login_as("supervisor")
    ana, ben = make_user("advisor", name="Ana"), make_user("advisor", name="=Ben")
    rows = (
        (ana, _local(2026, 6, 3, 9, 0), "open", None),
        (ana, _local(2026, 6, 3, 10, 0), "done", _local(2026, 6, 3, 11, 30)),
        (ben, _local(2026, 6, 4, 9, 0), "done", _local(2026, 6, 4, 9, 10)),
        (ana, _local(2026, 6, 20, 9, 0), "open", None),
    )
    for owner, due_at, status, finished_at in rows:
        lead_id = ingest().lead_id
        db.session.get(Lead, lead_id).assigned_to_id = owner.id
        touch = Touch(lead_id=lead_id, channel="call_task", title="Call", due_at=due_at)
        touch.status, touch.finished_at = status, finished_at
        db.session.add(touch)
    db.session.commit()
    query = "from=2026-06-01&to=2026-06-14"

    page = client.get(f"/tasks/missed?{query}").get_data(as_text=True)
    assert "Wed Jun 03, 2026" in page and "Thu Jun 04, 2026" in page and "Jun 20" not in page

    response = client.get(f"/tasks/missed?{query}&format=csv")
    assert response.mimetype == "text/csv"
    assert "missed-steps-2026-06-01-2026-06-14.csv" in response.headers["Content-Disposition"]
    assert list(csv.DictReader(io.StringIO(response.get_data(as_text=True)))) == [
        {"day": "2026-06-03", "advisor": "Ana", "due": "2", "missed": "1", "late": "1"},
        {"day": "2026-06-04", "advisor": "'=Ben", "due": "1", "missed": "0", "late": "0"},
    ]


@pytest.mark.parametrize(
    "query", ["from=yesterday", "from=2026-06-10&to=2026-06-01", "from=2020-01-01&to=2026-01-01"]
)
def test_missed_steps_refuses_bad_ranges(client, login_as, query):
    login_as("supervisor")
    assert client.get(f"/tasks/missed?{query}").status_code == 400


def test_lead_panel_shows_the_plan_its_steps_and_actions(app, make_user, plans):
    from flask import render_template
    from flask_login import login_user

    from dealer_leads.cadence.task_services import lead_panel_context

    lead = db.session.get(Lead, ingest(lead_json(), now=TUESDAY_10AM).lead_id)
    sms = [t for t in _touches(lead.id) if t.channel == "auto_sms"][0]
    sms.status = "skipped"
    db.session.commit()
    with app.test_request_context(f"/leads/{lead.id}"):
        login_user(make_user("supervisor"))
        html = render_template("cadence/_lead_panel.html", lead=lead, **lead_panel_context(lead.id))
    assert "<b>New-vehicle lead</b>" in html and ">active</span>" in html
    assert "Next: <b>Jun 02, 10:00</b> · Automatic e-mail · Auto-response (open hours)" in html
    assert f"/leads/{lead.id}/cadence/pause" in html and "/cadence/resume" not in html
    assert '<option value="long_term">Long-term nurture</option>' in html
    assert f"/touches/{sms.id}/skip" not in html
    assert html.count("/skip") == len(_touches(lead.id)) - 1
    assert "Jun 02, 10:05</time>" in html and "(5 min after arrival)" in html
    assert '<span class="badge">skipped</span>' in html and "overdue" in html


def test_plan_forms_carry_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        ensure_default_plans()
        client = app.test_client()
        user = make_user("supervisor")
        login_with_csrf(client, user)
        plan = _plan("long_term")
        page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
        token = csrf_token(page)
        data = _form(plan)
        assert client.post(f"/plans/{plan.id}", data=MultiDict(data)).status_code == 400
        data.append(("csrf_token", token))
        assert client.post(f"/plans/{plan.id}", data=MultiDict(data)).status_code == 303


def test_the_confirmation_plan_counts_from_the_appointment(client, login_as, plans):
    login_as("supervisor")
    page = client.get(f"/plans/{_plan('appointment_confirmation').id}").get_data(as_text=True)
    assert "selected>from the appointment</option>" in page
    assert "after arrival" not in page and "a negative offset is before it" in page
    sales = client.get(f"/plans/{_plan('new_vehicle').id}").get_data(as_text=True)
    assert "selected>after arrival</option>" in sales and "from the appointment" not in sales


# --- flagged steps --------------------------------------------------------------------------


def test_flagged_steps_page_lists_what_a_person_must_decide(client, login_as, plans):
    boss = login_as("supervisor")
    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    name = db.session.get(Lead, lead_id).customer.name
    older = _flagged_touch(lead_id, "unknown", "worker stopped mid-send", TUESDAY_10AM)
    newer = _flagged_touch(
        lead_id,
        "failed",
        "550 mailbox unavailable",
        TUESDAY_10AM + timedelta(hours=2),
        channel="auto_sms",
        template_key="text_intro",
        attempts=5,
    )
    _flagged_touch(lead_id, "failed", "already looked at", TUESDAY_10AM, finished_by_id=boss.id)

    page = client.get("/tasks/flagged").get_data(as_text=True)
    assert page.index(f'data-touch="{newer.id}"') < page.index(f'data-touch="{older.id}"')
    assert "already looked at" not in page  # reviewed: off the list
    assert "worker stopped mid-send" in page and "550 mailbox unavailable" in page
    assert f"#{lead_id} {name}" in page and "after 5 attempts" in page
    assert "Automatic text" in page and "Automatic e-mail" in page
    assert "Jun 02, 12:00" in page and "Jun 02, 10:00" in page  # when, dealership time
    # "It went out" only for the one that may have gone out; "send again" and "leave it" for both
    assert page.count("/sent") == 1 and f"/tasks/flagged/{older.id}/sent" in page
    assert page.count("/again") == 2 and page.count("/dismiss") == 2

    for url in ("/tasks/missed", "/tasks"):
        assert "2 flagged steps to review" in client.get(url).get_data(as_text=True), url
    assert 'href="/tasks/flagged"' in client.get("/plans").get_data(as_text=True)  # navigation
    lead_page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert f'href="/tasks/flagged#touch-{older.id}">review</a>' in lead_page


def test_deciding_on_flagged_steps(client, login_as, plans):
    login_as("supervisor", name="Sam Boss")
    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    unknown = _flagged_touch(lead_id, "unknown", "worker stopped", TUESDAY_10AM)
    failed = _flagged_touch(lead_id, "failed", "550 no such user", TUESDAY_10AM)

    response = client.post(f"/tasks/flagged/{unknown.id}/again")
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks/flagged")
    again = db.session.scalar(select(Touch).where(Touch.lead_id == lead_id, Touch.id > failed.id))
    assert (again.status, again.template_key, again.channel) == (
        "scheduled",
        "auto_response",
        "auto_email",
    )
    client.post(f"/tasks/flagged/{unknown.id}/again")  # pressed twice: still one new touch
    assert len(db.session.scalars(select(Touch).where(Touch.id > failed.id)).all()) == 1
    page = client.get("/tasks/flagged").get_data(as_text=True)
    assert "unchanged: that step was already reviewed." in page

    client.post(f"/tasks/flagged/{failed.id}/sent")
    assert "only a step whose outcome is unknown can be marked sent" in client.get(
        "/tasks/flagged"
    ).get_data(as_text=True)
    client.post(f"/tasks/flagged/{failed.id}/dismiss")
    db.session.expire_all()
    assert db.session.get(Touch, failed.id).finished_by_id is not None
    page = client.get("/tasks/flagged").get_data(as_text=True)
    assert "Nothing to review" in page
    lead_page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "Sent again by Sam Boss" in lead_page and "failed · reviewed" in lead_page


def test_flagged_step_forms_carry_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        ensure_default_plans()
        client = app.test_client()
        user = make_user("supervisor")
        login_with_csrf(client, user)
        lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
        touch = _flagged_touch(lead_id, "unknown", "worker stopped", TUESDAY_10AM)
        page = client.get("/tasks/flagged").get_data(as_text=True)
        token = csrf_token(page)
        assert client.post(f"/tasks/flagged/{touch.id}/dismiss").status_code == 400
        db.session.expire_all()
        assert db.session.get(Touch, touch.id).finished_by_id is None
        response = client.post(f"/tasks/flagged/{touch.id}/dismiss", data={"csrf_token": token})
        assert response.status_code == 303
        db.session.expire_all()
        assert db.session.get(Touch, touch.id).finished_by_id == user.id


# --- what a plan edit does to the leads on it -----------------------------------------------


def test_the_editor_says_what_switching_off_does_and_can_stop_the_leads(client, login_as, plans):
    login_as("supervisor", name="Sam Boss")
    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id
    plan = _plan("new_vehicle")
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "Leads already on it keep going: their scheduled steps still happen (1 lead on it" in (
        page
    )
    assert 'name="stop_leads"' in page and "also stop the follow-up of the 1 lead on it" in page
    booked = client.get(f"/plans/{_plan('appointment_confirmation').id}").get_data(as_text=True)
    assert "but booking an appointment still moves a lead onto it" in booked
    assert 'name="stop_leads"' not in booked  # nobody on it: nothing to offer

    data = [(k, v) for k, v in _form(plan) if k != "active"] + [("stop_leads", "1")]
    day_7 = [t for t in _touches(lead_id) if t.title == "Day 7 call"][0]
    data = _drop_step(data, day_7.step_id)
    response = client.post(f"/plans/{plan.id}", data=MultiDict(data), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "it is switched off." in page
    assert "1 step still scheduled on leads already on it was cancelled" in page
    assert "The follow-up of 1 lead on it was stopped." in page
    assert _cadence(lead_id).state == "stopped"
    assert db.session.get(Touch, day_7.id).status == "cancelled"


def _drop_step(data: list[tuple[str, str]], step_id: int) -> list[tuple[str, str]]:
    """The form with one step's row marked for removal."""
    return [*data, ("remove", f"s{step_id}")]
