"""The supervisor's dashboard: speed to lead, funnel, follow-up discipline, objectives."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads import error_response
from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.leads.normalize import whole_number
from dealer_leads.reports import charts, exports, services
from dealer_leads.reports.models import OBJECTIVE_METRICS

bp = Blueprint("reports", __name__)


def csv_download(filename: str, table: exports.Table) -> Response:
    """A CSV attachment of one table."""
    header, rows = table
    return Response(
        exports.to_csv(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def minutes(value: float | None) -> str:
    """Minutes as people read them: one decimal under ten, none above; a dash for none."""
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def pct(value: float | None) -> str:
    """A share as a whole percentage; a dash for none."""
    return "—" if value is None else f"{value * 100:.0f}%"


def _presets(today: date) -> list[tuple[str, date, date]]:
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [
        ("Last 7 days", today - timedelta(days=6), today),
        ("Last 30 days", today - timedelta(days=29), today),
        ("This month", first, today),
        ("Last month", last_month_end.replace(day=1), last_month_end),
    ]


@bp.get("/dashboard")
@role_required(*SUPERVISING_ROLES)
def dashboard():
    """Dashboard."""
    today = services.local_today()
    try:
        start, end = services.parse_range(
            request.args.get("from", "").strip(), request.args.get("to", "").strip(), today
        )
    except services.InvalidRange as error:
        return error_response(400, "invalid_range", str(error), {"from": str(error)})
    export = request.args.get("export", "")
    if export and export not in exports.TABLES and export != "objectives":
        return error_response(400, "unknown_table", f"no table named {export[:40]!r} to export")
    month = end.replace(day=1)
    if export == "objectives":
        table = exports.objectives_table(services.month_progress(month))
        return csv_download(f"objectives-{month:%Y-%m}.csv", table)
    board = services.get_dashboard(start, end)
    if export:
        return csv_download(f"{export}-{start}-{end}.csv", exports.TABLES[export](board))
    return render_template(
        "reports/dashboard.html",
        board=board,
        presets=_presets(today),
        month=month,
        progress=services.month_progress(month),
        charts=_charts(board),
        shown=services.UNANSWERED_SHOWN,
        progress_bar=charts.progress_bar,
        minutes=minutes,
        pct=pct,
    )


def _charts(board: services.Dashboard) -> dict:
    """The pictures: the funnel, median response by source, and by hour of day."""
    stages = [
        ("Leads", board.funnel_total.counts[0]),
        ("Contacted", board.funnel_total.counts[1]),
        ("Appointment set", board.funnel_total.counts[2]),
        ("Shown", board.funnel_total.counts[3]),
        ("Sold", board.funnel_total.counts[4]),
    ]
    by_hour = {row.label: row.median_minutes for row in board.speed_by_hour}
    hours = [(f"{h:02d}", by_hour.get(f"{h:02d}:00–{h:02d}:59")) for h in range(24)]
    missed = {}
    for row in board.missed:
        missed[row.day] = missed.get(row.day, 0) + row.missed
    return {
        "funnel": charts.funnel_chart(stages, title="Funnel: leads to sales"),
        "speed_source": charts.bar_chart(
            [(r.label, r.median_minutes) for r in board.speed_by_source],
            title="Median minutes to the first human response, by source",
            unit=" min",
        ),
        "speed_hour": charts.column_chart(
            hours, title="Median minutes to respond by hour of arrival", unit=" min"
        ),
        "missed": charts.bar_chart(
            [(f"{day:%a %b %d}", float(count)) for day, count in sorted(missed.items())],
            title="Missed steps by day",
            colour=4,
        ),
    }


@bp.route("/dashboard/objectives", methods=["GET", "POST"])
@role_required(*SUPERVISING_ROLES)
def objectives():
    """The month's goals: appointments, shows and sales, for the team and each advisor."""
    today = services.local_today()
    try:
        month = services.parse_month(request.values.get("month", "").strip(), today)
    except services.InvalidRange as error:
        return error_response(400, "invalid_month", str(error), {"month": str(error)})
    problems, status = {}, 200
    if request.method == "POST":
        targets = _posted_targets()
        try:
            count = services.save_objectives(current_user, month, targets)
        except services.InvalidObjectives as error:
            problems, status = error.fields, 422
            flash(str(error), "error")
        else:
            flash(f"Saved {count} goals for {month:%B %Y}.", "success")
            return redirect(url_for("reports.objectives", month=f"{month:%Y-%m}"))
    progress = services.month_progress(month)
    return (
        render_template(
            "reports/objectives.html",
            month=month,
            progress=progress,
            metrics=OBJECTIVE_METRICS,
            problems=problems,
            posted=request.form if request.method == "POST" else {},
        ),
        status,
    )


def _posted_targets() -> dict[tuple[str, int | None], str]:
    """{(metric, advisor id or None): typed text} from fields named goal-<metric>-<id|team>."""
    targets = {}
    for name, value in list(request.form.items())[:2000]:
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "goal":
            continue
        who = None if parts[2] == "team" else parts[2]
        if who is not None and whole_number(who) is None:
            continue
        targets[(parts[1], whole_number(who) if who else None)] = value[:20]
    return targets
