"""Start, pause, resume, stop and switch a lead's follow-up plan.

Helpers here add and flush; the intake and triage services that call them commit. The lead
page's actions, which commit, are in `lead_actions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from dealer_leads.admin.services import dealership_zone, get_dealership
from dealer_leads.auth.models import User
from dealer_leads.cadence.models import (
    AUTOMATIC_CHANNELS,
    PENDING_TOUCH_STATES,
    FollowUpPlan,
    LeadCadence,
    PlanRule,
    PlanStep,
    Touch,
)
from dealer_leads.cadence.planner import StepSpec, expand_plan
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.compliance import hours_from_settings, is_open, next_open


class CadenceError(ValueError):
    """A plan change that cannot be done as asked; the message says why."""


def _hours():
    dealership = get_dealership()
    return hours_from_settings(
        dealership.timezone, dealership.business_hours or {}, dealership.holidays or []
    )


_RULES_IN_ORDER = select(PlanRule).order_by(PlanRule.position, PlanRule.id)


def choose_plan(lead: Lead, at: datetime) -> tuple[FollowUpPlan | None, str]:
    """The first rule that matches the lead picks its plan; the rule is returned as text."""
    interests = {v.interest for v in lead.vehicles}
    after_hours = not is_open(at, _hours())
    rules = db.session.scalars(_RULES_IN_ORDER)
    for rule in rules:
        if rule.department and rule.department != lead.department:
            continue
        if rule.sales_kind and rule.sales_kind != lead.sales_kind:
            continue
        if rule.source and rule.source.lower() != (lead.latest_source or lead.source).lower():
            continue
        if rule.interest and rule.interest not in interests:
            continue
        if rule.after_hours is not None and rule.after_hours != after_hours:
            continue
        if rule.plan.active:
            return rule.plan, _describe_rule(rule)
    return None, "no rule matched"


def _describe_rule(rule: PlanRule) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (
            ("department", rule.department),
            ("kind", rule.sales_kind),
            ("source", rule.source),
            ("interest", rule.interest),
        )
        if value
    ]
    if rule.after_hours is not None:
        parts.append("after hours" if rule.after_hours else "during hours")
    return f"rule #{rule.position + 1}: " + (", ".join(parts) or "any lead")


def _plan_touches(lead: Lead, plan: FollowUpPlan, anchor: datetime, now: datetime) -> list[dict]:
    """The plan's touches for the lead, as rows for one bulk insert (the lead is flushed)."""
    hours = _hours()
    specs = [
        StepSpec(
            position=s.position,
            offset_minutes=s.offset_minutes,
            channel=s.channel,
            offset_from=s.offset_from,
            business_hours=s.business_hours,
            template_key=s.template_key,
            title=s.title,
            step_id=s.id,
        )
        for s in plan.steps
    ]
    planned = expand_plan(
        specs,
        anchor,
        dealership_zone(),
        lambda m: next_open(m, hours),
        not_before=now if anchor > now else None,
    )
    return [
        {
            "lead_id": lead.id,
            "plan_id": plan.id,
            "step_id": p.step.step_id,
            "position": p.step.position,
            "channel": p.step.channel,
            "template_key": p.step.template_key,
            "title": p.step.title,
            "due_at": p.due_at,
            "assigned_to_id": (
                None if p.step.channel in AUTOMATIC_CHANNELS else lead.assigned_to_id
            ),
        }
        for p in planned
    ]


def start_plan(
    lead: Lead,
    now: datetime,
    *,
    plan: FollowUpPlan | None = None,
    anchor: datetime | None = None,
    reason: str = "",
    by: User | None = None,
) -> LeadCadence | None:
    """Put the lead on `plan` (or the one the rules choose) from `anchor` (default: now).

    The touches go in with one INSERT (executemany), not as ORM objects."""
    rule = reason
    if plan is None:
        plan, rule = choose_plan(lead, lead.received_at)
        if plan is None:
            return None
    db.session.flush()  # the touches' rows carry the lead's id and assignee
    touches = _plan_touches(lead, plan, anchor or now, now)
    cadence = lead_cadence(lead) or LeadCadence(lead_id=lead.id)
    if touches:
        # render_nulls: every row has the same columns, so it is one executemany.
        db.session.execute(insert(Touch).execution_options(render_nulls=True), touches)
    cadence.plan_id, cadence.state, cadence.reason = plan.id, "active", rule[:200]
    cadence.started_at = cadence.updated_at = now
    db.session.add(cadence)
    record_event(
        lead,
        "plan_started",
        f"Follow-up plan: {plan.name} ({len(touches)} steps)",
        user=by,
        at=now,
        rule=rule,
        plan=plan.key,
    )
    return cadence


