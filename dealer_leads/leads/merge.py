"""Merging two leads or two customers field by field (undoing a merge: merge_undo).

A merge keeps a snapshot of both rows and the ids of every row it moved, taken before anything
changes, so that undoing it restores the rows as they were. Every automatic decision (earliest
dates, rows moved, values that follow another choice) is written on the timeline with its rule.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text, update

from dealer_leads.appointments.models import Appointment
from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import (
    Customer,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
    Merge,
)
from dealer_leads.leads.timeline import record_event

# fmt: off
LEAD_MERGE_FIELDS = ("status", "lost_reason", "assigned_to_id", "source", "department",
                     "sales_kind", "comments", "customer_id")
CUSTOMER_MERGE_FIELDS = ("first_name", "last_name", "email", "phone", "street", "city", "region",
                         "postal_code", "country")
LABELS = {
    "status": "Status", "lost_reason": "Lost reason", "assigned_to_id": "Assigned to",
    "source": "Source", "department": "Department", "sales_kind": "New or used",
    "comments": "Comments", "customer_id": "Customer", "first_name": "First name",
    "last_name": "Last name", "email": "E-mail", "phone": "Phone", "street": "Street",
    "city": "City", "region": "Province / state", "postal_code": "Postal code",
    "country": "Country", "received_at": "Received", "first_response_at": "First response",
    "vehicles": "Vehicles", "sources": "Inquiries",
}
# fmt: on
SIDES = ("survivor", "merged")
BOTH = "both"  # comments only: the survivor's, then the merged lead's
LEAD_SNAPSHOT_FIELDS = (
    *LEAD_MERGE_FIELDS,
    "latest_source",
    "received_at",
    "first_response_at",
    "merged_into_id",
)
CUSTOMER_SNAPSHOT_FIELDS = (*CUSTOMER_MERGE_FIELDS, "email_valid", "phone_valid", "merged_into_id")
DATETIME_FIELDS = ("received_at", "first_response_at")
LEAD_ROWS = {"vehicles": LeadVehicle, "sources": LeadSource, "events": LeadEvent}
# Rows that follow the merged lead too, without a relationship on Lead to expire.
LEAD_ROWS_MOVED = {**LEAD_ROWS, "appointments": Appointment}
MAX_COMMENTS = 50_000
UNDO_RULE = "restored the values and rows saved before the merge"


class MergeRefused(ValueError):
    """A merge or undo that cannot be done as asked; the message says why."""


# --- shared helpers (add and flush, never commit) ---------------------------------------------


def require_supervisor(viewer: User | None) -> None:
    """Only the supervisor or an admin merges or undoes a merge."""
    if viewer is None or getattr(viewer, "role", None) not in SUPERVISING_ROLES:
        raise MergeRefused("only the supervisor or an admin can merge or undo a merge")


def _resolve_choices(fields: tuple[str, ...], choices: dict, both: tuple[str, ...] = ()) -> dict:
    """Every field mapped to the side its value comes from; the survivor unless chosen."""
    unknown = sorted(set(choices) - set(fields))
    if unknown:
        raise MergeRefused(f"cannot merge field(s) {', '.join(map(str, unknown))}")
    sides = {}
    for field in fields:
        side = choices.get(field) or "survivor"
        if side not in SIDES and not (side == BOTH and field in both):
            raise MergeRefused(f"{LABELS[field]}: choose the survivor's or the merged value")
        sides[field] = side
    return sides


def load_pair(model: type, survivor_id: int, merged_id: int, noun: str, *, lock: bool) -> tuple:
    """Both rows, locked in id order when about to change them; refused if not mergeable."""
    if survivor_id == merged_id:
        raise MergeRefused(f"a {noun} cannot be merged with itself")
    query = select(model).where(model.id.in_([survivor_id, merged_id])).order_by(model.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    rows = {row.id: row for row in db.session.scalars(query)}
    for row_id in (survivor_id, merged_id):
        if row_id not in rows:
            raise MergeRefused(f"no {noun} #{row_id}")
        if rows[row_id].merged_into_id is not None:
            raise MergeRefused(
                f"{noun} #{row_id} was merged into {noun} #{rows[row_id].merged_into_id} already"
            )
    return rows[survivor_id], rows[merged_id]


def _lock_contact_keys(customer_ids: list[int]) -> None:
    """On PostgreSQL take the intake's advisory locks on these customers' e-mails and phones
    (in the same sorted order), so no inquiry lands on a row while it is being merged."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    rows = db.session.execute(
        select(Customer.email, Customer.phone).where(Customer.id.in_(customer_ids))
    ).all()
    for key in sorted({value for row in rows for value in row if value}):
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _values(row: db.Model, fields: tuple[str, ...]) -> dict:
    """The row's fields as JSON values (datetimes as ISO 8601)."""
    values = {}
    for field in fields:
        value = getattr(row, field)
        values[field] = value.isoformat() if isinstance(value, datetime) else value
    return values


