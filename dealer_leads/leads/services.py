"""Triage: the queue, the lead page's actions, manual entry and the needs-review list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.auth.models import User
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.plan_services import OPEN_TASK_STATES, PERSON_CHANNELS
from dealer_leads.cadence.services import on_status_change, pause_automatic
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.landing import IntakeResult
from dealer_leads.leads.models import (
    LEAD_STATUSES,
    OPEN_STATUSES,
    Customer,
    InboundPayload,
    Lead,
    LeadVehicle,
)
from dealer_leads.leads.normalize import (
    normalize_vin,
)
from dealer_leads.leads.timeline import record_event, set_assignee
from dealer_leads.messaging.consent import (
    record_implied_consent,
)

CALL_OUTCOMES = {
    "reached": "Reached the customer",
    "voicemail": "Left a voicemail",
    "no_answer": "No answer",
    "busy": "Line busy",
    "wrong_number": "Wrong number",
}
SUPERVISING_ROLES = ("supervisor", "admin")
# The queue counts its leads only this far (and further only to page past it): an exact count
# would read every lead of a large dealership on each load.
COUNT_CAP = 1000


class LeadNotFound(LookupError):
    """No such lead, or not one the viewer may see (the two are not told apart)."""


class InvalidAction(ValueError):
    """A triage action that cannot be done as asked; the message says why."""


class InvalidContact(InvalidAction):
    """A corrected e-mail or phone that cannot be used; `fields` names each problem."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@dataclass
class QueueFilters:
    """What the supervisor narrowed the queue to."""

    status: str = ""
    source: str = ""
    advisor_id: int | None = None
    unassigned: bool = False
    department: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    search: str = ""


@dataclass
class QueuePage:
    """One page of the queue. `total` is exact when `total_exact`; otherwise it is a lower
    bound (the count stopped there), and `pages` the pages known to exist, so the pager can
    offer the next page as long as leads come back."""

    items: list[Lead]
    total: int
    page: int
    per_page: int
    awaiting: int = 0
    args: dict = field(default_factory=dict)
    total_exact: bool = True
    overdue_ids: set[int] = field(default_factory=set)  # leads with a person task past due

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def total_label(self) -> str:
        """'1,234', or '1,000+' when the count stopped before the end."""
        return f"{self.total:,}" if self.total_exact else f"{COUNT_CAP:,}+"

    def url_args(self, page: int) -> str:
        return urlencode({**{k: v for k, v in self.args.items() if v}, "page": page})


def _visible_to(viewer: User):
    """Advisors see their own leads only; the supervisor and admin see all."""
    if viewer.role in SUPERVISING_ROLES:
        return True
    if viewer.role == "advisor":
        return Lead.assigned_to_id == viewer.id
    return False


def _filter_conditions(filters: QueueFilters, viewer: User) -> list:
    conditions = [Lead.merged_into_id.is_(None), _visible_to(viewer)]
    if filters.status in LEAD_STATUSES:
        conditions.append(Lead.status == filters.status)
    if filters.source:
        conditions.append(Lead.source == filters.source)
    if filters.unassigned:
        conditions.append(Lead.assigned_to_id.is_(None))
    elif filters.advisor_id:
        conditions.append(Lead.assigned_to_id == filters.advisor_id)
    if filters.department:
        conditions.append(Lead.department == filters.department)
    if filters.received_from:
        conditions.append(Lead.received_at >= filters.received_from)
    if filters.received_to:
        conditions.append(Lead.received_at < filters.received_to)
    if filters.search.strip():
        conditions.append(_search_condition(filters.search.strip()))
    return conditions


def _search_condition(term: str):
    """Name, e-mail, phone digits, VIN or stock number."""
    lowered = term.lower()
    digits = "".join(ch for ch in term if ch.isdigit())
    customer_match = [
        func.lower(Customer.email) == lowered,
        func.lower(Customer.first_name + " " + Customer.last_name).like(f"%{lowered}%"),
        func.lower(Customer.last_name).like(f"{lowered}%"),
    ]
    if "@" in term:
        customer_match.append(func.lower(Customer.email).like(f"%{lowered}%"))
    if len(digits) >= 4:
        customer_match.append(Customer.phone.like(f"%{digits}%"))
    vehicle_match = [func.upper(LeadVehicle.stock) == term.upper()]
    if len(term) >= 6:
        vehicle_match.append(LeadVehicle.vin.like(f"%{normalize_vin(term)}%"))
    by_customer = exists().where(Customer.id == Lead.customer_id, or_(*customer_match))
    by_vehicle = exists().where(LeadVehicle.lead_id == Lead.id, or_(*vehicle_match))
    return or_(by_customer, by_vehicle)


