"""The supervisor's queue: the leads a viewer may see, filtered, searched and paged, with their
overdue tasks, and the counts and sources shown beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.plan_services import OPEN_TASK_STATES, PERSON_CHANNELS
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import LEAD_STATUSES, OPEN_STATUSES, Customer, Lead, LeadVehicle
from dealer_leads.leads.normalize import normalize_vin

# The queue counts its leads only this far (and further only to page past it): an exact count
# would read every lead of a large dealership on each load.
COUNT_CAP = 1000


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


def visible_to(viewer: User):
    """Advisors see their own leads only; the supervisor and admin see all."""
    if viewer.role in SUPERVISING_ROLES:
        return True
    if viewer.role == "advisor":
        return Lead.assigned_to_id == viewer.id
    return False


def _filter_conditions(filters: QueueFilters, viewer: User) -> list:
    conditions = [Lead.merged_into_id.is_(None), visible_to(viewer)]
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
        .where(Lead.merged_into_id.is_(None), Lead.status.in_(OPEN_STATUSES), visible_to(viewer))
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
