"""The dashboard's figures for a date range, and the monthly objectives the supervisor sets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import User
from dealer_leads.cadence import task_services
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead
from dealer_leads.leads.normalize import whole_number
from dealer_leads.messaging.consent import dealership_hours
from dealer_leads.reports import funnel, queries, speed
from dealer_leads.reports.models import OBJECTIVE_METRICS, Objective

DEFAULT_DAYS = 30
MAX_DAYS = 366
UNANSWERED_SHOWN = 100
MAX_TARGET = 100_000
MIN_YEAR, MAX_YEAR = 2000, 2100  # beyond these, dates are typing mistakes (and overflow)


class InvalidRange(ValueError):
    """A date range the dashboard cannot show; the message says why."""


class InvalidObjectives(ValueError):
    """Objectives that cannot be saved; `fields` names the bad ones."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields


def local_today(now: datetime | None = None) -> date:
    """Today in the dealership's time zone."""
    return (now or now_utc()).astimezone(dealership_zone()).date()


def parse_range(start_text: str, end_text: str, today: date) -> tuple[date, date]:
    """(from, to) local days, inclusive; the last 30 days by default."""
    try:
        start = (
            date.fromisoformat(start_text) if start_text else today - timedelta(DEFAULT_DAYS - 1)
        )
        end = date.fromisoformat(end_text) if end_text else today
    except ValueError as error:
        raise InvalidRange("from and to must be dates like 2026-01-31") from error
    if start.year < MIN_YEAR or end.year > MAX_YEAR:
        raise InvalidRange(f"choose dates from {MIN_YEAR} to {MAX_YEAR}")
    if start > end:
        raise InvalidRange("from must not be after to")
    if (end - start).days >= MAX_DAYS:
        raise InvalidRange(f"choose at most {MAX_DAYS} days")
    return start, end


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[first, after) in UTC for local days start..end inclusive."""
    zone = dealership_zone()
    first = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return first, after


@dataclass
class Unanswered:
    """A lead of the range no person has answered yet."""

    lead_id: int
    customer: str
    source: str
    advisor: str
    status: str
    received_at: datetime


@dataclass
class Dashboard:
    """Every figure of the dashboard for one date range."""

    start: date
    end: date
    speed_total: speed.SpeedRow
    speed_by_source: list[speed.SpeedRow]
    speed_by_advisor: list[speed.SpeedRow]
    speed_by_hour: list[speed.SpeedRow]
    unanswered: list[Unanswered]
    funnel_total: funnel.FunnelRow
    funnel_by_source: list[funnel.FunnelRow]
    funnel_by_advisor: list[funnel.FunnelRow]
    attribution: list[funnel.AttributionRow]
    missed: list[task_services.MissedRow]


def _advisor_label(names: dict[int, str]):
    return lambda advisor_id: names.get(advisor_id, "Unassigned") if advisor_id else "Unassigned"


def get_dashboard(start: date, end: date, now: datetime | None = None) -> Dashboard:
    """Speed to lead, the funnel and missed steps for the sales leads received start..end."""
    now = now or now_utc()
    first, after = utc_bounds(start, end)
    leads = queries.list_range_leads(first, after)
    merged = queries.merged_into({lead.id for lead in leads})
    tasks = queries.task_responses(first, after, merged)
    appointments = queries.appointment_statuses(first, after, merged)
    names = queries.advisor_names()
    advisor = _advisor_label(names)
    clock = speed.BusinessClock(dealership_hours())
    responses = [_response(lead, tasks.get(lead.id), clock) for lead in leads]
    funnel_leads = [
        funnel.FunnelLead(
            lead.id,
            lead.source,
            lead.latest_source,
            lead.advisor_id,
            lead.status,
            response.responded_at is not None,
            appointments.get(lead.id, []),
        )
        for lead, response in zip(leads, responses, strict=True)
    ]
    return Dashboard(
        start=start,
        end=end,
        **_speed_tables(leads, responses, clock, advisor),
        funnel_total=funnel.funnel_row("All leads", funnel_leads),
        funnel_by_source=funnel.funnel_by(funnel_leads, lambda lead: lead.source, str),
        funnel_by_advisor=funnel.funnel_by(
            funnel_leads, lambda lead: lead.advisor_id or 0, advisor
        ),
        attribution=funnel.attribution(funnel_leads),
        missed=_missed_steps(start, end, now, names),
    )


def _speed_tables(leads, responses, clock: speed.BusinessClock, advisor) -> dict:
    """Speed to lead in total, by source, advisor and local hour; the leads never answered."""
    by_id = {lead.id: lead for lead in leads}
    waiting = sorted(
        (r for r in responses if r.responded_at is None), key=lambda r: (r.received_at, r.lead_id)
    )
    return {
        "speed_total": speed.speed_row("All leads", responses),
        "speed_by_source": speed.grouped(responses, lambda r: by_id[r.lead_id].source, str),
        "speed_by_advisor": speed.grouped(
            responses, lambda r: by_id[r.lead_id].advisor_id or 0, advisor
        ),
        "speed_by_hour": speed.grouped(
            responses, lambda r: clock.local.hour(r.received_at), _hour_label
        ),
        "unanswered": _unanswered(waiting, by_id, advisor),
    }


def _missed_steps(
    start: date, end: date, now: datetime, names: dict[int, str]
) -> list[task_services.MissedRow]:
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    bounds = [utc_bounds(day, day)[0] for day in days] + [utc_bounds(end, end)[1]]
    return queries.missed_steps(bounds, days, now, names)


def _response(
    lead: queries.LeadRow, task_done: float | None, clock: speed.BusinessClock
) -> speed.Response:
    """The first human response: the response clock on the lead (a call logged, the lead
    moved to contacted by a person) or a call or e-mail task marked done, whichever is first."""
    moments = [m for m in (lead.first_response_at, task_done) if m is not None]
    return speed.response(lead.id, lead.received_at, min(moments, default=None), clock)


def _hour_label(hour: int) -> str:
    return f"{hour:02d}:00–{hour:02d}:59"


def _unanswered(waiting, by_id, advisor) -> list[Unanswered]:
    ids, customers = [r.lead_id for r in waiting], {}
    for start in range(0, len(ids), 500):
        names = db.session.execute(
            select(Lead.id, Customer.first_name, Customer.last_name)
            .join(Customer, Customer.id == Lead.customer_id)
            .where(Lead.id.in_(ids[start : start + 500]))
        )
        customers.update({lead_id: f"{a} {b}".strip() for lead_id, a, b in names})
    return [
        Unanswered(
            r.lead_id,
            customers.get(r.lead_id) or "(no name)",
            by_id[r.lead_id].source,
            advisor(by_id[r.lead_id].advisor_id),
            by_id[r.lead_id].status,
            queries.from_epoch(r.received_at),
        )
        for r in waiting
    ]


# --- objectives -------------------------------------------------------------------------------


def parse_month(text: str, today: date) -> date:
    """The first day of a "2026-11" month; this month when empty."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError as error:
        raise InvalidRange("month must look like 2026-11") from error
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidRange(f"choose a month from {MIN_YEAR} to {MAX_YEAR}")
    return first


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass
class Progress:
    """One goal and how far the month has come: actual against target."""

    metric: str
    advisor_id: int | None
    label: str
    actual: int
    target: int | None
    elapsed: float = 1.0  # the share of the month gone by (whole local days, today included)

    @property
    def share(self) -> float | None:
        return self.actual / self.target if self.target else None

    @property
    def expected(self) -> int | None:
        """Where a steady month would be by now: the target times the share of days gone."""
        return round(self.target * self.elapsed) if self.target else None