_AWAITING = and_(Lead.first_response_at.is_(None), Lead.status.in_(OPEN_STATUSES))


def list_queue(viewer: User, filters: QueueFilters, page: int = 1, per_page: int = 50) -> QueuePage:
    """Leads still waiting for a first human response (oldest first), then the rest (newest
    first). Two index-friendly queries instead of one sort over every lead.

    The total is counted up to `COUNT_CAP` leads (or to just past this page, when paging
    further): beyond that it is shown as "1,000+", and the next page is offered while there are
    leads after this one."""
    page, per_page = max(1, page), max(1, min(per_page, 200))
    conditions = _filter_conditions(filters, viewer)
    awaiting = db.session.scalar(select(func.count(Lead.id)).where(*conditions, _AWAITING))
    offset = (page - 1) * per_page
    limit = max(COUNT_CAP, offset + per_page) + 1
    counted = select(Lead.id).where(*conditions).limit(limit).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted))
    ids = []
    if offset < awaiting:
        ids += db.session.scalars(
            select(Lead.id)
            .where(*conditions, _AWAITING)
            .order_by(Lead.received_at.asc(), Lead.id)
            .offset(offset)
            .limit(per_page)
        ).all()
    if len(ids) < per_page:
        rest_offset = max(0, offset - awaiting)
        ids += db.session.scalars(
            select(Lead.id)
            .where(*conditions, ~_AWAITING)
            .order_by(Lead.received_at.desc(), Lead.id.desc())
            .offset(rest_offset)
            .limit(per_page - len(ids))
        ).all()
    return QueuePage(
        _load_leads(ids),
        total,
        page,
        per_page,
        awaiting,
        total_exact=total < limit,
        overdue_ids=_with_overdue_tasks(ids, now_utc()),
    )


def _with_overdue_tasks(ids: list[int], now: datetime) -> set[int]:
    """Which of these leads have a person task (call, e-mail to write) open past its due
    time: one query for the whole page, served by the touches' (lead_id, due_at) index."""
    if not ids:
        return set()
    query = (
        select(Touch.lead_id)
        .where(
            Touch.lead_id.in_(ids),
            Touch.due_at < now,
            Touch.channel.in_(PERSON_CHANNELS),
            Touch.status.in_(OPEN_TASK_STATES),
        )
        .distinct()
    )
    return set(db.session.scalars(query))


def _load_leads(ids: list[int]) -> list[Lead]:
    """The leads with what the queue shows, in a fixed number of queries, in `ids` order."""
    if not ids:
        return []
    rows = (
        db.session.scalars(
            select(Lead)
            .where(Lead.id.in_(ids))
            .options(
                joinedload(Lead.customer), joinedload(Lead.assigned_to), selectinload(Lead.vehicles)
            )
        )
        .unique()
        .all()
    )
    by_id = {lead.id: lead for lead in rows}
    return [by_id[i] for i in ids if i in by_id]


def count_open_by_department(viewer: User) -> dict[str, int]:
    """Open leads per department: service, parts and finance wait in queues of their own.

    Grouped by status too, so that `ix_leads_open_by_department` (status, department) serves
    the count; the statuses are summed here."""
    rows = db.session.execute(
        select(Lead.department, func.count())
        .where(Lead.merged_into_id.is_(None), Lead.status.in_(OPEN_STATUSES), _visible_to(viewer))
        .group_by(Lead.status, Lead.department)
    )
    counts: dict[str, int] = {}
    for department, count in rows:
        counts[department] = counts.get(department, 0) + count
    return counts


# The distinct sources, one index look-up each (a "loose index scan" over ix_leads_source):
# each step finds the next source after the previous one. A plain DISTINCT reads every lead on
# PostgreSQL, which has no skip scan.
_SOURCES = text(
    """
    WITH RECURSIVE found(source) AS (
        SELECT min(source) FROM leads
        UNION ALL
        SELECT (SELECT min(source) FROM leads WHERE source > found.source)
        FROM found WHERE found.source IS NOT NULL
    )
    SELECT source FROM found WHERE source IS NOT NULL
    """
)


def list_sources() -> list[str]:
    """Every source that credited a lead, in order."""
    return list(db.session.scalars(_SOURCES))


def list_advisors(active_only: bool = True) -> list[User]:
    query = select(User).where(User.role == "advisor").order_by(User.name)
    if active_only:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query))


def get_lead(viewer: User, lead_id: int) -> Lead:
    """The lead with its timeline, if the viewer may see it."""
    lead = db.session.scalar(
        select(Lead)
        .where(Lead.id == lead_id, _visible_to(viewer))
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
