"""The cadence engine with a fixed clock and fake senders: plans, sending once, stop rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from cadence.fakes import FakeMail, FakeSms

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import claim_due_touches, flag_stale_claims, run_due_touches
from dealer_leads.cadence.models import LeadCadence, Touch
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.leads import services
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.errors import PermanentSendError, TemporarySendError
from dealer_leads.messaging.models import OutboundMessage, Suppression

TORONTO = ZoneInfo("America/Toronto")
TUESDAY_10AM = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)


@pytest.fixture
def plans(app):
    ensure_default_plans()


@pytest.fixture
def senders():
    return Senders(mail=FakeMail(), sms=FakeSms())


def _touches(lead_id: int) -> list[Touch]:
    return list(
        db.session.scalars(
            db.select(Touch).where(Touch.lead_id == lead_id).order_by(Touch.due_at, Touch.id)
        )
    )


def _lead(make_user=None, at=TUESDAY_10AM, **body) -> Lead:
    return db.session.get(Lead, ingest(lead_json(**body), now=at).lead_id)


def test_new_lead_gets_the_new_vehicle_plan(plans, make_user):
    make_user("advisor")
    lead = _lead()
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == "new_vehicle" and cadence.state == "active"
    touches = _touches(lead.id)
    assert (touches[0].channel, touches[0].due_at) == ("auto_email", TUESDAY_10AM)
    assert touches[1].channel == "call_task"
    assert touches[1].due_at == TUESDAY_10AM + timedelta(minutes=5)
    day_one = [t for t in touches if t.title == "Day 1 call"][0]
    assert day_one.due_at.astimezone(TORONTO).hour == 10
    assert any(e.kind == "plan_started" for e in lead.events)


def test_rules_choose_used_trade_in_and_after_hours_plans(plans):
    used = _lead(vehicles=[{"status": "used", "make": "Ford", "model": "Escape"}])
    trade = _lead(vehicles=[{"interest": "trade-in", "make": "Kia", "model": "Rio"}])
    night = _lead(at=TUESDAY_10AM + timedelta(hours=13))  # 23:00, closed
    keys = [
        db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id)).plan.key
        for lead in (used, trade, night)
    ]
    assert keys == ["used_vehicle", "trade_in", "after_hours"]
    first_call = [t for t in _touches(night.id) if t.channel == "call_task"][0]
    assert first_call.due_at.astimezone(TORONTO).hour == 9  # at opening


TRADE_IN = {"interest": "trade-in", "status": "used", "make": "Kia", "model": "Rio"}


@pytest.mark.parametrize(
    "vehicles, plan",
    [
        ([{"status": "new", "make": "Honda", "model": "CR-V"}, TRADE_IN], "new_vehicle"),
        ([TRADE_IN, {"status": "new", "make": "Honda", "model": "CR-V"}], "new_vehicle"),
        ([{"status": "used", "make": "Ford", "model": "Escape"}, TRADE_IN], "used_vehicle"),
        ([{"interest": "lease", "make": "Honda", "model": "Civic"}, TRADE_IN], "new_vehicle"),
        ([{"interest": "test-drive", "make": "Honda", "model": "Civic"}, TRADE_IN], "new_vehicle"),
        ([TRADE_IN], "trade_in"),
        ([{"interest": "sell", "status": "used", "make": "Mazda", "model": "3"}], "trade_in"),
        ([], "new_vehicle"),
    ],
)
def test_a_purchase_offering_a_trade_in_gets_the_purchase_plan(plans, vehicles, plan):
    lead = _lead(vehicles=vehicles)
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == plan


def test_auto_response_is_sent_once_and_recorded(plans, senders, make_user):
    make_user("advisor", name="Ana Advisor")
    lead = _lead()
    report = run_due_touches(TUESDAY_10AM, senders)
    again = run_due_touches(TUESDAY_10AM + timedelta(seconds=5), senders)
    assert report.outcomes == {"sent": 1} and again.claimed == 0
    message = senders.mail.sent[0]
    assert message["To"].endswith(lead.customer.email)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    stored = db.session.scalar(db.select(OutboundMessage))
    assert stored.message_id == message["Message-ID"] and stored.lead_id == lead.id
    assert message["Reply-To"].startswith("leads+") or stored.reply_token in message["Reply-To"]
    assert lead.first_response_at is None  # an automatic answer does not stop the clock
    kinds = [e.kind for e in lead.events]
    assert "auto_email" in kinds


def test_call_step_becomes_a_task_for_the_assignee(plans, senders, make_user):
    advisor = make_user("advisor")
    lead = _lead()
    run_due_touches(TUESDAY_10AM + timedelta(minutes=6), senders)
    task = [t for t in _touches(lead.id) if t.channel == "call_task"][0]
    assert (task.status, task.assigned_to_id) == ("open", advisor.id)


def test_a_claim_without_outcome_is_flagged_never_resent(plans, senders):
    lead = _lead()
    claimed = claim_due_touches(TUESDAY_10AM, 10, "dead-worker")  # then the worker dies
    assert len(claimed) == 1
    assert run_due_touches(TUESDAY_10AM + timedelta(minutes=1), senders).claimed == 0
    assert flag_stale_claims(TUESDAY_10AM + timedelta(minutes=11)) == 1
    touch = db.session.get(Touch, claimed[0])
    assert touch.status == "unknown" and not senders.mail.sent
    assert any(e.kind == "touch_unknown" for e in lead.events)


def test_new_inquiry_pauses_automatic_steps_and_resume_releases_them(plans, senders, make_user):
    make_user("advisor")
    customer = {"first_name": "Rae", "email": "rae@example.com", "phone": "4165552671"}
    lead = _lead(customer=customer)
    _lead(at=TUESDAY_10AM + timedelta(hours=2), customer=customer, source="CarGurus")
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.state == "paused" and "CarGurus" in cadence.reason
    statuses = {t.channel: t.status for t in _touches(lead.id) if t.position == 2}
    assert statuses == {"auto_sms": "held"}
    assert any(t.title.startswith("Respond:") for t in _touches(lead.id))
    boss = make_user("supervisor")
    from dealer_leads.cadence.lead_actions import resume_lead

    resume_lead(boss, lead.id)
    assert cadence.state == "active"
    assert not [t for t in _touches(lead.id) if t.status == "held"]


def test_lost_stops_and_sold_switches_to_owner_loyalty(plans, make_user):
    boss = make_user("supervisor")
    lost, sold = _lead(), _lead()
    services.change_status(boss, lost.id, "lost", "bought elsewhere")
    services.change_status(boss, sold.id, "sold")
    lost_cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lost.id))
    assert lost_cadence.state == "stopped"
    assert {t.status for t in _touches(lost.id)} <= {"cancelled", "sent", "open"}
    sold_cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == sold.id))
    assert sold_cadence.plan.key == "owner_loyalty" and sold_cadence.state == "active"


def test_reached_by_phone_pauses_automatic_follow_up(plans, make_user):
    boss = make_user("supervisor")
    lead = _lead()
    services.log_call(boss, lead.id, "reached", now=TUESDAY_10AM + timedelta(minutes=3))
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.state == "paused" and cadence.reason == "customer reached by phone"


def test_opted_out_address_gets_nothing(plans, senders):
    lead = _lead()
    db.session.add(Suppression(channel="email", address=lead.customer.email, source="link"))
    db.session.commit()
    assert run_due_touches(TUESDAY_10AM, senders).outcomes == {"skipped": 1}
    assert not senders.mail.sent


def test_lead_without_email_gets_no_automatic_email(plans, senders):
    lead = _lead(customer={"first_name": "Phone", "phone": "4165552671"})
    run_due_touches(TUESDAY_10AM, senders)
    assert _touches(lead.id)[0].status == "skipped"
    assert "e-mail" in _touches(lead.id)[0].outcome


def test_text_waits_for_quiet_hours(plans, senders):
    evening = datetime(2026, 6, 2, 19, 30, tzinfo=TORONTO).astimezone(UTC)
    lead = _lead(
        at=evening, customer={"first_name": "Al", "email": "al@example.com", "phone": "4165552671"}
    )
    run_due_touches(evening + timedelta(hours=1, minutes=1), senders)  # 20:31: too late
    text = [t for t in _touches(lead.id) if t.channel == "auto_sms"][0]
    assert text.status == "scheduled" and not senders.sms.sent
    assert text.due_at.astimezone(TORONTO).hour == 9


def test_temporary_failure_retries_with_back_off_then_fails(plans):
    lead = _lead()
    failing = Senders(mail=FakeMail(TemporarySendError("451 try later")), sms=FakeSms())
    response = _touches(lead.id)[0]
    seen = []
    for _ in range(5):
        due = response.due_at
        run_due_touches(due, failing)
        db.session.refresh(response)
        seen.append((response.status, response.due_at - due))
    minutes = [delay.total_seconds() / 60 for status, delay in seen[:4]]
    assert [status for status, _ in seen] == ["scheduled"] * 4 + ["failed"]
    assert minutes == [1, 5, 15, 60]
    assert response.attempts == 5 and "451 try later" in response.outcome
    assert any(e.kind == "touch_failed" for e in lead.events)


def test_permanent_failure_is_not_retried(plans):
    _lead()
    failing = Senders(mail=FakeMail(PermanentSendError("550 no such user")), sms=FakeSms())
    assert run_due_touches(TUESDAY_10AM, failing).outcomes == {"failed": 1}


def test_api_shows_the_plan_state(plans, client):
    from dealer_leads.api.services import create_api_key

    _, key = create_api_key("t", ["leads:read"])
    lead = _lead()
    body = client.get(f"/api/v1/leads/{lead.id}", headers={"Authorization": f"Bearer {key}"}).json
    assert body["cadence"]["plan"] == "new_vehicle" and body["cadence"]["state"] == "active"
    assert body["cadence"]["next_touch_at"].startswith("2026-06-02T14:00:00")
    listed = client.get("/api/v1/leads", headers={"Authorization": f"Bearer {key}"}).json
    assert listed["items"][0]["cadence"]["state"] == "active"


def test_reassigning_a_lead_hands_over_its_open_tasks(plans, senders, make_user):
    first, second = make_user("advisor", name="First"), make_user("advisor", name="Second")
    boss = make_user("supervisor")
    lead = _lead()
    run_due_touches(TUESDAY_10AM + timedelta(minutes=6), senders)
    services.assign_lead(boss, lead.id, second.id if lead.assigned_to_id == first.id else first.id)
    owner = db.session.get(Lead, lead.id).assigned_to_id
    people = [
        t
        for t in _touches(lead.id)
        if t.channel not in ("auto_email", "auto_sms") and t.status in ("open", "scheduled")
    ]
    assert people and {t.assigned_to_id for t in people} == {owner}


def test_an_inactive_plan_cannot_be_chosen_by_hand(plans, make_user):
    from dealer_leads.cadence.lead_actions import change_plan
    from dealer_leads.cadence.models import FollowUpPlan
    from dealer_leads.cadence.services import CadenceError

    boss = make_user("supervisor")
    lead = _lead()
    plan = db.session.scalar(db.select(FollowUpPlan).where(FollowUpPlan.key == "long_term"))
    plan.active = False
    db.session.commit()
    with pytest.raises(CadenceError, match="switched off"):
        change_plan(boss, lead.id, "long_term")


def test_queue_shows_overdue_tasks(plans, senders, client, login_as):
    advisor = login_as("advisor")
    _lead()
    run_due_touches(TUESDAY_10AM + timedelta(minutes=6), senders)
    db.session.commit()
    page = client.get("/leads/").get_data(as_text=True)
    from dealer_leads.cadence.task_services import count_overdue_tasks

    overdue = count_overdue_tasks(advisor)
    assert overdue >= 1 and f"{overdue} overdue task" in page
