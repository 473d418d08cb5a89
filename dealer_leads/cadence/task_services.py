"""Person tasks and what is read about them: the task lists, a task's e-mail draft, the overdue
count, the missed-steps report and the plan panel of the lead page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.cadence.drafts import PERSON_EMAIL, EmailDraft, email_draft
from dealer_leads.cadence.models import (
    COUNTED_FROM_APPOINTMENT,
    PENDING_TOUCH_STATES,
    STEP_CHANNELS,
    FollowUpPlan,
    Touch,
)
from dealer_leads.cadence.plan_services import OPEN_TASK_STATES, PERSON_CHANNELS
from dealer_leads.cadence.services import get_cadence
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.template_services import list_templates

LATE_AFTER = timedelta(hours=1)
DONE_SHOWN_FOR = timedelta(days=7)


class TaskNotFound(LookupError):
    """No such task, or not one the viewer may see."""


def _end_of_local_day(now: datetime) -> datetime:
    zone = dealership_zone()
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=zone).astimezone(UTC)


def _task_conditions(viewer: User, scope: str, advisor_id: int | None) -> list:
    """Tasks belong to whoever has the lead now (advisors see only their own leads)."""
    conditions = [Touch.channel.in_(PERSON_CHANNELS), Lead.merged_into_id.is_(None)]
    if viewer.role not in SUPERVISING_ROLES or scope == "mine":
        conditions.append(Lead.assigned_to_id == viewer.id)
    elif advisor_id == 0:
        conditions.append(Lead.assigned_to_id.is_(None))
    elif advisor_id:
        conditions.append(Lead.assigned_to_id == advisor_id)
    return conditions


def list_tasks(
    viewer: User,
    *,
    scope: str = "mine",
    include_done: bool = False,
    advisor_id: int | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[Touch]:
    """Person tasks waiting (due by the end of today, overdue first), then, with include_done,
    those done in the last 7 days. Advisors get their own whatever `scope` says; supervisors
    `scope="all"`, optionally one advisor's (advisor_id 0: unassigned leads). One query."""
    now = now or now_utc()
    waiting = Touch.status.in_(OPEN_TASK_STATES) & (Touch.due_at < _end_of_local_day(now))
    wanted = or_(waiting, (Touch.status == "done") & (Touch.finished_at >= now - DONE_SHOWN_FOR))
    query = (
        select(Touch)
        .join(Touch.lead)
        .where(*_task_conditions(viewer, scope, advisor_id), wanted if include_done else waiting)
        .options(
            joinedload(Touch.lead).joinedload(Lead.customer),
            joinedload(Touch.lead).joinedload(Lead.assigned_to),
        )
        .order_by(case((Touch.status == "done", 1), else_=0), Touch.due_at, Touch.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def task_drafts(tasks: list[Touch]) -> dict[int, EmailDraft]:
    """{touch id: draft} for the e-mail tasks that carry one, addressed to their customer."""
    drafts = {}
    for task in tasks:
        if task.channel == PERSON_EMAIL and task.outcome:
            draft = email_draft(task, task.lead.customer.email or "")
            if draft is not None:
                drafts[task.id] = draft
    return drafts


def get_task(viewer: User, touch_id: int) -> Touch:
    """A person task on a lead the viewer may see (TaskNotFound otherwise)."""
    touch = db.session.scalar(
        select(Touch)
        .join(Touch.lead)
        .where(Touch.id == touch_id, *_task_conditions(viewer, "all", None))
    )
    if touch is None:
        raise TaskNotFound(f"there is no task #{touch_id} you can see")
    return touch


def count_overdue_tasks(viewer: User, now: datetime | None = None) -> int:
    """Person tasks past their due time and not done: the advisor's own, or everyone's."""
    query = (
        select(func.count(Touch.id))
        .join(Touch.lead)
        .where(
            *_task_conditions(viewer, "all", None),
            Touch.status.in_(OPEN_TASK_STATES),
            Touch.due_at < (now or now_utc()),
        )
    )
    return db.session.scalar(query) or 0


def get_lead_touch(lead_id: int, touch_id: int) -> Touch | None:
    """The touch if it belongs to this lead."""
    touch = db.session.get(Touch, touch_id)
    return touch if touch is not None and touch.lead_id == lead_id else None


# --- missed steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MissedRow:
    """One local day and advisor: person tasks due, still open past due, and done late."""

    day: date
    advisor: str
    due: int
    missed: int
    late: int


def _local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = dealership_zone()
    first = datetime.combine(start, time.min, tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return first.astimezone(UTC), after.astimezone(UTC)


def missed_steps(start: date, end: date, *, now: datetime | None = None) -> list[MissedRow]:
    """Person tasks due from `start` to `end` (local days, inclusive) by day and advisor.

    Missed: still not done after its due time. Late: done more than an hour after it. Skipped
    and cancelled tasks are not counted. The advisor is the task's assignee, else the lead's."""
    now, zone = now or now_utc(), dealership_zone()
    first, after = _local_bounds(start, end)
    owner = func.coalesce(Touch.assigned_to_id, Lead.assigned_to_id)
    rows = db.session.execute(
        select(Touch.due_at, Touch.status, Touch.finished_at, User.name)
        .join(Lead, Lead.id == Touch.lead_id)
        .outerjoin(User, User.id == owner)
        .where(
            Touch.channel.in_(PERSON_CHANNELS),
            Touch.due_at >= first,
            Touch.due_at < after,
            Touch.status.not_in(("skipped", "cancelled")),
        )
    )
    due, missed, late = Counter(), Counter(), Counter()
    for due_at, status, finished_at, name in rows:
        group = (due_at.astimezone(zone).date(), name or "Unassigned")
        due[group] += 1
        missed[group] += status in OPEN_TASK_STATES and due_at < now
        late[group] += (
            status == "done" and finished_at is not None and (finished_at > due_at + LATE_AFTER)
        )
    return [MissedRow(*key, due[key], missed[key], late[key]) for key in sorted(due)]


# --- the lead page --------------------------------------------------------------------------


def lead_panel_context(lead_id: int) -> dict[str, Any]:
    """What cadence/_lead_panel.html needs besides `lead`: the lead's plan state, its touches,
    the next one, the plans it may switch to, and labels for channels and templates."""
    cadence, touches = get_cadence(lead_id)
    pending = [t for t in touches if t.status in PENDING_TOUCH_STATES]
    return {
        "cadence": cadence,
        "touches": touches,
        "drafts": task_drafts(touches),
        "next_touch": min(pending, key=lambda t: t.due_at, default=None),
        "plans": list(
            db.session.scalars(
                select(FollowUpPlan)
                .where(FollowUpPlan.active.is_(True))
                .order_by(FollowUpPlan.name)
            )
        ),
        "step_channels": STEP_CHANNELS,
        "template_names": {t.key: t.name for t in list_templates()},
        "pending_states": PENDING_TOUCH_STATES,
        # their touches count from the appointment, not from the lead's arrival
        "appointment_plan_ids": set(
            db.session.scalars(
                select(FollowUpPlan.id).where(FollowUpPlan.key.in_(COUNTED_FROM_APPOINTMENT))
            )
        ),
    }