def restore_values(row: db.Model, values: dict) -> None:
    """Set the row's fields back to snapshot values (dates parsed back from text)."""
    for field, value in values.items():
        if field in DATETIME_FIELDS and value is not None:
            value = datetime.fromisoformat(value)
        setattr(row, field, value)


def move_rows(model: type, ids: list[int], column: str, target_id: int) -> None:
    """Point the rows `ids` at `target_id` through `column`, in one UPDATE."""
    if ids:
        db.session.execute(update(model).where(model.id.in_(ids)).values({column: target_id}))


def _ids(model: type, condition) -> list[int]:
    return list(db.session.scalars(select(model.id).where(condition).order_by(model.id)))


def _add_merge(kind: str, viewer: User, pair: tuple, sides: dict, snapshot: dict) -> Merge:
    survivor, merged = pair
    merge = Merge(
        kind=kind,
        survivor_id=survivor.id,
        merged_id=merged.id,
        choices=sides,
        snapshot=snapshot,
        user_id=viewer.id,
        at=now_utc(),
    )
    db.session.add(merge)
    db.session.flush()
    return merge


def taken_labels(sides: dict) -> list[str]:
    """['Status', 'Comments (both)']: the fields not kept from the survivor alone."""
    return [
        LABELS[f] + (" (both)" if side == BOTH else "")
        for f, side in sides.items()
        if side != "survivor"
    ]


def _taken_summary(sides: dict) -> str:
    return ", ".join(label.lower() for label in taken_labels(sides))


# --- leads ------------------------------------------------------------------------------------


def _apply_lead_choices(survivor: Lead, merged: Lead, sides: dict) -> dict:
    """Set the chosen values and the automatic ones; returns the rules that fired."""
    rules = {}
    latest_source = _latest_inquiry_source(survivor, merged)  # before any value changes
    status_reason = (merged if sides["status"] == "merged" else survivor).lost_reason
    if sides["comments"] == BOTH:
        parts = [c.strip() for c in (survivor.comments, merged.comments) if c.strip()]
        survivor.comments = "\n\n".join(dict.fromkeys(parts))[:MAX_COMMENTS]
    for field in LEAD_MERGE_FIELDS:
        if sides[field] == "merged":
            setattr(survivor, field, getattr(merged, field))
    if survivor.status != "lost" and survivor.lost_reason:
        survivor.lost_reason = ""
        rules["lost_reason"] = "cleared: the merged lead is not lost"
    elif survivor.status == "lost" and not survivor.lost_reason and status_reason:
        survivor.lost_reason = status_reason
        rules["lost_reason"] = "a lost lead keeps the reason given with its status"
    survivor.received_at = min(survivor.received_at, merged.received_at)
    rules["received_at"] = "earliest received of the two leads"
    survivor.latest_source = latest_source
    rules["latest_source"] = "source of the latest inquiry of the two leads"
    responses = [t for t in (survivor.first_response_at, merged.first_response_at) if t]
    survivor.first_response_at = min(responses, default=None)
    rules["first_response_at"] = "earliest first response of the two leads"
    db.session.expire(survivor, ["assigned_to", "customer"])
    return rules


def _latest_inquiry_source(survivor: Lead, merged: Lead) -> str:
    """The source of the latest inquiry that credited either lead (last-touch attribution)."""
    # A lead without inquiry rows counts its own arrival and latest source.
    latest = {
        lead.id: (lead.received_at, lead.latest_source or lead.source)
        for lead in (survivor, merged)
    }
    rows = db.session.execute(
        select(LeadSource.lead_id, LeadSource.received_at, LeadSource.source)
        .where(LeadSource.lead_id.in_(list(latest)))
        .order_by(LeadSource.received_at, LeadSource.id)
    )
    for lead_id, received_at, source in rows:  # the last row of each lead wins
        latest[lead_id] = (received_at, source)
    # On a tie the survivor's inquiry counts (max keeps the first of equals).
    return max(latest.values(), key=lambda pair: pair[0])[1]


