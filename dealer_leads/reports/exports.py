"""Every dashboard table as CSV rows: pure functions from the figures to (header, rows)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence

from dealer_leads.reports import funnel, speed
from dealer_leads.reports.services import Dashboard, Progress

Table = tuple[list[str], list[list[object]]]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # a phone number is no formula: left as it is


def cell(value: object) -> object:
    """Keep a spreadsheet from reading text as a formula; blank for None; rates rounded."""
    if value is None:
        return ""
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 4)
    text = str(value)
    if isinstance(value, str) and text[:1] in FORMULA_STARTS and not E164.fullmatch(text):
        return "'" + text
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (Excel's dialect) with every cell made safe."""
    return to_csv_rows([header, *rows])


def to_csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """CSV lines for rows, every cell made safe (a header is text too)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()


def _speed(first: str, rows: list[speed.SpeedRow]) -> Table:
    header = [first, "leads", "answered", "never answered", "median minutes", "p90 minutes"]
    header += ["median business minutes", "p90 business minutes"]
    header += [f"share within {m} min" for m in speed.WITHIN_MINUTES]
    body = [
        [
            r.label,
            r.leads,
            r.answered,
            r.unanswered,
            r.median_minutes,
            r.p90_minutes,
            r.median_business_minutes,
            r.p90_business_minutes,
            *(r.within[m] for m in speed.WITHIN_MINUTES),
        ]
        for r in rows
    ]
    return header, body


def _funnel(first: str, rows: list[funnel.FunnelRow]) -> Table:
    header = [first, *funnel.STAGES, "contact rate", "appointment rate", "show rate"]
    header += ["close rate (sold of shown)", "sold of leads"]
    body = [
        [
            r.label,
            *r.counts,
            *(r.rate(stage) for stage in funnel.STAGES[1:]),
            r.sold_of_leads,
        ]
        for r in rows
    ]
    return header, body


ATTRIBUTION_RATES = ("appointment rate", "sold of leads")  # as the funnel tables name them


def _attribution_rates(row: funnel.FunnelRow) -> list[float | None]:
    """The funnel's appointment rate (over contacted) and sold of leads, for one credit model."""
    return [row.rate("appointment"), row.sold_of_leads]


def _attribution(rows: list[funnel.AttributionRow]) -> Table:
    # The rates come after the counts, so the count columns keep their places.
    stages, models = funnel.STAGES, ("first-touch", "last-touch")
    header = ["source", *(f"{m} {s}" for m in models for s in stages)]
    header += [f"{m} {rate}" for m in models for rate in ATTRIBUTION_RATES]
    body = [
        [
            r.source,
            *r.first.counts,
            *r.last.counts,
            *_attribution_rates(r.first),
            *_attribution_rates(r.last),
        ]
        for r in rows
    ]
    return header, body


def _unanswered(board: Dashboard) -> Table:
    header = ["lead id", "customer", "source", "advisor", "status", "received at (UTC)"]
    body = [
        [u.lead_id, u.customer, u.source, u.advisor, u.status, u.received_at.isoformat()]
        for u in board.unanswered
    ]
    return header, body


def _missed(board: Dashboard) -> Table:
    rows = [[r.day.isoformat(), r.advisor, r.due, r.missed, r.late] for r in board.missed]
    return ["day", "advisor", "due", "missed", "late"], rows


TABLES: dict[str, Callable[[Dashboard], Table]] = {
    "speed-total": lambda b: _speed("group", [b.speed_total]),
    "speed-source": lambda b: _speed("source", b.speed_by_source),
    "speed-advisor": lambda b: _speed("advisor", b.speed_by_advisor),
    "speed-hour": lambda b: _speed("hour of day", b.speed_by_hour),
    "unanswered": _unanswered,
    "funnel-total": lambda b: _funnel("group", [b.funnel_total]),
    "funnel-source": lambda b: _funnel("source (first touch)", b.funnel_by_source),
    "funnel-advisor": lambda b: _funnel("advisor", b.funnel_by_advisor),
    "attribution": lambda b: _attribution(b.attribution),
    "missed": _missed,
}


def objectives_table(rows: list[Progress]) -> Table:
    """The month's goals and progress."""
    header = ["metric", "advisor", "actual", "target", "share of target", "on pace by today"]
    body = [
        [r.metric, r.label.split(": ", 1)[1], r.actual, r.target, r.share, r.expected] for r in rows
    ]
    return header, body
