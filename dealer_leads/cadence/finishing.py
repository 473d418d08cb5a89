"""How a plan ends without a person stopping it: its last step done, or the steps left on a
channel cancelled by an opt-out. Helpers: they add and flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from dealer_leads.cadence.models import PENDING_TOUCH_STATES, LeadCadence, Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event

# What a person step or message on each channel is, so an opt-out cancels the right ones.
OPT_OUT_TOUCH_CHANNELS = {
    "email": ("auto_email", "email_task"),
    "sms": ("auto_sms",),
    "call": ("call_task",),
}


def cancel_opted_out(
    customer_ids: Iterable[int], channel: str, now: datetime, outcome: str
) -> dict[int, int]:
    """Cancel the pending touches on `channel` ("all": every channel that reaches the
    customer) of every lead of these customers; {lead id: touches cancelled}. A plan left
    with nothing to do is finished (an opt-out of everything stops the plan: the caller's
    job, with its reason). Adds and flushes."""
    channels = (
        tuple(c for each in OPT_OUT_TOUCH_CHANNELS.values() for c in each)
        if channel == "all"
        else OPT_OUT_TOUCH_CHANNELS.get(channel, ())
    )
    leads = select(Lead.id).where(Lead.customer_id.in_(list(customer_ids)))
    pending = db.session.execute(
        select(Touch.id, Touch.lead_id).where(
            Touch.lead_id.in_(leads),
            Touch.channel.in_(channels),
            Touch.status.in_(PENDING_TOUCH_STATES),
        )
    ).all()
    if not pending:
        return {}
    db.session.execute(
        update(Touch)
        .where(Touch.id.in_([touch_id for touch_id, _ in pending]))
        .values(status="cancelled", finished_at=now, outcome=outcome[:2000])
    )
    cancelled: dict[int, int] = {}
    for _, lead_id in pending:
        cancelled[lead_id] = cancelled.get(lead_id, 0) + 1
    if channel != "all":
        finish_done_plans(cancelled, now, reason=f"no steps left: {outcome}")
    return cancelled


def finish_done_plans(
    lead_ids: Iterable[int], now: datetime, *, reason: str = "every step done"
) -> int:
    """Mark finished each active plan of these leads with no step of its own still to happen
    (every step sent, done, skipped or cancelled; none claimed either). One query. Adds."""
    lead_ids = list(lead_ids)
    if not lead_ids:
        return 0
    still_to_come = (
        select(Touch.id)
        .where(
            Touch.lead_id == LeadCadence.lead_id,
            Touch.plan_id == LeadCadence.plan_id,
            Touch.status.in_((*PENDING_TOUCH_STATES, "claimed")),
        )
        .exists()
    )
    done = db.session.scalars(
        select(LeadCadence).where(
            LeadCadence.lead_id.in_(lead_ids), LeadCadence.state == "active", ~still_to_come
        )
    ).all()
    for cadence in done:
        cadence.state, cadence.reason, cadence.updated_at = "finished", reason[:200], now
        lead = db.session.get(Lead, cadence.lead_id)
        name = cadence.plan.name if cadence.plan else "follow-up"
        record_event(lead, "plan_finished", f"Follow-up plan finished: {name} ({reason})", at=now)
    return len(done)
