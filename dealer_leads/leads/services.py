"""Triage: the lead page's actions, manual entry and the needs-review list (the queue itself is
in `queue`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.cadence.services import on_status_change, pause_automatic
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.landing import IntakeResult
from dealer_leads.leads.models import LEAD_STATUSES, InboundPayload, Lead
from dealer_leads.leads.queue import visible_to
from dealer_leads.leads.timeline import record_event, set_assignee
from dealer_leads.messaging.consent import record_implied_consent

CALL_OUTCOMES = {
    "reached": "Reached the customer",
    "voicemail": "Left a voicemail",
    "no_answer": "No answer",
    "busy": "Line busy",
    "wrong_number": "Wrong number",
}


class LeadNotFound(LookupError):
    """No such lead, or not one the viewer may see (the two are not told apart)."""


class InvalidAction(ValueError):
    """A triage action that cannot be done as asked; the message says why."""


class InvalidContact(InvalidAction):
    """A corrected e-mail or phone that cannot be used; `fields` names each problem."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


def list_advisors(active_only: bool = True) -> list[User]:
    query = select(User).where(User.role == "advisor").order_by(User.name)
    if active_only:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query))


def get_lead(viewer: User, lead_id: int) -> Lead:
    """The lead with its timeline, if the viewer may see it."""
    lead = db.session.scalar(
        select(Lead)
        .where(Lead.id == lead_id, visible_to(viewer))
        .options(
            joinedload(Lead.customer),
            selectinload(Lead.vehicles),
            selectinload(Lead.events),
            selectinload(Lead.sources),
        )
    )
    if lead is None:
        raise LeadNotFound(f"no lead #{lead_id}")
    return lead


def lead_for_update(viewer: User, lead_id: int) -> Lead:
    lead = get_lead(viewer, lead_id)
    if lead.merged_into_id:
        raise InvalidAction(f"lead #{lead_id} was merged into lead #{lead.merged_into_id}")
    return lead


def _advisor(advisor_id: int | None) -> User | None:
    if advisor_id is None:
        return None
    advisor = db.session.get(User, advisor_id)
    if advisor is None or advisor.role != "advisor" or not advisor.active:
        raise InvalidAction("choose an active advisor")
    return advisor


def assign_lead(viewer: User, lead_id: int, advisor_id: int | None) -> Lead:
    """Give the lead to an advisor (or nobody); recorded on the timeline."""
    if viewer.role not in SUPERVISING_ROLES:
        raise InvalidAction("only the supervisor assigns leads")
    lead = lead_for_update(viewer, lead_id)
    set_assignee(lead, _advisor(advisor_id), by=viewer, rule="assigned by hand")
    db.session.commit()
    return lead


def bulk_assign(viewer: User, lead_ids: list[int], advisor_id: int | None) -> int:
    """Assign many leads at once; returns how many changed hands."""
    if viewer.role not in SUPERVISING_ROLES:
        raise InvalidAction("only the supervisor assigns leads")
    if not lead_ids:
        raise InvalidAction("select at least one lead")
    advisor = _advisor(advisor_id)
    leads = db.session.scalars(
        select(Lead).where(Lead.id.in_(lead_ids[:500]), Lead.merged_into_id.is_(None))
    ).all()
    changed = sum(1 for lead in leads if lead.assigned_to_id != (advisor.id if advisor else None))
    for lead in leads:
        set_assignee(lead, advisor, by=viewer, rule="bulk assignment")
    db.session.commit()
    return changed


def mark_responded(lead: Lead, at: datetime) -> None:
    """Stop the response clock at the first human contact (automatic replies do not count)."""
    if lead.first_response_at is None:
        lead.first_response_at = at


