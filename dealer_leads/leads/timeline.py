"""Timeline events and round-robin assignment: helpers that add and flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import nulls_first, update

from dealer_leads.auth.models import User
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, PENDING_TOUCH_STATES, Touch
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead, LeadEvent


def record_event(
    lead: Lead,
    kind: str,
    summary: str,
    *,
    user: User | None = None,
    at: datetime | None = None,
    **data,
) -> LeadEvent:
    """Add one line to the lead's timeline and mark the lead active."""
    at = at or now_utc()
    event = LeadEvent(
        lead=lead,
        kind=kind,
        summary=summary[:500],
        data=data,
        at=at,
        user_id=user.id if user else None,
    )
    db.session.add(event)
    lead.last_activity_at = max(lead.last_activity_at or at, at)
    return event


def next_advisor_in_rotation(now: datetime) -> User | None:
    """Round robin: the active, on-shift advisor who was assigned a lead longest ago."""
    query = (
        db.select(User)
        .where(User.role == "advisor", User.active.is_(True), User.on_shift.is_(True))
        .order_by(nulls_first(User.last_assigned_at.asc()), User.id)
        .limit(1)
    )
    advisor = None
    if db.session.get_bind().dialect.name == "postgresql":
        # Concurrent intakes take the next free advisor instead of queueing on one row; only
        # when every advisor is being assigned at this instant do they wait their turn.
        advisor = db.session.scalar(query.with_for_update(skip_locked=True))
        query = query.with_for_update()
    advisor = advisor or db.session.scalar(query)
    if advisor is not None:
        advisor.last_assigned_at = now
    return advisor


def set_assignee(
    lead: Lead, advisor: User | None, *, by: User | None, rule: str, at: datetime | None = None
) -> None:
    """Change who owns the lead and say so on the timeline."""
    if lead.assigned_to_id == (advisor.id if advisor else None):
        return
    previous = lead.assigned_to.name if lead.assigned_to else None
    lead.assigned_to = advisor
    _hand_over_tasks(lead, advisor)
    if advisor is None:
        summary = f"Unassigned (was {previous})"
    elif previous:
        summary = f"Reassigned from {previous} to {advisor.name}"
    else:
        summary = f"Assigned to {advisor.name}"
    record_event(
        lead,
        "assigned",
        summary,
        user=by,
        at=at,
        rule=rule,
        advisor_id=advisor.id if advisor else None,
    )


def _hand_over_tasks(lead: Lead, advisor: User | None) -> None:
    """The lead's calls and tasks still to do go with it to the new owner."""
    if lead.id is None:
        return
    db.session.execute(
        update(Touch)
        .where(
            Touch.lead_id == lead.id,
            Touch.status.in_(PENDING_TOUCH_STATES),
            Touch.channel.not_in(AUTOMATIC_CHANNELS),
        )
        .values(assigned_to_id=advisor.id if advisor else None)
    )