def merge_leads(viewer: User, survivor_id: int, merged_id: int, choices: dict) -> Merge:
    """Fold one lead into another: chosen values, its vehicles, inquiries and timeline move."""
    require_supervisor(viewer)
    sides = _resolve_choices(LEAD_MERGE_FIELDS, choices, both=("comments",))
    customer_ids = select(Lead.customer_id).where(Lead.id.in_([survivor_id, merged_id]))
    _lock_contact_keys(list(db.session.scalars(customer_ids)))
    survivor, merged = load_pair(Lead, survivor_id, merged_id, "lead", lock=True)
    moved = {
        name: _ids(model, model.lead_id == merged.id) for name, model in LEAD_ROWS_MOVED.items()
    }
    snapshot = {
        "survivor": _values(survivor, LEAD_SNAPSHOT_FIELDS),
        "merged": _values(merged, LEAD_SNAPSHOT_FIELDS),
        "moved": moved,
    }
    rules = _apply_lead_choices(survivor, merged, sides)
    for name, model in LEAD_ROWS_MOVED.items():
        move_rows(model, moved[name], "lead_id", survivor.id)
        rules[name] = f"all {len(moved[name])} moved to the surviving lead"
    db.session.expire(survivor, list(LEAD_ROWS))
    db.session.expire(merged, list(LEAD_ROWS))
    merged.merged_into_id = survivor.id
    merge = _add_merge("lead", viewer, (survivor, merged), sides, snapshot)
    _record_lead_merge(merge, survivor, merged, viewer, rules)
    db.session.commit()
    return merge


def _record_lead_merge(
    merge: Merge, survivor: Lead, merged: Lead, viewer: User, rules: dict
) -> None:
    """A "merge" line on both timelines: who, which fields came from where, the rules."""
    taken = _taken_summary(merge.choices)
    values = f"from #{merged.id}: {taken}; the rest" if taken else "every value"
    lines = {
        survivor: f"Lead #{merged.id} merged into this lead by {viewer.name}",
        merged: f"Merged into lead #{survivor.id} by {viewer.name}",
    }
    for lead, line in lines.items():
        record_event(
            lead,
            "merge",
            f"{line}; {values} from #{survivor.id}",
            user=viewer,
            at=merge.at,
            merge_id=merge.id,
            survivor_id=survivor.id,
            merged_id=merged.id,
            choices=merge.choices,
            rules=rules,
        )


# --- customers --------------------------------------------------------------------------------


def merge_customers(viewer: User, survivor_id: int, merged_id: int, choices: dict) -> Merge:
    """Fold one customer into another: chosen values, and all its leads move."""
    require_supervisor(viewer)
    sides = _resolve_choices(CUSTOMER_MERGE_FIELDS, choices)
    _lock_contact_keys([survivor_id, merged_id])
    survivor, merged = load_pair(Customer, survivor_id, merged_id, "customer", lock=True)
    lead_ids = _ids(Lead, Lead.customer_id == merged.id)
    snapshot = {
        "survivor": _values(survivor, CUSTOMER_SNAPSHOT_FIELDS),
        "merged": _values(merged, CUSTOMER_SNAPSHOT_FIELDS),
        "moved": {"leads": lead_ids},
    }
    rules = {"leads": f"all {len(lead_ids)} moved to the surviving customer"}
    for field in CUSTOMER_MERGE_FIELDS:
        if sides[field] == "merged":
            setattr(survivor, field, getattr(merged, field))
    for field in ("email", "phone"):
        survivor_valid = getattr(merged if sides[field] == "merged" else survivor, f"{field}_valid")
        setattr(survivor, f"{field}_valid", survivor_valid)
        rules[f"{field}_valid"] = f"follows the side the {LABELS[field].lower()} came from"
    move_rows(Lead, lead_ids, "customer_id", survivor.id)
    db.session.expire(survivor, ["leads"])
    db.session.expire(merged, ["leads"])
    merged.merged_into_id = survivor.id
    merge = _add_merge("customer", viewer, (survivor, merged), sides, snapshot)
    _record_customer_merge(merge, lead_ids, viewer, rules)
    db.session.commit()
    return merge


def _record_customer_merge(merge: Merge, moved: list[int], viewer: User, rules: dict) -> None:
    """A "merge" line on every lead of the surviving customer, the moved ones included."""
    taken = _taken_summary(merge.choices)
    values = f"from #{merge.merged_id}: {taken}; the rest" if taken else "every detail"
    summary = (
        f"Customer #{merge.merged_id} merged into customer #{merge.survivor_id} by "
        f"{viewer.name}; {values} from #{merge.survivor_id}"
    )
    leads = db.session.scalars(
        select(Lead).where(Lead.customer_id == merge.survivor_id).order_by(Lead.id)
    )
    for lead in leads:
        record_event(
            lead,
            "merge",
            summary,
            user=viewer,
            at=merge.at,
            merge_id=merge.id,
            survivor_customer_id=merge.survivor_id,
            merged_customer_id=merge.merged_id,
            moved=lead.id in moved,
            choices=merge.choices,
            rules=rules,
        )
