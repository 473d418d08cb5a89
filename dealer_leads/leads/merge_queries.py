"""Read-only queries behind the merge pages: candidates, the merges list, side-by-side rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.leads.merge import (
    CUSTOMER_MERGE_FIELDS,
    LABELS,
    LEAD_MERGE_FIELDS,
    load_pair,
    taken_labels,
)
from dealer_leads.leads.models import OPEN_STATUSES, Customer, Lead, Merge
from dealer_leads.leads.services import LeadNotFound


class CompareRow(NamedTuple):
    """One line of the side-by-side table the supervisor chooses from."""

    field: str
    label: str
    value_a: str
    value_b: str

    @property
    def differs(self) -> bool:
        return self.value_a != self.value_b


@dataclass
class MergeEntry:
    """A merge as the merges page lists it."""

    merge: Merge
    by: str
    taken: list[str]


def list_merge_candidates(lead_id: int, limit: int = 20) -> list[Lead]:
    """Other open leads of this customer, or of customers with the same e-mail or phone."""
    lead = db.session.get(Lead, lead_id)
    if lead is None:
        raise LeadNotFound(f"no lead #{lead_id}")
    customer = lead.customer
    same = [Lead.customer_id == lead.customer_id]
    if customer.email:
        same.append(Customer.email == customer.email)
    if customer.phone:
        same.append(Customer.phone == customer.phone)
    query = (
        select(Lead)
        .join(Customer, Lead.customer_id == Customer.id)
        .where(
            Lead.id != lead.id,
            Lead.merged_into_id.is_(None),
            Lead.status.in_(OPEN_STATUSES),
            Customer.merged_into_id.is_(None),
            or_(*same),
        )
        .options(joinedload(Lead.customer), selectinload(Lead.vehicles))
        .order_by(Lead.received_at.desc(), Lead.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


def list_merges(limit: int = 100) -> list[MergeEntry]:
    """The latest merges first, with who made them and which fields came from the merged row."""
    rows = db.session.execute(
        select(Merge, User.name)
        .outerjoin(User, Merge.user_id == User.id)
        .order_by(Merge.at.desc(), Merge.id.desc())
        .limit(limit)
    ).all()
    return [MergeEntry(merge, name or "", taken_labels(merge.choices)) for merge, name in rows]


def _lead_value(lead: Lead, field: str) -> str:
    if field == "assigned_to_id":
        return lead.assigned_to.name if lead.assigned_to else "(unassigned)"
    if field == "customer_id":
        customer = lead.customer
        contact = " · ".join(p for p in (customer.email, customer.phone) if p)
        return f"#{customer.id} {customer.name}" + (f" ({contact})" if contact else "")
    if field == "vehicles":
        return "; ".join(v.title for v in lead.vehicles)
    if field == "sources":
        return ", ".join(s.source for s in lead.sources)
    value = getattr(lead, field)
    if isinstance(value, datetime):
        return value.astimezone(dealership_zone()).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def compare_leads(a: int, b: int) -> list[CompareRow]:
    """The choosable fields of two mergeable leads side by side, then what moves by rule."""
    lead_a, lead_b = load_pair(Lead, a, b, "lead", lock=False)
    fields = (*LEAD_MERGE_FIELDS, "received_at", "first_response_at", "vehicles", "sources")
    return [
        CompareRow(f, LABELS[f], _lead_value(lead_a, f), _lead_value(lead_b, f)) for f in fields
    ]


def compare_customers(a: int, b: int) -> list[CompareRow]:
    """The choosable fields of two mergeable customers side by side."""
    one, two = load_pair(Customer, a, b, "customer", lock=False)
    return [
        CompareRow(f, LABELS[f], getattr(one, f) or "", getattr(two, f) or "")
        for f in CUSTOMER_MERGE_FIELDS
    ]
