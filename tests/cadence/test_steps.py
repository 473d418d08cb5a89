"""What becomes of each step: a pause keeps the person steps, a resume keeps the spacing, a
broken touch fails alone, consent and opt-outs per channel, the calling window, tasks done,
plans finished, and incomplete SMS settings."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from cadence.fakes import FakeMail, FakeSms

from dealer_leads.admin.models import Dealership
from dealer_leads.admin.services import DEFAULT_HOURS
from dealer_leads.cadence import lead_actions
from dealer_leads.cadence import services as cadence
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import run_due_touches
from dealer_leads.cadence.jobs import cadence_tick
from dealer_leads.cadence.models import (
    FollowUpPlan,
    LeadCadence,
    PlanStep,
    Touch,
)
from dealer_leads.cadence.outbound import Senders, senders_from_config
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads import contact_services, services
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.models import Suppression
from dealer_leads.messaging.template_services import save_template
from dealer_leads.messaging.unsubscribe import read_unsubscribe_token

TORONTO = ZoneInfo("America/Toronto")
DAY0 = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)  # a Tuesday, 10:00


@pytest.fixture
def senders(app, make_user):
    ensure_default_plans()
    make_user("advisor", name="Ana Advisor")
    return Senders(mail=FakeMail(), sms=FakeSms())


def _lead(at: datetime = DAY0, **body) -> Lead:
    return db.session.get(Lead, ingest(lead_json(**body), now=at).lead_id)


def _touches(lead: Lead, **where) -> list[Touch]:
    query = db.select(Touch).where(Touch.lead_id == lead.id).filter_by(**where)
    return list(db.session.scalars(query.order_by(Touch.due_at, Touch.id)))


def _cadence(lead: Lead) -> LeadCadence:
    return db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))


def _timeline(lead: Lead, kind: str) -> list[str]:
    db.session.expire(lead, ["events"])
    return [event.summary for event in lead.events if event.kind == kind]


def _tick_through(start: datetime, end: datetime, senders: Senders, every=timedelta(hours=1)):
    """Ticks from `start` to `end`, as the worker would (hourly is enough for these plans)."""
    moment = start
    while moment <= end:
        run_due_touches(moment, senders)
        moment += every


def _us_dealership() -> None:
    db.session.add(
        Dealership(
            name="Maple Ridge Motors",
            timezone="America/Toronto",
            country="US",
            business_hours=dict(DEFAULT_HOURS),
            department_emails={},
            compliance_regime="US",
            quiet_start="09:00",
            quiet_end="20:00",
            holidays=[],
        )
    )
    db.session.commit()


# --- 1. a pause holds the automatic touches only ---------------------------------------------


def test_a_paused_plan_still_turns_its_calls_into_tasks(senders):
    lead = _lead()
    run_due_touches(DAY0, senders)
    services.log_call(
        db.session.get(Lead, lead.id).assigned_to,
        lead.id,
        "reached",
        now=DAY0 + timedelta(minutes=2),
    )
    assert _cadence(lead).state == "paused"
    _tick_through(DAY0 + timedelta(minutes=6), DAY0 + timedelta(days=1, hours=1), senders)
    calls = _touches(lead, channel="call_task")
    assert [c.status for c in calls[:2]] == ["open", "open"]  # first call, day 1 call
    assert {c.assigned_to_id for c in calls[:2]} == {lead.assigned_to_id}
    assert not senders.sms.sent and len(senders.mail.sent) == 1  # only the auto-response
    assert {t.status for t in _touches(lead, channel="auto_sms")} == {"held"}


# --- 2. a resume shifts the rest of the plan ----------------------------------------------------


def test_resume_shifts_the_held_steps_by_the_pause_and_keeps_their_spacing(senders):
    lead = _lead()
    _tick_through(DAY0, DAY0 + timedelta(days=2, hours=1), senders)
    paused_at = DAY0 + timedelta(days=2, hours=2)  # day 2: after the day-2 e-mail
    cadence.pause_automatic(lead, "customer replied", paused_at, alert=False)
    db.session.commit()
    before = {t.id: t.due_at for t in _touches(lead, status="held")}
    assert len(before) >= 5
    mails, texts = len(senders.mail.sent), len(senders.sms.sent)

    resumed_at = paused_at + timedelta(days=13)  # day 15
    cadence.resume(lead, resumed_at)
    db.session.commit()
    after = {t.id: t.due_at for t in _touches(lead) if t.id in before}
    assert all(after[i] - before[i] == timedelta(days=13) for i in before)
    report = run_due_touches(resumed_at + timedelta(minutes=1), senders)
    assert "sent" not in report.outcomes  # nothing missed goes out in a burst
    assert (len(senders.mail.sent), len(senders.sms.sent)) == (mails, texts)
    following = min(after.values())
    assert following == DAY0 + timedelta(days=16)  # the day-3 text, a day after the resume
    assert _timeline(lead, "plan_resumed") == [
        "Automatic follow-up resumed; the remaining steps moved 13 days later"
    ]
    run_due_touches(following, senders)
    assert (len(senders.mail.sent), len(senders.sms.sent)) == (mails, texts + 1)  # it, alone


# --- 3. one broken touch fails alone --------------------------------------------------------


def test_a_template_that_breaks_on_one_lead_fails_that_touch_and_the_rest_go(senders):
    save_template(
        "auto_response",
        {
            "name": "Auto-response",
            "subject": "Your inquiry",
            "body_text": "Also in stock: {{ similar_vehicles[0].title }}",
        },
        None,
    )
    db.session.add(Vehicle(vin="1HGCV1F30LA000001", make="Honda", model="CR-V", year=2025))
    db.session.commit()
    nothing_like_it = _lead(vehicles=[{"interest": "buy", "make": "Kia", "model": "Rio"}])
    in_stock = _lead()
    report = run_due_touches(DAY0, senders)
    assert report.outcomes == {"failed": 1, "sent": 1}
    broken = _touches(nothing_like_it)[0]
    assert broken.status == "failed" and "no element 0" in broken.outcome
    assert _timeline(nothing_like_it, "touch_failed") == [
        f"Could not send the automatic e-mail (auto_response): {broken.outcome}"
    ]
    assert [m["To"] for m in senders.mail.sent] == [in_stock.customer.email]
    assert "Honda CR-V" in senders.mail.sent[0].get_body(("plain",)).get_content()
    run_due_touches(DAY0 + timedelta(minutes=2), senders)
    assert db.session.get(Touch, broken.id).status == "failed" and len(senders.mail.sent) == 1


def test_a_sender_that_breaks_unexpectedly_flags_that_touch_for_a_person(senders):
    first, second = _lead(), _lead()

    class BreaksOnce(FakeMail):
        def send(self, message) -> str:
            if not self.sent and first.customer.email in message["To"]:
                self.sent.append(None)
                raise RuntimeError("connection object vanished")
            return super().send(message)

    mail = BreaksOnce()
    report = run_due_touches(DAY0, Senders(mail=mail, sms=FakeSms()))
    assert report.outcomes == {"unknown": 1, "sent": 1}  # it may have gone: never re-sent
    assert _touches(first)[0].status == "unknown" and _touches(second)[0].status == "sent"
    assert _timeline(first, "touch_unknown") == [
        "Check by hand: the automatic e-mail (auto_response) may or may not have gone out "
        "(RuntimeError: connection object vanished)"
    ]


# --- 4. TCPA: a text answers only a text ----------------------------------------------------


def test_under_the_us_rules_a_first_text_answers_only_a_text_inquiry(senders):
    _us_dealership()
    plan = db.session.scalar(db.select(FollowUpPlan).where(FollowUpPlan.key == "new_vehicle"))
    first = db.session.scalar(db.select(PlanStep).filter_by(plan_id=plan.id, position=0))
    first.channel, first.template_key = "auto_sms", "text_intro"  # answer by text at once
    db.session.commit()
    web = _lead()
    texted = _lead()
    texted.channel = "sms"  # the customer's inquiry was itself a text
    db.session.commit()
    report = run_due_touches(DAY0, senders)
    assert report.outcomes == {"skipped": 1, "sent": 1}
    assert _touches(web)[0].outcome == "TCPA: automatic texts need express written consent"
    assert [to for to, _ in senders.sms.sent] == [texted.customer.phone]


# --- 5. calls: opt-outs and the calling window ----------------------------------------------


def test_a_call_opt_out_cancels_the_calls_and_skips_any_left_with_a_reason(senders, make_user):
    boss = make_user("supervisor")
    lead = _lead()
    other = _lead()
    contact_services.mark_opt_out(boss, lead.id, "call", now=DAY0 + timedelta(minutes=1))
    calls = _touches(lead, channel="call_task")
    assert calls and {c.status for c in calls} == {"cancelled"}
    assert {t.status for t in _touches(lead, channel="auto_sms")} == {"scheduled"}
    # A call step of a plan started after the opt-out (or opted out by another path).
    db.session.add(Suppression(channel="call", address=other.customer.phone, source="staff"))
    db.session.commit()
    run_due_touches(DAY0 + timedelta(minutes=6), senders)
    first_call = _touches(other, channel="call_task")[0]
    assert first_call.status == "skipped" and first_call.outcome == "opted out (call)"
    assert _timeline(other, "step_skipped") == [
        "Step skipped: First call: within 5 minutes (the customer opted out of calls)"
    ]


def test_a_call_task_waits_for_the_customers_calling_window(senders):
    # 10:05 in Toronto is 07:05 in Vancouver: too early to call there.
    lead = _lead(customer={"first_name": "Van", "email": "van@example.com", "phone": "6045550123"})
    run_due_touches(DAY0 + timedelta(minutes=6), senders)
    first_call = _touches(lead, channel="call_task")[0]
    eleven = datetime(2026, 6, 2, 11, 0, tzinfo=TORONTO)  # 08:00 in Vancouver
    assert (first_call.status, first_call.due_at) == ("scheduled", eleven)
    run_due_touches(eleven, senders)
    db.session.refresh(first_call)
    assert first_call.status == "open" and first_call.due_at == eleven


# --- 7. a task done is on the timeline ------------------------------------------------------


def test_finishing_a_call_task_says_who_and_how_on_the_timeline(senders):
    lead = _lead()
    run_due_touches(DAY0 + timedelta(minutes=6), senders)
    task = _touches(lead, channel="call_task")[0]
    lead_actions.complete_task(task.assigned_to, task.id, "  Left a voicemail ")
    assert _timeline(lead, "task_done") == [
        "Call task done by Ana Advisor (First call: within 5 minutes): Left a voicemail"
    ]
    assert db.session.get(Touch, task.id).outcome == "Left a voicemail"


# --- 8. a plan with nothing left is finished ------------------------------------------------


def _short_plan() -> FollowUpPlan:
    plan = FollowUpPlan(key="short", name="Short plan")
    plan.steps = [
        PlanStep(position=0, offset_minutes=0, channel="auto_email", template_key="auto_response"),
        PlanStep(position=1, offset_minutes=10, channel="call_task", title="Call them"),
    ]
    db.session.add(plan)
    db.session.commit()
    return plan


def test_the_plan_is_finished_when_its_last_step_is_done(senders, client, make_user):
    from dealer_leads.api.services import create_api_key

    plan = _short_plan()
    lead = _lead()
    cadence.switch_plan(lead, "short", "test", DAY0)
    db.session.commit()
    run_due_touches(DAY0 + timedelta(minutes=11), senders)  # the e-mail goes, the call opens
    assert _cadence(lead).state == "active"
    (task,) = _touches(lead, channel="call_task", plan_id=plan.id)
    assert task.status == "open"
    lead_actions.complete_task(make_user("supervisor"), task.id, "reached")
    assert (_cadence(lead).state, _cadence(lead).reason) == ("finished", "every step done")
    assert _timeline(lead, "plan_finished") == [
        "Follow-up plan finished: Short plan (every step done)"
    ]
    _, key = create_api_key("t", ["leads:read"])
    body = client.get(f"/api/v1/leads/{lead.id}", headers={"Authorization": f"Bearer {key}"}).json
    assert body["cadence"]["state"] == "finished" and body["cadence"]["next_touch_at"] is None


def test_a_plan_whose_last_step_the_worker_performs_is_finished(senders, make_user):
    plan = _short_plan()
    plan.steps[1].channel, plan.steps[1].template_key = "auto_email", "day2_email"
    db.session.commit()
    lead = _lead()
    cadence.switch_plan(lead, "short", "test", DAY0)
    db.session.commit()
    run_due_touches(DAY0, senders)
    assert _cadence(lead).state == "active"
    run_due_touches(DAY0 + timedelta(minutes=10), senders)
    assert _cadence(lead).state == "finished" and len(senders.mail.sent) == 2


# --- 9. incomplete SMS settings switch off texts only -----------------------------------------


def test_incomplete_sms_settings_fail_the_texts_and_nothing_else(senders, app, caplog):
    app.config.update(SMS_API_URL="https://sms.example/2010-04-01", SMS_ACCOUNT_SID="AC1")
    with caplog.at_level(logging.ERROR, logger="dealer_leads.cadence.jobs"):
        cadence_tick()
        cadence_tick()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "cadence: configuration error, texts are switched off: "
        "SMS_API_URL is set but SMS_AUTH_TOKEN, SMS_FROM_NUMBER are not"
    ]
    real = senders_from_config(app.config)
    real.mail = senders.mail
    lead = _lead()
    report = run_due_touches(DAY0 + timedelta(hours=1, minutes=1), real)
    assert report.outcomes == {"sent": 1, "task": 1, "failed": 1}
    text = _touches(lead, channel="auto_sms")[0]
    assert text.status == "failed" and "SMS_FROM_NUMBER" in text.outcome
    assert any("texts are switched off" in line for line in _timeline(lead, "touch_failed"))


# --- 6. the unsubscribe link in a text names the text channel -------------------------------


def test_the_unsubscribe_link_in_a_text_opts_the_phone_out_of_texts(senders, client):
    save_template(
        "text_intro",
        {"name": "Intro text", "body_text": "Hi! No more texts: {{ unsubscribe_url }}"},
        None,
    )
    lead = _lead()
    run_due_touches(DAY0 + timedelta(hours=1, minutes=1), senders)
    ((_, body),) = senders.sms.sent
    link = body.split()[-1]
    wanted = read_unsubscribe_token(link.rsplit("/", 1)[1])
    assert (wanted.address, wanted.channel) == (lead.customer.phone, "sms")
    path = link.split("/unsubscribe/", 1)[1]
    assert client.post(f"/unsubscribe/{path}", data={"confirm": "1"}).status_code == 200
    assert db.session.scalar(db.select(Suppression.channel)) == "sms"
    assert _timeline(lead, "opt_out") == [
        "Opted out of texts via the unsubscribe link; 1 pending step cancelled"
    ]
