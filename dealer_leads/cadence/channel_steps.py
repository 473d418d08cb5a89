"""One channel's steps of a lead's plan, cancelled and brought back: the e-mails stop when an
address bounces (and come back when it is corrected), the texts when the customer opts out.
Helpers that add; their callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from dealer_leads.cadence.models import PENDING_TOUCH_STATES, Touch
from dealer_leads.cadence.services import lead_cadence, move_later
from dealer_leads.extensions import db
from dealer_leads.leads.models import OPEN_STATUSES, Customer, Lead
from dealer_leads.leads.timeline import record_event

BOUNCE_OUTCOME = "the e-mail address bounced"  # of the e-mail steps a bounce cancelled


def cancel_pending(lead: Lead, channel: str, now: datetime, outcome: str) -> int:
    """Cancel the lead's touches of one channel still to come; the others go on."""
    query = (
        update(Touch)
        .where(
            Touch.lead_id == lead.id,
            Touch.channel == channel,
            Touch.status.in_(PENDING_TOUCH_STATES),
        )
        .values(status="cancelled", finished_at=now, outcome=outcome)
    )
    return db.session.execute(query).rowcount


def restore_cancelled(lead: Lead, channel: str, outcome: str, now: datetime) -> int:
    """Bring back the steps of `channel` that `cancel_pending` cancelled with `outcome` on the
    lead's current plan, each as long after now as it was due after its cancelling (as `resume`
    moves held steps); returns how many. A plan that finished because of that cancelling is
    active again; a stopped one, or one finished otherwise, is left alone (adds)."""
    cadence = lead_cadence(lead)
    if cadence is None or cadence.state == "stopped":
        return 0
    touches = db.session.scalars(
        select(Touch).where(
            Touch.lead_id == lead.id,
            Touch.plan_id == cadence.plan_id,
            Touch.channel == channel,
            Touch.status == "cancelled",
            Touch.outcome == outcome,
        )
    ).all()
    cancelled_at = max((touch.finished_at for touch in touches), default=None)
    if cancelled_at is None or (cadence.state == "finished" and cadence.updated_at < cancelled_at):
        return 0
    move_later(touches, now - cancelled_at, now)
    for touch in touches:
        touch.status = "held" if cadence.state == "paused" else "scheduled"
        touch.finished_at, touch.outcome = None, ""
    if cadence.state == "finished":
        cadence.state, cadence.reason, cadence.updated_at = "active", "", now
    return len(touches)


def restore_bounced_emails(customer: Customer, now: datetime, why: str) -> int:
    """Bring back the e-mail steps a bounce cancelled on the customer's open leads, now that
    the customer has a working address (`why`: how it came); a timeline line on each lead they
    came back on. Returns how many."""
    restored = 0
    for lead in customer.leads:
        if lead.status not in OPEN_STATUSES or lead.merged_into_id is not None:
            continue
        count = restore_cancelled(lead, "auto_email", BOUNCE_OUTCOME, now)
        if count:
            summary = f"{count} follow-up e-mail(s) the bounce cancelled are back on: {why}"
            record_event(lead, "emails_restored", summary, at=now, restored=count)
        restored += count
    return restored
