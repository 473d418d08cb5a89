"""The dashboard's reads: slim rows for the leads of a date range and what happened to them.

Each read is one statement driven by an index (leads by received_at, appointments and touches
by lead_id or due time, status lines by kind and time), so the page stays flat as history
grows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain

from sqlalchemy import Float, and_, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from dealer_leads.appointments.models import Appointment
from dealer_leads.auth.models import User
from dealer_leads.cadence import plan_services, task_services
from dealer_leads.cadence.models import Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead, LeadEvent

# Person tasks that are a contact with the customer: done by a person, they answer the lead.
RESPONSE_TASKS = ("call_task", "email_task")
REPORT_DEPARTMENT = "sales"


class epoch(FunctionElement):
    """A timestamp column as seconds since 1970 (UTC), worked out by the database: turning
    thousands of stored timestamps into datetimes one by one in Python costs more than the
    query itself."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element, compiler, **kw) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


def to_ms(seconds: float | None) -> float | None:
    """Epoch seconds rounded to the millisecond, which absorbs the floating-point error of
    SQLite's julian days (round() is slower than this)."""
    return None if seconds is None else int(seconds * 1000 + 0.5) / 1000


def from_epoch(seconds: float | None) -> datetime | None:
    """The aware UTC datetime of epoch seconds."""
    return None if seconds is None else datetime.fromtimestamp(to_ms(seconds), UTC)


@dataclass(frozen=True)
class LeadRow:
    """One sales lead of the range, as the reports need it (times as epoch seconds)."""

    id: int
    source: str
    latest_source: str
    advisor_id: int | None
    status: str
    received_at: float
    first_response_at: float | None


def _in_range(first: datetime, after: datetime):
    return (
        Lead.received_at >= first,
        Lead.received_at < after,
        Lead.merged_into_id.is_(None),
        Lead.department == REPORT_DEPARTMENT,
    )


def _core(statement) -> list[tuple]:
    """Run a column select as Core on the session's connection, fetching all rows at once:
    plain tuples, without the ORM result machinery (a third of the time for thousands)."""
    return db.session.connection().execute(statement).all()


def list_range_leads(first: datetime, after: datetime) -> list[LeadRow]:
    """Sales leads received in [first, after), merged ones left out (their survivor counts)."""
    rows = _core(
        select(
            Lead.id,
            Lead.source,
            Lead.latest_source,
            Lead.assigned_to_id,
            Lead.status,
            epoch(Lead.received_at),
            epoch(Lead.first_response_at),
        ).where(*_in_range(first, after))
    )
    return [LeadRow(*row[:5], to_ms(row[5]), to_ms(row[6])) for row in rows]


def merged_into(survivor_ids: set[int]) -> dict[int, int]:
    """{merged lead id: its final survivor} for merged leads whose survivor is in the set."""
    pairs = dict(
        db.session.execute(
            select(Lead.id, Lead.merged_into_id).where(Lead.merged_into_id.is_not(None))
        ).all()
    )
    final = {}
    for merged in pairs:
        survivor, hops = pairs[merged], 0
        while survivor in pairs and hops < 50:  # a merged survivor: follow the chain
            survivor, hops = pairs[survivor], hops + 1
        if survivor in survivor_ids:
            final[merged] = survivor
    return final


def _range_rows(base, lead_column, first: datetime, after: datetime) -> list[tuple]:
    """Rows of `base` (lead id first) for the range's leads."""
    return _core(base.join(Lead, Lead.id == lead_column).where(*_in_range(first, after)))


def _merged_rows(base, lead_column, merged: dict[int, int]) -> Iterable[tuple]:
    """Rows of `base` (lead id first) for leads merged into the range's leads, the merged
    lead's id replaced by its survivor's."""
    ids = list(merged)
    for start in range(0, len(ids), 500):
        for row in _core(base.where(lead_column.in_(ids[start : start + 500]))):
            yield (merged[row[0]], *row[1:])


def task_responses(first: datetime, after: datetime, merged: dict[int, int]) -> dict[int, float]:
    """{lead id: earliest call or e-mail task a person marked done (epoch seconds)} for the
    range's leads."""
    base = select(Touch.lead_id, epoch(Touch.finished_at)).where(
        Touch.channel.in_(RESPONSE_TASKS),
        Touch.status == "done",
        Touch.finished_by_id.is_not(None),
        Touch.finished_at.is_not(None),
    )
    # A plan's steps fall due at or after the lead's arrival: the bound on due_at lets
    # PostgreSQL read the range's done tasks by index instead of every touch.
    in_range = base.where(Touch.due_at >= first)
    earliest: dict[int, float] = {}
    rows = chain(
        _range_rows(in_range, Touch.lead_id, first, after),
        _merged_rows(base, Touch.lead_id, merged),
    )
    for lead_id, finished_at in rows:
        if lead_id not in earliest or finished_at < earliest[lead_id]:
            earliest[lead_id] = to_ms(finished_at)
    return earliest


def appointment_statuses(
    first: datetime, after: datetime, merged: dict[int, int]
) -> dict[int, list[str]]:
    """{lead id: the statuses of its appointments} for the range's leads."""
    base = select(Appointment.lead_id, Appointment.status)
    statuses: dict[int, list[str]] = defaultdict(list)
    rows = chain(
        _range_rows(base, Appointment.lead_id, first, after),
        _merged_rows(base, Appointment.lead_id, merged),
    )
    for lead_id, status in rows:
        statuses[lead_id].append(status)
    return statuses


