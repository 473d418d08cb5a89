"""Undoing a merge exactly: both rows put back from the snapshot taken before it, every row it
moved moved back, refused while a later merge of the same rows stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.merge import (
    LEAD_ROWS,
    LEAD_ROWS_MOVED,
    UNDO_RULE,
    MergeRefused,
    move_rows,
    require_supervisor,
    restore_values,
)
from dealer_leads.leads.models import Customer, Lead, Merge
from dealer_leads.leads.timeline import record_event


def _undo_lead_merge(merge: Merge, viewer: User, now: datetime) -> None:
    survivor, merged = _locked_rows(Lead, merge)
    restore_values(survivor, merge.snapshot["survivor"])
    restore_values(merged, merge.snapshot["merged"])
    for name, model in LEAD_ROWS_MOVED.items():
        # .get: merges recorded before appointments existed have no list for them.
        move_rows(model, merge.snapshot["moved"].get(name, []), "lead_id", merged.id)
    for lead in (survivor, merged):
        db.session.expire(lead, [*LEAD_ROWS, "assigned_to", "customer"])
    lines = {
        survivor: f"lead #{merged.id} is separate again",
        merged: f"no longer part of lead #{survivor.id}",
    }
    for lead, line in lines.items():
        record_event(
            lead,
            "merge_undone",
            f"Merge #{merge.id} undone by {viewer.name}: {line}",
            user=viewer,
            at=now,
            merge_id=merge.id,
            rule=UNDO_RULE,
            moved_back=merge.snapshot["moved"],
        )


def _undo_customer_merge(merge: Merge, viewer: User, now: datetime) -> None:
    survivor, merged = _locked_rows(Customer, merge)
    restore_values(survivor, merge.snapshot["survivor"])
    restore_values(merged, merge.snapshot["merged"])
    moved = merge.snapshot["moved"]["leads"]
    move_rows(Lead, moved, "customer_id", merged.id)
    db.session.expire(survivor, ["leads"])
    db.session.expire(merged, ["leads"])
    summary = (
        f"Merge #{merge.id} undone by {viewer.name}: customer #{merged.id} is separate "
        f"from customer #{survivor.id} again"
    )
    leads = db.session.scalars(
        select(Lead).where(Lead.customer_id.in_([survivor.id, merged.id])).order_by(Lead.id)
    )
    for lead in leads:
        record_event(
            lead,
            "merge_undone",
            summary,
            user=viewer,
            at=now,
            merge_id=merge.id,
            rule=UNDO_RULE,
            moved_back=lead.id in moved,
        )


def _locked_rows(model: type, merge: Merge) -> tuple:
    query = (
        select(model)
        .where(model.id.in_([merge.survivor_id, merge.merged_id]))
        .order_by(model.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = {row.id: row for row in db.session.scalars(query)}
    survivor, merged = rows.get(merge.survivor_id), rows.get(merge.merged_id)
    if survivor is None or merged is None or merged.merged_into_id != survivor.id:
        raise MergeRefused(f"merge #{merge.id} cannot be undone: its rows have changed since")
    return survivor, merged


def _involved(merge: Merge) -> set[tuple[str, int]]:
    """The rows whose state an undo of this merge would restore."""
    if merge.kind == "lead":
        rows = {("lead", merge.survivor_id), ("lead", merge.merged_id)}
        if merge.choices.get("customer_id") == "merged":
            rows.add(("customer", merge.snapshot["survivor"]["customer_id"]))
        return rows
    rows = {("customer", merge.survivor_id), ("customer", merge.merged_id)}
    return rows | {("lead", lead_id) for lead_id in merge.snapshot["moved"]["leads"]}


def _describe(merge: Merge) -> str:
    return f"merge #{merge.id} ({merge.kind} #{merge.merged_id} into #{merge.survivor_id})"


def _later_merges_in_the_way(merge: Merge) -> list[Merge]:
    mine = _involved(merge)
    later = db.session.scalars(
        select(Merge).where(Merge.id > merge.id, Merge.undone_at.is_(None)).order_by(Merge.id)
    )
    return [other for other in later if _involved(other) & mine]


def undo_merge(viewer: User, merge_id: int) -> Merge:
    """Put both rows back exactly as they were before the merge."""
    require_supervisor(viewer)
    merge = db.session.scalar(
        select(Merge)
        .where(Merge.id == merge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if merge is None:
        raise MergeRefused(f"no merge #{merge_id}")
    if merge.undone_at is not None:
        raise MergeRefused(f"merge #{merge_id} was undone already")
    blocking = _later_merges_in_the_way(merge)
    if blocking:
        names = ", ".join(_describe(other) for other in reversed(blocking))
        raise MergeRefused(
            f"merge #{merge_id} cannot be undone while a later merge of the same "
            f"rows stands; undo {names} first"
        )
    now = now_utc()
    if merge.kind == "lead":
        _undo_lead_merge(merge, viewer, now)
    else:
        _undo_customer_merge(merge, viewer, now)
    merge.undone_at = now
    db.session.commit()
    return merge
