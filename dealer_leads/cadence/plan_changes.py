"""What a plan edit does to the leads already on it: a removed step is cancelled where no worker
has taken it yet, and a plan switched off may stop its leads. Helpers: they add; the plan
service that calls them commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from dealer_leads.auth.models import User
from dealer_leads.cadence.finishing import finish_done_plans
from dealer_leads.cadence.models import STEP_CHANNELS, FollowUpPlan, LeadCadence, Touch
from dealer_leads.cadence.services import stop
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event

NOT_YET_TAKEN = ("scheduled", "held")  # no worker has claimed these or made them tasks
RUNNING = ("active", "paused")


def cancel_removed_steps(
    plan: FollowUpPlan, step_ids: set[int], now: datetime, by: User | None
) -> int:
    """Cancel the touches of removed steps that no worker has taken yet (scheduled or held),
    with a line on each lead's timeline; tasks already in someone's list stay. Adds."""
    if not step_ids:
        return 0
    cancelled = db.session.execute(
        update(Touch)
        .where(Touch.step_id.in_(step_ids), Touch.status.in_(NOT_YET_TAKEN))
        .values(status="cancelled", finished_at=now, outcome=f"step removed from “{plan.name}”")
        .returning(Touch.lead_id, Touch.channel, Touch.title, Touch.template_key)
        .execution_options(synchronize_session=False)
    ).all()
    steps_by_lead: dict[int, list[str]] = {}
    for lead_id, channel, title, template_key in cancelled:
        label = title or f"{STEP_CHANNELS.get(channel, channel)} ({template_key})"
        steps_by_lead.setdefault(lead_id, []).append(label)
    for lead in db.session.scalars(select(Lead).where(Lead.id.in_(steps_by_lead))):
        record_event(
            lead,
            "plan_step_removed",
            f"Plan “{plan.name}” edited, step removed: {', '.join(steps_by_lead[lead.id])} "
            "no longer scheduled",
            user=by,
            at=now,
            plan=plan.key,
        )
    finish_done_plans(steps_by_lead, now, reason="its remaining steps were removed")
    return len(cancelled)


def stop_leads_on(plan: FollowUpPlan, now: datetime, by: User | None) -> int:
    """Stop the follow-up of every lead running this plan (active or paused). Adds."""
    leads = db.session.scalars(
        select(Lead)
        .join(LeadCadence, LeadCadence.lead_id == Lead.id)
        .where(LeadCadence.plan_id == plan.id, LeadCadence.state.in_(RUNNING))
    ).all()
    reason = f"plan “{plan.name}” switched off" + (f" by {by.name}" if by else "")
    return sum(stop(lead, reason, now, by=by) for lead in leads)


def count_leads_on(plan_id: int) -> int:
    """How many leads run this plan now (active or paused)."""
    query = select(func.count(LeadCadence.id)).where(
        LeadCadence.plan_id == plan_id, LeadCadence.state.in_(RUNNING)
    )
    return db.session.scalar(query) or 0
