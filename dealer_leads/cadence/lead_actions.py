"""The lead page's follow-up actions: pause, resume, change the plan, skip a step, finish a
task. Each is one call that commits."""

from __future__ import annotations

from dealer_leads.auth.models import User
from dealer_leads.cadence.finishing import finish_done_plans
from dealer_leads.cadence.models import PENDING_TOUCH_STATES, STEP_CHANNELS, Touch
from dealer_leads.cadence.services import (
    CadenceError,
    pause_automatic,
    plan_by_key,
    resume,
    switch_plan,
)
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event


def _lead(lead_id: int) -> Lead:
    lead = db.session.get(Lead, lead_id)
    if lead is None:
        raise CadenceError(f"there is no lead #{lead_id}")
    return lead


def pause_lead(viewer: User, lead_id: int, reason: str = "") -> None:
    lead = _lead(lead_id)
    if not pause_automatic(
        lead, reason or f"paused by {viewer.name}", now_utc(), by=viewer, alert=False
    ):
        raise CadenceError("the follow-up is not running")
    db.session.commit()


def resume_lead(viewer: User, lead_id: int) -> None:
    resume(_lead(lead_id), now_utc(), by=viewer)
    db.session.commit()


def change_plan(viewer: User, lead_id: int, plan_key: str) -> None:
    plan = plan_by_key(plan_key)
    if plan is None or not plan.active:
        raise CadenceError(f"there is no plan {plan_key!r} in use (missing or switched off)")
    switch_plan(_lead(lead_id), plan_key, f"changed by {viewer.name}", now_utc(), by=viewer)
    db.session.commit()


def skip_touch(viewer: User, touch_id: int) -> Touch:
    """Skip one step that has not happened yet."""
    touch = db.session.get(Touch, touch_id)
    if touch is None or touch.status not in PENDING_TOUCH_STATES:
        raise CadenceError("that step is not waiting to happen")
    now = now_utc()
    touch.status, touch.finished_at, touch.finished_by_id = "skipped", now, viewer.id
    record_event(
        touch.lead,
        "step_skipped",
        f"Step skipped: {touch.title or touch.channel}",
        user=viewer,
        at=now,
        touch_id=touch.id,
    )
    finish_done_plans([touch.lead_id], now)
    db.session.commit()
    return touch


PERSON_CONTACT_CHANNELS = ("call_task", "email_task")


def complete_task(viewer: User, touch_id: int, outcome: str = "") -> Touch:
    """Mark a person's task done, with a line on the lead's timeline."""
    touch = db.session.get(Touch, touch_id)
    if touch is None or touch.status not in ("open", "scheduled", "held"):
        raise CadenceError("that task is not open")
    if viewer.role == "advisor" and touch.assigned_to_id not in (None, viewer.id):
        raise CadenceError("that task belongs to someone else")
    now = now_utc()
    touch.status, touch.finished_at, touch.finished_by_id = "done", now, viewer.id
    touch.outcome = outcome.strip()[:2000]
    if touch.channel in PERSON_CONTACT_CHANNELS and touch.lead.first_response_at is None:
        # A person called or wrote: that is the first human response, as a logged call is.
        touch.lead.first_response_at = touch.finished_at
    record_event(
        touch.lead,
        "task_done",
        _task_done_summary(touch, viewer),
        user=viewer,
        at=now,
        touch_id=touch.id,
        outcome=touch.outcome,
    )
    finish_done_plans([touch.lead_id], now)
    db.session.commit()
    return touch


TASK_KINDS = {"call_task": "Call task", "email_task": "E-mail task"}


def _task_done_summary(touch: Touch, viewer: User) -> str:
    """Call task done by Ana Advisor (Day 1 call): left a voicemail."""
    kind = TASK_KINDS.get(touch.channel, STEP_CHANNELS.get(touch.channel, "Task"))
    title = f" ({touch.title})" if touch.title else ""
    notes = f": {touch.outcome}" if touch.outcome else ""
    return f"{kind} done by {viewer.name}{title}{notes}"
