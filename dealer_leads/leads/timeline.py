"""Timeline events and round-robin assignment: helpers that add and flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, inspect, nulls_first, or_, update
from sqlalchemy.orm.attributes import set_committed_value

from dealer_leads.auth.models import User
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, PENDING_TOUCH_STATES, Touch
from dealer_leads.database import insert_row, now_utc, update_as_loaded
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
    """Add one line to the lead's timeline and mark the lead active.

    A lead already stored whose timeline is not loaded stays out of the unit of work: the event
    names it by id, and its last activity moves forward with one UPDATE. A changed lead brings
    every relationship it has into the flush, which cost a third of recording each e-mail the
    worker sends (measured). A new lead, or one whose timeline is loaded, takes the event
    through the relationship, so that its list stays whole.
    """
    at = at or now_utc()
    event = LeadEvent(
        kind=kind, summary=summary[:500], data=data, at=at, user_id=user.id if user else None
    )
    state = inspect(lead)
    if state.persistent and "events" not in state.dict:
        event.lead_id = lead.id
        set_committed_value(event, "lead", lead)  # readable at once, and the lead stays clean
        db.session.add(event)
        _move_last_activity(lead, at)
    else:
        event.lead = lead
        db.session.add(event)
        lead.last_activity_at = max(lead.last_activity_at or at, at)
    return event


def write_event(lead: Lead, kind: str, summary: str, *, at: datetime, **data) -> None:
    """`record_event` for a stored lead, written at once: an INSERT on the session's
    connection and the lead's last activity moved, with no object for the unit of work.

    For a hot path that commits right after: the worker records each message it sends this
    way (flushing the event object cost about as much as building the e-mail). A loaded
    `lead.events` does not see the line until it is read again."""
    row = {"lead_id": lead.id, "kind": kind, "summary": summary[:500], "data": data, "at": at}
    insert_row(db.session(), LeadEvent.__table__, row)
    _move_last_activity(lead, at, execute=db.session.connection().execute)


# Built once (see `database.insert_row`).
_MOVE_LAST_ACTIVITY = (
    update(Lead)
    .where(Lead.id == bindparam("lead"))
    .where(or_(Lead.last_activity_at.is_(None), Lead.last_activity_at < bindparam("at")))
    .values(last_activity_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)


def _move_last_activity(lead: Lead, at: datetime, execute=None) -> None:
    """`lead.last_activity_at` = `at` unless it is already as late, in the database and in the
    object alike, without marking the object changed. `execute` runs the UPDATE: by default the
    session's (which flushes what is pending first), or a connection's."""
    if lead.last_activity_at is not None and lead.last_activity_at >= at:
        return
    (execute or db.session.execute)(_MOVE_LAST_ACTIVITY, {"lead": lead.id, "at": at})
    set_committed_value(lead, "last_activity_at", at)


_NEXT_ADVISOR = (
    db.select(User)
    .where(User.role == "advisor", User.active.is_(True), User.on_shift.is_(True))
    .order_by(nulls_first(User.last_assigned_at.asc()), User.id)
    .limit(1)
)
_NEXT_FREE_ADVISOR_LOCKED = _NEXT_ADVISOR.with_for_update(skip_locked=True)
_NEXT_ADVISOR_LOCKED = _NEXT_ADVISOR.with_for_update()


def next_advisor_in_rotation(now: datetime) -> User | None:
    """Round robin: the active, on-shift advisor who was assigned a lead longest ago."""
    query, advisor = _NEXT_ADVISOR, None
    if db.session.get_bind().dialect.name == "postgresql":
        # Concurrent intakes take the next free advisor instead of queueing on one row; only
        # when every advisor is being assigned at this instant do they wait their turn.
        advisor = db.session.scalar(_NEXT_FREE_ADVISOR_LOCKED)
        query = _NEXT_ADVISOR_LOCKED
    advisor = advisor or db.session.scalar(query)
    if advisor is not None:
        update_as_loaded(db.session(), advisor, last_assigned_at=now)
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