def log_call(
    viewer: User, lead_id: int, outcome: str, notes: str = "", now: datetime | None = None
) -> Lead:
    """Record a call; the first call stops the response clock, reaching them moves to contacted."""
    if outcome not in CALL_OUTCOMES:
        raise InvalidAction(f"unknown call outcome {outcome!r}")
    now = now or now_utc()
    lead = lead_for_update(viewer, lead_id)
    mark_responded(lead, now)
    summary = f"Call: {CALL_OUTCOMES[outcome]}" + (f" — {notes.strip()}" if notes.strip() else "")
    record_event(lead, "call", summary, user=viewer, at=now, outcome=outcome, notes=notes[:2000])
    if outcome == "reached":
        # A conversation: the automatic e-mails and texts wait until a person resumes them.
        pause_automatic(lead, "customer reached by phone", now, by=viewer, alert=False)
        if lead.status == "new":
            _set_status(lead, "contacted", viewer, now, "call reached the customer")
    db.session.commit()
    return lead


def add_note(viewer: User, lead_id: int, text: str) -> Lead:
    """A free-text note on the timeline."""
    text = text.strip()
    if not text:
        raise InvalidAction("the note is empty")
    lead = lead_for_update(viewer, lead_id)
    record_event(lead, "note", text[:500], user=viewer, text=text[:5000])
    db.session.commit()
    return lead


def _set_status(lead: Lead, status: str, viewer: User, at: datetime, reason: str = "") -> None:
    previous = lead.status
    lead.status = status
    lead.lost_reason = reason if status == "lost" else ""
    summary = f"Status {previous} → {status}" + (f" ({reason})" if reason else "")
    record_event(
        lead, "status", summary, user=viewer, at=at, old=previous, new=status, reason=reason
    )
    if status == "sold":
        record_implied_consent(lead.customer, "purchase", at, source=f"purchase, lead #{lead.id}")
    on_status_change(lead, previous, status, at, viewer)


def change_status(
    viewer: User, lead_id: int, status: str, reason: str = "", now: datetime | None = None
) -> Lead:
    """Move the lead along new → contacted → … → sold, or to lost with a reason."""
    if status not in LEAD_STATUSES:
        raise InvalidAction(f"unknown status {status!r}")
    reason = reason.strip()[:200]
    if status == "lost" and not reason:
        raise InvalidAction("say why the lead was lost")
    lead = lead_for_update(viewer, lead_id)
    if lead.status == status:
        raise InvalidAction(f"the lead is {status} already")
    now = now or now_utc()
    if status in ("contacted", "engaged", "appointment", "shown", "sold"):
        mark_responded(lead, now)  # moved on by a person: someone has been in touch
    _set_status(lead, status, viewer, now, reason)
    db.session.commit()
    return lead


def create_manual_lead(viewer: User, form_body: bytes, source_ip: str = "") -> list[IntakeResult]:
    """A lead typed in by staff (a phone call, a walk-in, a chat) through the same intake."""
    inbound = store_inbound(
        "manual", form_body, content_type="application/x-www-form-urlencoded", source_ip=source_ip
    )
    return process_inbound(inbound.id, by=viewer)


STUCK_AFTER = timedelta(minutes=5)


def _needs_review(now: datetime):
    """Unreadable payloads, and any left half-way (stored, never processed) by a crash."""
    stuck = and_(
        InboundPayload.status == "received", InboundPayload.received_at < now - STUCK_AFTER
    )
    return or_(InboundPayload.status == "failed", stuck)


def list_needs_review(limit: int = 200, now: datetime | None = None) -> list[InboundPayload]:
    query = (
        select(InboundPayload)
        .where(_needs_review(now or now_utc()))
        .order_by(InboundPayload.received_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def count_needs_review(now: datetime | None = None) -> int:
    return db.session.scalar(select(func.count()).where(_needs_review(now or now_utc())))


def get_inbound(inbound_id: int) -> InboundPayload:
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is None:
        raise LeadNotFound(f"no inbound payload #{inbound_id}")
    return inbound


def discard_inbound(viewer: User, inbound_id: int) -> InboundPayload:
    """Set a payload aside as not a lead; it stays stored."""
    inbound = get_inbound(inbound_id)
    if inbound.status not in ("failed", "received"):
        raise InvalidAction(f"payload #{inbound_id} is {inbound.status}, not waiting for review")
    inbound.status = "discarded"
    inbound.error = f"{inbound.error}\nDiscarded by {viewer.name}.".strip()
    db.session.commit()
    return inbound