def advisor_names() -> dict[int, str]:
    """{user id: name} for every user: whoever owns a lead or a task is named."""
    return dict(db.session.execute(select(User.id, User.name)).all())


def list_advisors() -> list[tuple[int, str]]:
    """Active advisors, by name: who objectives can be set for."""
    rows = db.session.execute(
        select(User.id, User.name)
        .where(User.role == "advisor", User.active.is_(True))
        .order_by(User.name)
    )
    return [(user_id, name) for user_id, name in rows]


# --- a month's progress ----------------------------------------------------------------------


def appointments_set(first: datetime, after: datetime) -> list[int]:
    """The advisor of each appointment booked in [first, after), cancelled ones included."""
    return list(
        db.session.scalars(
            select(Appointment.advisor_id).where(
                Appointment.created_at >= first, Appointment.created_at < after
            )
        )
    )


def appointments_shown(first: datetime, after: datetime) -> list[int]:
    """The advisor of each appointment starting in [first, after) marked shown or sold."""
    return list(
        db.session.scalars(
            select(Appointment.advisor_id).where(
                Appointment.starts_at >= first,
                Appointment.starts_at < after,
                Appointment.status.in_(("shown", "sold")),
            )
        )
    )


def sales(first: datetime, after: datetime) -> dict[int, int | None]:
    """{lead id: its advisor} for leads sold in [first, after): a status line to "sold" then,
    or an appointment starting then marked sold. Each lead once (a merged lead as its survivor)."""
    sold: dict[int, int | None] = {}
    status_lines = db.session.execute(
        select(LeadEvent.lead_id, Lead.assigned_to_id)
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(
            LeadEvent.kind == "status",
            LeadEvent.at >= first,
            LeadEvent.at < after,
            LeadEvent.data["new"].as_string() == "sold",
            Lead.merged_into_id.is_(None),
        )
    )
    for lead_id, advisor_id in status_lines:
        sold[lead_id] = advisor_id
    booked = db.session.execute(
        select(
            func.coalesce(Lead.merged_into_id, Lead.id),
            func.coalesce(Lead.assigned_to_id, Appointment.advisor_id),
        )
        .select_from(Appointment)
        .join(Lead, Lead.id == Appointment.lead_id)
        .where(
            Appointment.starts_at >= first,
            Appointment.starts_at < after,
            Appointment.status == "sold",
        )
    )
    for lead_id, advisor_id in booked:
        sold.setdefault(lead_id, advisor_id)
    return sold


# --- follow-up discipline --------------------------------------------------------------------


def _day_index(column, day_starts: list[datetime], low: int, high: int):
    """The index of the day in [low, high) that `column` falls in, as nested CASEs that halve
    the days at each level: a few comparisons a row, not one per day of the range."""
    if high - low == 1:
        return literal(low)
    middle = (low + high) // 2
    return case(
        (column < day_starts[middle], _day_index(column, day_starts, low, middle)),
        else_=_day_index(column, day_starts, middle, high),
    )


def missed_steps(
    day_starts: list[datetime], days: list, now: datetime, names: dict[int, str]
) -> list[task_services.MissedRow]:
    """The missed-steps report (cadence.task_services.missed_steps: same tasks, same rules),
    counted by the database: `day_starts` are the UTC starts of the local days in `days`
    plus the end of the last one, so a CASE gives each task its local day on any engine.
    `names` are the users' names by id (advisor_names())."""
    day = _day_index(Touch.due_at, day_starts, 0, len(days))
    missed = and_(Touch.status.in_(plan_services.OPEN_TASK_STATES), Touch.due_at < now)
    late = and_(
        Touch.status == "done",
        Touch.finished_at.is_not(None),
        epoch(Touch.finished_at) > epoch(Touch.due_at) + task_services.LATE_AFTER.total_seconds(),
    )

    def counted(owner, *joined):
        statement = select(
            day.label("day"),
            owner.label("owner"),
            func.count(),
            func.sum(case((missed, 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
        ).select_from(Touch)
        for target, condition in joined:
            statement = statement.join(target, condition)
        return statement.where(
            Touch.channel.in_(plan_services.PERSON_CHANNELS),
            Touch.due_at >= day_starts[0],
            Touch.due_at < day_starts[-1],
            Touch.status.not_in(("skipped", "cancelled")),
        ).group_by("day", "owner")

    # The task's assignee, else the lead's: tasks with an assignee need no look-up of their
    # lead, and they are nearly all of them.
    rows = _core(counted(Touch.assigned_to_id).where(Touch.assigned_to_id.is_not(None)))
    rows += _core(
        counted(Lead.assigned_to_id, (Lead, Lead.id == Touch.lead_id)).where(
            Touch.assigned_to_id.is_(None)
        )
    )
    found: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for index, owner_id, due, missed_count, late_count in rows:
        key = (days[index], names.get(owner_id) or "Unassigned")
        for position, value in enumerate((due, missed_count, late_count)):
            found[key][position] += int(value or 0)
    return [task_services.MissedRow(*key, *found[key]) for key in sorted(found)]
