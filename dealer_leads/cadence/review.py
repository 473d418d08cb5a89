"""Flagged touches for a supervisor to review: an outcome unknown after a crash or an
unforeseen error (it may or may not have gone out), or a failure (it did not).

A flagged touch is never sent again by itself. A person looks, then marks it sent (it went
out after all), leaves it, or sends it again: a new touch, due at once, while the flagged one
stays as it was, with who reviewed it (`finished_by_id`) and what they chose. Each public call
commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from dealer_leads.auth.models import User
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, LeadCadence, Touch
from dealer_leads.cadence.outbound import describe
from dealer_leads.cadence.services import CadenceError, lead_cadence
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event

FLAGGED_STATES = ("unknown", "failed")


class FlaggedTouchNotFound(LookupError):
    """No touch with this id was ever flagged."""


def _awaiting_review() -> tuple:
    return Touch.status.in_(FLAGGED_STATES), Touch.finished_by_id.is_(None)


def list_flagged(limit: int = 200) -> list[Touch]:
    """Flagged touches nobody has reviewed yet, the most recently flagged first."""
    query = (
        select(Touch)
        .where(*_awaiting_review())
        .options(
            joinedload(Touch.lead).joinedload(Lead.customer),
            joinedload(Touch.lead).joinedload(Lead.assigned_to),
        )
        .order_by(func.coalesce(Touch.finished_at, Touch.due_at).desc(), Touch.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def count_flagged() -> int:
    """How many flagged touches wait for a review."""
    return db.session.scalar(select(func.count(Touch.id)).where(*_awaiting_review())) or 0


def _flagged(touch_id: int) -> Touch:
    touch = db.session.get(Touch, touch_id)
    if touch is None or touch.status not in FLAGGED_STATES:
        raise FlaggedTouchNotFound(f"there is no flagged step #{touch_id}")
    if touch.finished_by_id is not None:
        raise CadenceError("that step was already reviewed")
    return touch


def _take(touch: Touch, viewer: User, note: str, status: str | None = None) -> None:
    """Record the review on the touch, unless someone else reviewed it meanwhile (two people
    pressing "send again" at once must not send it twice)."""
    values = {"finished_by_id": viewer.id, "outcome": f"{touch.outcome} · {note}"[:2000]}
    if status:
        values["status"] = status
    taken = db.session.execute(
        update(Touch)
        .where(Touch.id == touch.id, *_awaiting_review())
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        db.session.rollback()
        raise CadenceError("someone else reviewed that step just now")
    db.session.expire(touch)


def _review(
    touch: Touch,
    viewer: User,
    note: str,
    summary: str,
    decision: str,
    at: datetime,
    status: str | None = None,
) -> None:
    """Take the review (see _take) and say on the lead's timeline what was decided."""
    touch_id, lead = touch.id, touch.lead
    _take(touch, viewer, note, status)
    record_event(
        lead, "touch_reviewed", summary, user=viewer, at=at, touch_id=touch_id, decision=decision
    )


def mark_sent(viewer: User, touch_id: int, now: datetime | None = None) -> Touch:
    """A person checked (the sent mail, the provider's log): the message did go out."""
    touch = _flagged(touch_id)
    if touch.status != "unknown":
        raise CadenceError("only a step whose outcome is unknown can be marked sent")
    what = describe(touch)
    _review(
        touch,
        viewer,
        f"checked by {viewer.name}: it went out",
        f"Checked by {viewer.name}: the {what} did go out",
        "sent",
        now or now_utc(),
        status="sent",
    )
    db.session.commit()
    return touch


def dismiss(viewer: User, touch_id: int, now: datetime | None = None) -> Touch:
    """Reviewed, and left as it is: not sent again."""
    touch = _flagged(touch_id)
    what = describe(touch)
    _review(
        touch,
        viewer,
        f"reviewed by {viewer.name}: not sent again",
        f"Reviewed by {viewer.name}: the {what} is not sent again",
        "dismissed",
        now or now_utc(),
    )
    db.session.commit()
    return touch


def send_again(viewer: User, touch_id: int, now: datetime | None = None) -> Touch:
    """A new touch like the flagged one, due at once (the worker sends it, within consent and
    quiet hours, or makes it a task); the flagged one stays. Returns the new touch."""
    now = now or now_utc()
    touch = _flagged(touch_id)
    lead = touch.lead
    cadence = _check_may_send_again(touch, lead)
    follows_plan = cadence is not None and cadence.state == "active"
    again = Touch(
        lead_id=lead.id,
        # part of the plan while it runs; a one-off once it finished or changed
        plan_id=touch.plan_id if follows_plan and cadence.plan_id == touch.plan_id else None,
        step_id=touch.step_id,
        position=touch.position,
        channel=touch.channel,
        template_key=touch.template_key,
        title=touch.title,
        due_at=now,
        status="scheduled",
        assigned_to_id=None if touch.channel in AUTOMATIC_CHANNELS else lead.assigned_to_id,
    )
    what = describe(touch)
    _review(
        touch,
        viewer,
        f"sent again by {viewer.name} as a new step",
        f"Sent again by {viewer.name}: the {what}, as a new step",
        "sent_again",
        now,
    )
    db.session.add(again)
    db.session.commit()
    return again


def _check_may_send_again(touch: Touch, lead: Lead) -> LeadCadence | None:
    if lead.merged_into_id:
        raise CadenceError(f"the lead was merged into #{lead.merged_into_id}")
    cadence = lead_cadence(lead)
    if cadence is not None and cadence.state == "stopped":
        raise CadenceError(f"the follow-up of this lead was stopped ({cadence.reason})")
    if cadence is not None and cadence.state == "paused" and touch.channel in AUTOMATIC_CHANNELS:
        raise CadenceError("the automatic follow-up of this lead is paused; resume it first")
    return cadence
