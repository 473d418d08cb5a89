"""Flagged touches with a fixed clock and fake senders: what a person decides for a message
that may or may not have gone out, or that failed, and that nothing is sent twice by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from cadence.fakes import FakeMail, FakeSms

from dealer_leads.cadence import review
from dealer_leads.cadence import services as cadence
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import run_due_touches
from dealer_leads.cadence.models import LeadCadence, Touch
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.errors import PermanentSendError

TORONTO = ZoneInfo("America/Toronto")
DAY0 = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)  # a Tuesday, 10:00


@pytest.fixture
def boss(app, make_user):
    ensure_default_plans()
    make_user("advisor", name="Ana Advisor")
    return make_user("supervisor", name="Sam Boss")


def _senders(fail_with: Exception | None = None) -> Senders:
    return Senders(mail=FakeMail(fail_with), sms=FakeSms())


def _flagged_auto_response(error: Exception, at: datetime = DAY0) -> tuple[Lead, Touch]:
    """A new lead whose auto-response broke while being handed over (unknown) or was refused
    by the server (failed), as the worker records them."""
    lead = db.session.get(Lead, ingest(lead_json(), now=at).lead_id)
    run_due_touches(at, _senders(error))
    touch = db.session.scalar(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.template_key == "auto_response")
    )
    return lead, touch


def _timeline(lead: Lead, kind: str) -> list[str]:
    db.session.expire(lead, ["events"])
    return [event.summary for event in lead.events if event.kind == kind]


def test_an_unknown_touch_waits_for_a_person_and_is_listed_newest_first(boss):
    _, first = _flagged_auto_response(PermanentSendError("550 no such mailbox"))
    _, second = _flagged_auto_response(RuntimeError("connection reset"), DAY0 + timedelta(hours=1))
    _, third = _flagged_auto_response(RuntimeError("timed out"), DAY0 - timedelta(hours=1))
    assert (first.status, second.status, third.status) == ("failed", "unknown", "unknown")
    assert [t.id for t in review.list_flagged()] == [second.id, first.id, third.id]
    assert review.count_flagged() == 3

    later = _senders()
    run_due_touches(DAY0 + timedelta(hours=1, minutes=15), later)
    assert later.mail.sent == []  # neither goes out by itself
    db.session.expire_all()
    assert db.session.get(Touch, second.id).status == "unknown"


def test_send_again_makes_one_new_touch_that_the_worker_sends_once(boss):
    lead, flagged = _flagged_auto_response(RuntimeError("connection reset"))
    now = DAY0 + timedelta(minutes=20)

    again = review.send_again(boss, flagged.id, now=now)

    db.session.expire_all()
    assert (again.status, again.due_at, again.template_key) == ("scheduled", now, "auto_response")
    assert again.plan_id == flagged.plan_id and again.id != flagged.id
    flagged = db.session.get(Touch, flagged.id)
    assert (flagged.status, flagged.finished_by_id) == ("unknown", boss.id)
    assert flagged.outcome.endswith("· sent again by Sam Boss as a new step")
    assert review.list_flagged() == [] and review.count_flagged() == 0
    assert _timeline(lead, "touch_reviewed") == [
        "Sent again by Sam Boss: the automatic e-mail (auto_response), as a new step"
    ]
    with pytest.raises(cadence.CadenceError, match="already reviewed"):
        review.send_again(boss, flagged.id, now=now)  # a second press makes no second touch

    senders = _senders()
    run_due_touches(now, senders)
    run_due_touches(now + timedelta(minutes=1), senders)
    assert len(senders.mail.sent) == 1 and senders.mail.sent[0]["To"].endswith(lead.customer.email)
    assert db.session.get(Touch, again.id).status == "sent"


def test_mark_sent_and_leave_it(boss):
    lead, unknown = _flagged_auto_response(RuntimeError("connection reset"))
    _, failed = _flagged_auto_response(PermanentSendError("550 no such mailbox"))
    with pytest.raises(cadence.CadenceError, match="only a step whose outcome is unknown"):
        review.mark_sent(boss, failed.id)

    review.mark_sent(boss, unknown.id)
    review.dismiss(boss, failed.id)

    db.session.expire_all()
    unknown, failed = db.session.get(Touch, unknown.id), db.session.get(Touch, failed.id)
    assert (unknown.status, unknown.finished_by_id) == ("sent", boss.id)
    assert "checked by Sam Boss: it went out" in unknown.outcome
    assert (failed.status, failed.finished_by_id) == ("failed", boss.id)
    assert failed.outcome == "550 no such mailbox · reviewed by Sam Boss: not sent again"
    assert _timeline(lead, "touch_reviewed") == [
        "Checked by Sam Boss: the automatic e-mail (auto_response) did go out"
    ]
    assert review.count_flagged() == 0
    with pytest.raises(cadence.CadenceError, match="already reviewed"):
        review.dismiss(boss, failed.id)


def test_only_flagged_touches_can_be_reviewed(boss):
    lead, _ = _flagged_auto_response(RuntimeError("connection reset"))
    scheduled = db.session.scalar(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.status == "scheduled").limit(1)
    )
    for decide in (review.mark_sent, review.dismiss, review.send_again):
        with pytest.raises(review.FlaggedTouchNotFound):
            decide(boss, scheduled.id)
        with pytest.raises(review.FlaggedTouchNotFound):
            decide(boss, 999_999)


def test_send_again_respects_a_stopped_or_paused_follow_up(boss):
    stopped, first = _flagged_auto_response(RuntimeError("connection reset"))
    cadence.stop(stopped, "lead lost", DAY0 + timedelta(minutes=1))
    paused, second = _flagged_auto_response(RuntimeError("connection reset"))
    cadence.pause_automatic(paused, "customer replied", DAY0 + timedelta(minutes=1), alert=False)
    db.session.commit()

    with pytest.raises(cadence.CadenceError, match=r"stopped \(lead lost\)"):
        review.send_again(boss, first.id)
    with pytest.raises(cadence.CadenceError, match="paused; resume it first"):
        review.send_again(boss, second.id)
    assert review.count_flagged() == 2  # still waiting for a decision
    review.dismiss(boss, first.id)  # leaving it is always possible


def test_send_again_after_the_plan_finished_is_a_one_off(boss):
    lead, flagged = _flagged_auto_response(RuntimeError("connection reset"))
    state = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    state.state = "finished"
    db.session.commit()
    now = DAY0 + timedelta(minutes=30)
    again = review.send_again(boss, flagged.id, now=now)
    assert again.plan_id is None  # the finished plan would skip a step of its own
    senders = _senders()
    run_due_touches(now, senders)
    assert len(senders.mail.sent) == 1