def lead_cadence(lead: Lead) -> LeadCadence | None:
    """The lead's follow-up plan state, if it has one."""
    return db.session.scalar(select(LeadCadence).where(LeadCadence.lead_id == lead.id))


def _set_touches(
    lead: Lead,
    from_states: tuple[str, ...],
    to_state: str,
    now: datetime,
    *,
    automatic_only: bool = False,
) -> int:
    query = update(Touch).where(Touch.lead_id == lead.id, Touch.status.in_(from_states))
    if automatic_only:
        query = query.where(Touch.channel.in_(AUTOMATIC_CHANNELS))
    values = {"status": to_state}
    if to_state in ("cancelled", "skipped"):
        values["finished_at"] = now
    return db.session.execute(query.values(**values)).rowcount


def pause_automatic(
    lead: Lead, reason: str, now: datetime, *, by: User | None = None, alert: bool = True
) -> bool:
    """Hold the automatic e-mails and texts (the customer answered); person tasks stay, and the
    assignee gets a task to answer. Returns False when there was nothing to pause."""
    cadence = lead_cadence(lead)
    if cadence is None or cadence.state != "active":
        return False
    held = _set_touches(lead, ("scheduled",), "held", now, automatic_only=True)
    cadence.state, cadence.reason, cadence.updated_at = "paused", reason[:200], now
    record_event(
        lead, "plan_paused", f"Automatic follow-up paused: {reason}", user=by, at=now, held=held
    )
    if alert and lead.assigned_to_id:
        open_task(lead, f"Respond: {reason}", now, plan_id=cadence.plan_id)
    return True


def open_task(
    lead: Lead,
    title: str,
    now: datetime,
    *,
    assignee_id: int | None = None,
    channel: str = "task",
    plan_id: int | None = None,
) -> Touch:
    """A task due now for the lead's advisor, or for `assignee_id` when given (adds)."""
    task = Touch(
        lead_id=lead.id,
        plan_id=plan_id,
        channel=channel,
        title=title[:200],
        due_at=now,
        status="open",
        assigned_to_id=assignee_id if assignee_id is not None else lead.assigned_to_id,
    )
    db.session.add(task)
    return task