def month_elapsed(month: date, today: date) -> float:
    """The share of the month's days up to and including today (0 before it, 1 after it)."""
    days = (_next_month(month) - month).days
    return min(1.0, max(0.0, ((today - month).days + 1) / days))


def month_progress(month: date, today: date | None = None) -> list[Progress]:
    """Actual against target for each metric, in total then per active advisor."""
    elapsed = month_elapsed(month, today or local_today())
    first, after = utc_bounds(month, _next_month(month) - timedelta(days=1))
    actual = {
        "appointments": Counter(queries.appointments_set(first, after)),
        "shows": Counter(queries.appointments_shown(first, after)),
        "sales": Counter(queries.sales(first, after).values()),
    }
    targets = {
        (o.metric, o.advisor_id): o.target
        for o in db.session.scalars(select(Objective).where(Objective.month == f"{month:%Y-%m}"))
    }
    advisors = queries.list_advisors()
    rows = []
    for metric, label in OBJECTIVE_METRICS.items():
        total = sum(actual[metric].values())
        team = targets.get((metric, None))
        rows.append(Progress(metric, None, f"{label}: team", total, team, elapsed))
        for advisor_id, name in advisors:
            rows.append(
                Progress(
                    metric,
                    advisor_id,
                    f"{label}: {name}",
                    actual[metric].get(advisor_id, 0),
                    targets.get((metric, advisor_id)),
                    elapsed,
                )
            )
    return rows


def save_objectives(viewer: User, month: date, targets: dict[tuple[str, int | None], str]) -> int:
    """Set the month's goals from typed text ("" clears one); returns how many are set."""
    errors, values = {}, {}
    advisors = {advisor_id for advisor_id, _name in queries.list_advisors()}
    for (metric, advisor_id), text in targets.items():
        name = f"{metric}-{advisor_id or 'team'}"
        if metric not in OBJECTIVE_METRICS or (advisor_id and advisor_id not in advisors):
            errors[name] = "unknown goal"
            continue
        text = text.strip()
        number = whole_number(text)
        if text and (number is None or number > MAX_TARGET):
            errors[name] = f"a whole number from 0 to {MAX_TARGET}"
            continue
        values[(metric, advisor_id)] = number
    if errors:
        raise InvalidObjectives("Some goals are not valid.", errors)
    key = f"{month:%Y-%m}"
    saved = {
        (o.metric, o.advisor_id): o
        for o in db.session.scalars(select(Objective).where(Objective.month == key))
    }
    for (metric, advisor_id), target in values.items():
        row = saved.get((metric, advisor_id))
        if target is None:
            if row is not None:
                db.session.delete(row)
            continue
        if row is None:
            row = Objective(month=key, metric=metric, advisor_id=advisor_id)
            db.session.add(row)
        row.target, row.updated_by_id = target, viewer.id
    try:
        db.session.commit()
    except IntegrityError as error:  # another supervisor saved the same month just now
        db.session.rollback()
        raise InvalidObjectives(
            "These goals were saved by someone else at the same moment: look and try again.", {}
        ) from error
    return sum(1 for target in values.values() if target is not None)
