"""Plans and rules as data: checks, edits that only new leads follow, tasks, missed steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from sqlalchemy import select
from support import sql_statements

from dealer_leads.cadence import plan_changes, plan_services, task_services
from dealer_leads.cadence import services as cadence_services
from dealer_leads.cadence.defaults import RULES, ensure_default_plans
from dealer_leads.cadence.models import FollowUpPlan, LeadCadence, PlanStep, Touch
from dealer_leads.cadence.plan_services import InvalidPlan
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

TORONTO = ZoneInfo("America/Toronto")
TUESDAY_10AM = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)


@pytest.fixture
def plans(app):
    ensure_default_plans()


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=TORONTO).astimezone(UTC)


def _plan(key: str) -> FollowUpPlan:
    return db.session.scalar(select(FollowUpPlan).where(FollowUpPlan.key == key))


def _steps(plan: FollowUpPlan) -> list[dict]:
    return [
        {
            "id": s.id,
            "offset_minutes": s.offset_minutes,
            "offset_from": s.offset_from,
            "channel": s.channel,
            "template_key": s.template_key,
            "title": s.title,
            "business_hours": s.business_hours,
        }
        for s in plan.steps
    ]


def _touches(lead_id: int) -> list[Touch]:
    query = select(Touch).where(Touch.lead_id == lead_id).order_by(Touch.position, Touch.id)
    return list(db.session.scalars(query))


def _new_lead(at: datetime = TUESDAY_10AM, **body) -> int:
    return ingest(lead_json(**body), now=at).lead_id


# --- checks ---------------------------------------------------------------------------------


def test_every_problem_is_named_by_step_and_field(plans):
    steps = [
        {"offset_minutes": 0, "channel": "auto_email", "template_key": "auto_response"},
        {"offset_minutes": 5, "channel": "auto_sms", "template_key": "auto_response"},
        {"offset_minutes": "soon", "channel": "call_task", "title": ""},
        {"offset_minutes": 366 * 24 * 60, "channel": "fax", "offset_from": "lunch"},
        {"offset_minutes": 60, "channel": "auto_email", "template_key": "no_such_template"},
        {
            "offset_minutes": 60,
            "channel": "call_task",
            "title": "Call",
            "template_key": "text_intro",
        },
        {"offset_minutes": -60, "channel": "auto_email", "template_key": ""},
    ]
    with pytest.raises(InvalidPlan) as caught:
        plan_services.save_plan(None, " ", "", True, steps)
    assert caught.value.problems == {
        "name": "The plan needs a name.",
        "step-2.template_key": "Step 2: automatic text needs a text-message template, "
        "not 'auto_response'.",
        "step-3.offset_minutes": "Step 3: the offset must be a whole number of minutes.",
        "step-3.title": "Step 3: a step for a person needs a title.",
        "step-4.channel": "Step 4: choose a channel.",
        "step-4.offset_minutes": "Step 4: the offset must be within 365 days.",
        "step-4.offset_from": "Step 4: count from the arrival or from the previous step.",
        "step-5.template_key": "Step 5: there is no message template 'no_such_template'.",
        "step-6.template_key": "Step 6: a call (task) step takes no template.",
        "step-7.template_key": "Step 7: an automatic step needs a template.",
    }
    assert db.session.scalar(select(FollowUpPlan).where(FollowUpPlan.name == " ")) is None


def test_a_plan_needs_steps_and_an_email_task_an_email_template(plans):
    with pytest.raises(InvalidPlan) as caught:
        plan_services.save_plan(None, "Empty", "", True, [])
    assert caught.value.problems == {"steps": "A plan needs at least one step."}
    step = {"channel": "email_task", "title": "Write", "template_key": "text_intro"}
    with pytest.raises(InvalidPlan) as caught:
        plan_services.save_plan(None, "Mail", "", True, [step])
    assert "e-mail template" in caught.value.problems["step-1.template_key"]


def test_text_template_saved_by_the_plans_counts_and_365_days_is_allowed(plans):
    plan = plan_services.save_plan(
        None,
        "Yearly",
        "",
        True,
        [
            {"offset_minutes": "-525600", "channel": "auto_sms", "template_key": "text_day3"},
            {"offset_minutes": 525600, "channel": "task", "title": "Anniversary"},
        ],
    ).plan
    assert [s.offset_minutes for s in plan.steps] == [-525600, 525600]


# --- saving ---------------------------------------------------------------------------------


def test_new_plans_get_a_key_from_their_name(plans):
    steps = [{"offset_minutes": 0, "channel": "call_task", "title": "Call at once"}]
    first = plan_services.save_plan(None, "  Spring event!  ", "Sale days", False, steps).plan
    second = plan_services.save_plan(None, "Spring event", "", True, steps).plan
    third = plan_services.save_plan(None, "2026", "", True, steps).plan
    assert (first.key, second.key, third.key) == ("spring_event", "spring_event_2", "plan_2026")
    assert (first.name, first.description, first.active) == ("Spring event!", "Sale days", False)
    assert first.steps[0].offset_from == "arrival" and not first.steps[0].business_hours


def test_edit_replaces_steps_in_order_and_keeps_ids_of_edited_rows(plans):
    plan = _plan("noshow_rebook")
    steps = _steps(plan)
    kept, dropped = steps[1]["id"], steps[0]["id"]
    steps[1]["offset_minutes"] = 90
    new = {"offset_minutes": 2, "offset_from": "previous", "channel": "task", "title": "Note"}
    plan_services.save_plan(plan.id, "No-show", "Rebook", True, [steps[1], new, *steps[2:]])
    db.session.expire_all()
    plan = _plan("noshow_rebook")
    assert [s.position for s in plan.steps] == list(range(len(steps)))
    assert plan.steps[0].id == kept and plan.steps[0].offset_minutes == 90
    assert (plan.steps[1].title, plan.steps[1].offset_from) == ("Note", "previous")
    assert db.session.get(PlanStep, dropped) is None


def test_only_new_leads_follow_an_edit(plans, make_user):
    make_user("advisor")
    before = _new_lead()
    first_call = {t.title: t for t in _touches(before)}["First call: within 5 minutes"]
    plan = _plan("new_vehicle")
    steps = _steps(plan)
    steps[1]["offset_minutes"] = 30
    del steps[0]  # the auto-response goes; touches made from it keep their row
    plan_services.save_plan(plan.id, plan.name, plan.description, True, steps)

    db.session.expire_all()
    assert first_call.due_at == TUESDAY_10AM + timedelta(minutes=5)
    assert _touches(before)[0].step_id is None and _touches(before)[0].channel == "auto_email"
    after = _new_lead(at=TUESDAY_10AM + timedelta(hours=1))
    touches = _touches(after)
    assert touches[0].channel == "call_task"
    assert touches[0].due_at == TUESDAY_10AM + timedelta(hours=1, minutes=30)
    assert len(touches) == len(_touches(before)) - 1


def _timeline(lead_id: int, kind: str) -> list[str]:
    lead = db.session.get(Lead, lead_id)
    db.session.expire(lead, ["events"])
    return [event.summary for event in lead.events if event.kind == kind]


def _cadence(lead_id: int) -> LeadCadence:
    return db.session.scalar(select(LeadCadence).where(LeadCadence.lead_id == lead_id))


def test_a_removed_step_is_cancelled_where_no_worker_has_taken_it(plans, make_user):
    boss = make_user("supervisor", name="Sam Boss")
    on_plan, other_plan = _new_lead(), _new_lead(vehicles=[{"status": "used", "make": "Kia"}])
    by_title = {t.title or t.template_key: t for t in _touches(on_plan)}
    by_title["auto_response"].status = "sent"
    by_title["First call: within 5 minutes"].status = "open"  # already in someone's list
    by_title["day10_email"].status = "held"  # the automatic steps of a paused plan
    db.session.commit()
    plan = _plan("new_vehicle")
    removed = {"auto_response", "First call: within 5 minutes", "Day 7 call", "day10_email"}
    steps = [s for s in _steps(plan) if (s["title"] or s["template_key"]) not in removed]
    others_before = {t.id: t.status for t in _touches(other_plan)}

    saved = plan_services.save_plan(plan.id, plan.name, "", True, steps, by=boss)

    db.session.expire_all()
    after = {t.title or t.template_key: t for t in _touches(on_plan)}
    assert saved.steps_cancelled == 2 and saved.leads_stopped == 0
    assert (after["Day 7 call"].status, after["day10_email"].status) == ("cancelled", "cancelled")
    assert after["Day 7 call"].outcome == "step removed from “New-vehicle lead”"
    assert after["auto_response"].status == "sent"
    assert after["First call: within 5 minutes"].status == "open"
    assert after["Day 1 call"].status == "scheduled"  # kept steps go on as they were
    assert _timeline(on_plan, "plan_step_removed") == [
        "Plan “New-vehicle lead” edited, step removed: Day 7 call, Automatic e-mail "
        "(day10_email) no longer scheduled"
    ]
    assert db.session.get(Lead, on_plan).events[-1].user_id == boss.id
    assert {t.id: t.status for t in _touches(other_plan)} == others_before  # used-vehicle plan
    assert _cadence(on_plan).state == "active"


def test_a_plan_left_with_nothing_to_do_for_a_lead_finishes(plans):
    steps = [
        {"offset_minutes": 60, "channel": "call_task", "title": "Call"},
        {"offset_minutes": 120, "channel": "task", "title": "Note"},
    ]
    plan = plan_services.save_plan(None, "Short", "", True, steps).plan
    lead_id = _new_lead()
    cadence_services.switch_plan(db.session.get(Lead, lead_id), plan.key, "test", TUESDAY_10AM)
    db.session.commit()
    new = [{"offset_minutes": 30, "channel": "task", "title": "Something else"}]

    assert plan_services.save_plan(plan.id, "Short", "", True, new).steps_cancelled == 2
    db.session.expire_all()
    cadence = _cadence(lead_id)
    assert (cadence.state, cadence.reason) == ("finished", "its remaining steps were removed")
    assert not [t for t in _touches(lead_id) if t.status == "scheduled"]  # no new step either


def test_switching_a_plan_off_stops_its_leads_only_when_asked(plans, make_user):
    boss = make_user("supervisor", name="Sam Boss")
    nurtured = [_new_lead(), _new_lead()]
    for lead_id in nurtured:
        cadence_services.switch_plan(db.session.get(Lead, lead_id), "long_term", "t", TUESDAY_10AM)
    cadence_services.pause_automatic(db.session.get(Lead, nurtured[1]), "replied", TUESDAY_10AM)
    bystander = _new_lead()
    db.session.commit()
    plan = _plan("long_term")
    assert plan_changes.count_leads_on(plan.id) == 2

    quiet = plan_services.save_plan(plan.id, plan.name, "", False, _steps(plan))
    db.session.expire_all()
    assert quiet.leads_stopped == 0 and not _plan("long_term").active
    assert [_cadence(i).state for i in nurtured] == ["active", "paused"]
    kept_on = plan_services.save_plan(plan.id, plan.name, "", True, _steps(plan), stop_leads=True)
    assert kept_on.leads_stopped == 0  # only a plan saved switched off stops its leads

    stopped = plan_services.save_plan(
        plan.id, plan.name, "", False, _steps(plan), stop_leads=True, by=boss
    )
    db.session.expire_all()
    assert stopped.leads_stopped == 2 and plan_changes.count_leads_on(plan.id) == 0
    for lead_id in nurtured:
        cadence = _cadence(lead_id)
        assert cadence.state == "stopped"
        assert cadence.reason == "plan “Long-term nurture” switched off by Sam Boss"
        assert {t.status for t in _touches(lead_id) if t.plan_id == plan.id} == {"cancelled"}
        assert _timeline(lead_id, "plan_stopped") == [
            "Follow-up stopped: plan “Long-term nurture” switched off by Sam Boss"
        ]
    assert _cadence(bystander).state == "active"


def test_an_unknown_plan_is_not_found(app):
    with pytest.raises(plan_services.PlanNotFound):
        plan_services.save_plan(999, "x", "", True, [])


# --- rules ----------------------------------------------------------------------------------


def test_rules_are_checked_then_replace_the_table_in_order(plans):
    with pytest.raises(InvalidPlan) as caught:
        plan_services.save_rules(
            [
                {"department": "sales", "plan": "new_vehicle"},
                {"department": "bakery", "sales_kind": "old", "interest": "x", "plan": "nope"},
                {"after_hours": "maybe", "source": "s" * 101, "plan": "long_term"},
            ]
        )
    assert caught.value.problems == {
        "rule-2.department": "Rule 2: unknown department 'bakery'.",
        "rule-2.sales_kind": "Rule 2: new or used.",
        "rule-2.interest": "Rule 2: unknown interest 'x'.",
        "rule-2.plan": "Rule 2: choose a plan.",
        "rule-3.source": "Rule 3: the source is longer than 100 characters.",
        "rule-3.after_hours": "Rule 3: any time, after hours or during hours.",
    }
    assert len(plan_services.list_rules()) == len(RULES)  # the shipped ones, untouched

    plan_services.save_rules(
        [
            {"source": " CarGurus ", "plan": "long_term"},
            {"department": "sales", "sales_kind": "used", "after_hours": False, "plan": "trade_in"},
            {"plan": "new_vehicle"},
        ]
    )
    rules = plan_services.list_rules()
    assert [(r.position, r.plan.key, r.source) for r in rules] == [
        (0, "long_term", "CarGurus"),
        (1, "trade_in", ""),
        (2, "new_vehicle", ""),
    ]
    assert rules[1].after_hours is False and rules[0].after_hours is None
    lead_id = _new_lead(source="CarGurus")
    cadence = db.session.scalar(select(LeadCadence).where(LeadCadence.lead_id == lead_id))
    assert cadence.plan.key == "long_term" and "source CarGurus" in cadence.reason


# --- tasks ----------------------------------------------------------------------------------


def _task(lead_id: int, due_at: datetime, status: str = "open", **values) -> Touch:
    values.setdefault("channel", "call_task")
    values.setdefault("title", f"Call {due_at:%H:%M}")
    touch = Touch(lead_id=lead_id, due_at=due_at, status=status, **values)
    db.session.add(touch)
    db.session.commit()
    return touch


def _assign(lead_id: int, user) -> int:
    db.session.get(Lead, lead_id).assigned_to_id = user.id if user else None
    db.session.commit()
    return lead_id


def test_tasks_advisors_see_their_own_overdue_first(app, make_user):
    ana, ben = make_user("advisor", name="Ana"), make_user("advisor", name="Ben")
    boss = make_user("supervisor")
    now = _local(2026, 6, 2, 12, 0)
    mine, theirs = _assign(_new_lead(), ana), _assign(_new_lead(), ben)
    later = _task(mine, now + timedelta(hours=2), "scheduled")
    overdue = _task(mine, now - timedelta(hours=3))
    _task(mine, now + timedelta(days=1), "scheduled")  # tomorrow: not on today's list
    _task(mine, now - timedelta(hours=1), "skipped")
    _task(mine, now - timedelta(hours=1), "scheduled", channel="auto_email")
    done = _task(mine, now - timedelta(hours=5), "done", finished_at=now - timedelta(hours=4))
    other = _task(theirs, now - timedelta(hours=1))

    assert [t.id for t in task_services.list_tasks(ana, scope="all", now=now)] == [
        overdue.id,
        later.id,
    ]
    with_done = task_services.list_tasks(ana, include_done=True, now=now)
    assert [t.id for t in with_done] == [overdue.id, later.id, done.id]
    everyone = task_services.list_tasks(boss, scope="all", now=now)
    assert [t.id for t in everyone] == [overdue.id, other.id, later.id]
    only_ben = task_services.list_tasks(boss, scope="all", advisor_id=ben.id, now=now)
    assert [t.id for t in only_ben] == [other.id]
    assert task_services.count_overdue_tasks(ana, now=now) == 1
    assert task_services.count_overdue_tasks(boss, now=now) == 2
    with pytest.raises(task_services.TaskNotFound):
        task_services.get_task(ana, other.id)
    assert task_services.get_task(boss, other.id).id == other.id


def test_task_list_takes_the_same_queries_for_one_task_or_many(app, make_user):
    boss = make_user("supervisor")
    advisors = [make_user("advisor") for _ in range(3)]
    now = _local(2026, 6, 2, 12, 0)
    _task(_assign(_new_lead(), advisors[0]), now - timedelta(hours=1))
    db.session.expire_all()

    def page_queries() -> int:
        with sql_statements() as statements:
            for task in task_services.list_tasks(boss, scope="all", now=now):
                assert task.lead.customer.name and task.lead.assigned_to.name
        db.session.expire_all()
        return len(statements)

    one = page_queries()
    for n in range(6):
        _task(_assign(_new_lead(), advisors[n % 3]), now - timedelta(minutes=n))
    db.session.expire_all()
    assert page_queries() == one


# --- missed steps ---------------------------------------------------------------------------


def test_missed_steps_by_local_day_and_advisor(app, make_user):
    """Worked by hand; June in Toronto is UTC-4, now is June 10 at noon."""
    ana = make_user("advisor", name="Ana Lindqvist")
    ben = make_user("advisor", name="Ben Okafor")
    lead_a, lead_b = _assign(_new_lead(), ana), _assign(_new_lead(), ben)
    nobody = _assign(_new_lead(), None)
    done = "done"
    # Ana, June 1: four due; 10:00 and 23:30 still open (missed); 12:00 done 13:30 (late);
    # 11:00 done 11:30 (on time). 23:30 local is June 2 in UTC but June 1 here.
    _task(lead_a, _local(2026, 6, 1, 10, 0))
    _task(lead_a, _local(2026, 6, 1, 11, 0), done, finished_at=_local(2026, 6, 1, 11, 30))
    _task(lead_a, _local(2026, 6, 1, 12, 0), done, channel="email_task", title="Write",
          finished_at=_local(2026, 6, 1, 13, 30))  # fmt: skip
    _task(lead_a, _local(2026, 6, 1, 23, 30))
    _task(lead_a, _local(2026, 6, 2, 9, 0), "skipped", channel="task")  # not counted
    _task(lead_a, _local(2026, 6, 2, 9, 0), "scheduled", channel="auto_email")  # automatic
    _task(lead_a, _local(2026, 5, 31, 23, 59))  # before the range
    # Ben, June 1: done exactly an hour after due: not late.
    _task(lead_b, _local(2026, 6, 1, 15, 0), done, finished_at=_local(2026, 6, 1, 16, 0))
    # Ben, June 2: 00:30 open (missed); a task on Ana's lead assigned to Ben, done 2 h late.
    _task(lead_b, _local(2026, 6, 2, 0, 30))
    _task(lead_a, _local(2026, 6, 2, 14, 0), done, assigned_to_id=ben.id,
          finished_at=_local(2026, 6, 2, 16, 0))  # fmt: skip
    # Ben, June 10 at 13:00: due later today, not missed yet.
    _task(lead_b, _local(2026, 6, 10, 13, 0), "scheduled")
    # Nobody's lead, June 2: open, missed.
    _task(nobody, _local(2026, 6, 2, 10, 0))

    rows = task_services.missed_steps(
        date(2026, 6, 1), date(2026, 6, 10), now=_local(2026, 6, 10, 12, 0)
    )
    assert [(r.day.isoformat(), r.advisor, r.due, r.missed, r.late) for r in rows] == [
        ("2026-06-01", "Ana Lindqvist", 4, 2, 1),
        ("2026-06-01", "Ben Okafor", 1, 0, 0),
        ("2026-06-02", "Ben Okafor", 2, 1, 1),
        ("2026-06-02", "Unassigned", 1, 1, 0),
        ("2026-06-10", "Ben Okafor", 1, 0, 0),
    ]
    june_2 = task_services.missed_steps(date(2026, 6, 2), date(2026, 6, 2), now=_local(2026, 6, 10))
    assert [(r.advisor, r.missed) for r in june_2] == [("Ben Okafor", 1), ("Unassigned", 1)]


# --- the lead panel -------------------------------------------------------------------------


def test_lead_panel_context(plans, make_user):
    make_user("advisor")
    lead_id = _new_lead()
    context = task_services.lead_panel_context(lead_id)
    assert context["cadence"].plan.key == "new_vehicle"
    assert context["next_touch"].template_key == "auto_response"
    assert len(context["touches"]) == len(_plan("new_vehicle").steps)
    assert "long_term" in [p.key for p in context["plans"]]
    assert context["template_names"]["text_day3"] == "Day 3 text"
    assert context["step_channels"]["call_task"] == "Call (task)"
    empty = task_services.lead_panel_context(999)
    assert empty["cadence"] is None and empty["touches"] == [] and empty["next_touch"] is None