def resume(lead: Lead, now: datetime, *, by: User | None = None) -> None:
    """Release the held touches, each moved later by the time the plan was paused.

    The remaining automatic steps keep their spacing and come as long after the resume as they
    were due after the pause: paused on day 2 and resumed on day 15, the day-3 text goes on day
    16 and the day-5 e-mail on day 18, instead of everything missed going out in one tick. A
    step that waits for business hours and lands outside them moves to the next opening. (The
    pause began when the plan's state last changed, `updated_at`.)"""
    cadence = lead_cadence(lead)
    if cadence is None or cadence.state != "paused":
        raise CadenceError("the follow-up is not paused")
    paused_for = max(now - cadence.updated_at, timedelta(0))
    held = db.session.scalars(
        select(Touch).where(Touch.lead_id == lead.id, Touch.status == "held")
    ).all()
    move_later(held, paused_for, now)
    for touch in held:
        touch.status = "scheduled"
    cadence.state, cadence.reason, cadence.updated_at = "active", "", now
    moved = f"; the remaining steps moved {_duration(paused_for)} later" if held else ""
    record_event(
        lead,
        "plan_resumed",
        f"Automatic follow-up resumed{moved}",
        user=by,
        at=now,
        released=len(held),
        shifted_minutes=int(paused_for.total_seconds() // 60),
    )


def move_later(touches: list[Touch], span: timedelta, now: datetime) -> None:
    """Each touch due `span` later (not before now); a step that waits for business hours and
    lands outside them moves to the next opening."""
    in_hours = _business_hours_steps({touch.step_id for touch in touches if touch.step_id})
    hours = _hours() if in_hours else None
    for touch in touches:
        due = max(touch.due_at + span, now)
        touch.due_at = next_open(due, hours) if touch.step_id in in_hours else due


def _business_hours_steps(step_ids: set[int]) -> set[int]:
    if not step_ids:
        return set()
    query = select(PlanStep.id).where(PlanStep.id.in_(step_ids), PlanStep.business_hours)
    return set(db.session.scalars(query))


def _duration(span: timedelta) -> str:
    """13 days, 5 hours, 20 minutes: the largest unit that fits, for a timeline line."""
    minutes = int(span.total_seconds() // 60)
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size or size == 1:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return ""


def stop(lead: Lead, reason: str, now: datetime, *, by: User | None = None) -> bool:
    """Cancel everything still to come (sold, lost, opted out)."""
    cadence = lead_cadence(lead)
    if cadence is None or cadence.state in ("stopped", "finished"):
        return False
    cancelled = _set_touches(lead, PENDING_TOUCH_STATES, "cancelled", now)
    cadence.state, cadence.reason, cadence.updated_at = "stopped", reason[:200], now
    record_event(
        lead, "plan_stopped", f"Follow-up stopped: {reason}", user=by, at=now, cancelled=cancelled
    )
    return True


def plan_by_key(key: str) -> FollowUpPlan | None:
    """The plan with this key, in use or not."""
    return db.session.scalar(select(FollowUpPlan).where(FollowUpPlan.key == key))


def switch_plan(
    lead: Lead,
    plan_key: str,
    reason: str,
    now: datetime,
    *,
    anchor: datetime | None = None,
    by: User | None = None,
) -> LeadCadence:
    """Stop the current plan and start another (booking → confirmation, no-show → rebook)."""
    plan = plan_by_key(plan_key)
    if plan is None:
        raise CadenceError(f"there is no plan {plan_key!r}")
    if lead_cadence(lead) is not None:
        _set_touches(lead, PENDING_TOUCH_STATES, "cancelled", now)
    record_event(
        lead,
        "plan_switched",
        f"Plan switched to {plan.name}: {reason}",
        user=by,
        at=now,
        plan=plan_key,
        reason=reason,
    )
    return start_plan(lead, now, plan=plan, anchor=anchor, reason=reason, by=by)


def on_status_change(lead: Lead, old: str, new: str, now: datetime, by: User | None) -> None:
    """Sold starts the owner-loyalty plan, lost stops everything; an appointment holds the
    sales plan until the appointment plan takes over (booking switches it)."""
    if new == "sold":
        if plan_by_key("owner_loyalty") is not None:
            switch_plan(lead, "owner_loyalty", "vehicle sold", now, by=by)
        else:
            stop(lead, "vehicle sold", now, by=by)
    elif new == "lost":
        stop(
            lead, f"lead lost ({lead.lost_reason})" if lead.lost_reason else "lead lost", now, by=by
        )
    elif new == "appointment":
        pause_automatic(lead, "appointment set", now, by=by, alert=False)


def get_cadence(lead_id: int) -> tuple[LeadCadence | None, list[Touch]]:
    """The lead's plan state and every touch, in due order."""
    cadence = db.session.scalar(select(LeadCadence).where(LeadCadence.lead_id == lead_id))
    touches = db.session.scalars(
        select(Touch).where(Touch.lead_id == lead_id).order_by(Touch.due_at, Touch.id)
    ).all()
    return cadence, list(touches)


def cadence_summaries(lead_ids: list[int]) -> dict[int, dict]:
    """{lead id: {plan, state, reason, next_touch_at}} for many leads in two queries."""
    if not lead_ids:
        return {}
    rows = db.session.execute(
        select(LeadCadence.lead_id, FollowUpPlan.key, LeadCadence.state, LeadCadence.reason)
        .outerjoin(FollowUpPlan, FollowUpPlan.id == LeadCadence.plan_id)
        .where(LeadCadence.lead_id.in_(lead_ids))
    ).all()
    upcoming = dict(
        db.session.execute(
            select(Touch.lead_id, func.min(Touch.due_at))
            .where(Touch.lead_id.in_(lead_ids), Touch.status.in_(("scheduled", "open")))
            .group_by(Touch.lead_id)
        ).all()
    )
    return {
        lead_id: {
            "plan": plan,
            "state": state,
            "reason": reason,
            "next_touch_at": upcoming.get(lead_id),
        }
        for lead_id, plan, state, reason in rows
    }
