"""Follow-up plan pages: tasks, the missed-steps report, and the plan actions on one lead (pause,
resume, change plan, skip a step). The plan and rule pages are in plan_views, the flagged steps
in review_views; all are on this blueprint."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import LEAD_ROLES, SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.cadence import lead_actions, review, services, task_services
from dealer_leads.cadence.models import STEP_CHANNELS
from dealer_leads.database import now_utc
from dealer_leads.leads.normalize import whole_number
from dealer_leads.leads.services import LeadNotFound, get_lead, list_advisors

bp = Blueprint("cadence", __name__)

REPORT_DAYS, MAX_REPORT_DAYS = 14, 366


# --- tasks ----------------------------------------------------------------------------------


def _advisor_filter() -> int | None:
    value = request.args.get("advisor", "")
    if value == "none":
        return 0
    return whole_number(value)


@bp.get("/tasks")
@role_required(*LEAD_ROLES)
def tasks():
    supervising = current_user.supervises
    tasks = task_services.list_tasks(
        current_user,
        scope="all" if supervising else "mine",
        include_done=request.args.get("done") == "1",
        advisor_id=_advisor_filter() if supervising else None,
    )
    return render_template(
        "cadence/tasks.html",
        tasks=tasks,
        drafts=task_services.task_drafts([t for t in tasks if t.status != "done"]),
        flagged=review.count_flagged() if supervising else 0,
        advisors=list_advisors() if supervising else [],
        args={key: request.args.get(key, "") for key in ("advisor", "done")},
        supervising=supervising,
        channels=STEP_CHANNELS,
        now=now_utc(),
    )


def _safe_next(default: str) -> str:
    """Where to go after an action: a path on this site, else `default`."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@bp.post("/tasks/<int:touch_id>/done")
@role_required(*LEAD_ROLES)
def complete(touch_id: int):
    try:
        task_services.get_task(current_user, touch_id)
        task = lead_actions.complete_task(current_user, touch_id, request.form.get("outcome", ""))
    except task_services.TaskNotFound:
        abort(404, f"There is no task #{touch_id} you can see.")
    except services.CadenceError as error:
        flash(f"Not done: {error}.", "error")
    else:
        flash(f"Done: {task.title or STEP_CHANNELS.get(task.channel, task.channel)}.", "success")
    return redirect(_safe_next(url_for("cadence.tasks")), 303)


# --- missed steps ---------------------------------------------------------------------------


def _date_arg(name: str, default: date) -> date:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"{name} must be a date like 2026-01-31")


def _report_range() -> tuple[date, date]:
    today = now_utc().astimezone(dealership_zone()).date()
    start = _date_arg("from", today - timedelta(days=REPORT_DAYS - 1))
    end = _date_arg("to", today)
    if start > end:
        abort(400, "from must not be after to")
    if (end - start).days >= MAX_REPORT_DAYS:
        abort(400, f"choose at most {MAX_REPORT_DAYS} days")
    return start, end


def _csv_cell(value: object) -> object:
    """Keep a spreadsheet from reading a name as a formula."""
    text = str(value)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else value


def _missed_csv(rows: list[task_services.MissedRow], start: date, end: date) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "advisor", "due", "missed", "late"])
    for row in rows:
        writer.writerow(
            [row.day.isoformat(), _csv_cell(row.advisor), row.due, row.missed, row.late]
        )
    filename = f"missed-steps-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/tasks/missed")
@role_required(*SUPERVISING_ROLES)
def missed():
    start, end = _report_range()
    rows = task_services.missed_steps(start, end)
    if request.args.get("format") == "csv":
        return _missed_csv(rows, start, end)
    totals = {name: sum(getattr(r, name) for r in rows) for name in ("due", "missed", "late")}
    return render_template(
        "cadence/missed.html",
        rows=rows,
        start=start,
        end=end,
        totals=totals,
        flagged=review.count_flagged(),
    )


# --- one lead's plan ------------------------------------------------------------------------


def _lead_action(lead_id: int, action, success: str):
    """Check the viewer may see the lead, act, and come back to the lead page."""
    try:
        get_lead(current_user, lead_id)
    except LeadNotFound:
        abort(404, f"There is no lead #{lead_id} you can see.")
    try:
        action()
    except services.CadenceError as error:
        flash(f"Follow-up unchanged: {error}.", "error")
    else:
        flash(success, "success")
    return redirect(url_for("leads.detail", lead_id=lead_id), 303)


@bp.post("/leads/<int:lead_id>/cadence/pause")
@role_required(*LEAD_ROLES)
def pause(lead_id: int):
    reason = request.form.get("reason", "").strip()
    return _lead_action(
        lead_id,
        lambda: lead_actions.pause_lead(current_user, lead_id, reason),
        "Automatic follow-up paused.",
    )


@bp.post("/leads/<int:lead_id>/cadence/resume")
@role_required(*LEAD_ROLES)
def resume(lead_id: int):
    return _lead_action(
        lead_id,
        lambda: lead_actions.resume_lead(current_user, lead_id),
        "Automatic follow-up resumed.",
    )


@bp.post("/leads/<int:lead_id>/cadence/plan")
@role_required(*LEAD_ROLES)
def change_plan(lead_id: int):
    key = request.form.get("plan", "")
    return _lead_action(
        lead_id,
        lambda: lead_actions.change_plan(current_user, lead_id, key),
        "Follow-up plan changed.",
    )


def _skip(lead_id: int, touch_id: int) -> None:
    if task_services.get_lead_touch(lead_id, touch_id) is None:
        abort(404, f"Lead #{lead_id} has no step #{touch_id}.")
    lead_actions.skip_touch(current_user, touch_id)


@bp.post("/leads/<int:lead_id>/touches/<int:touch_id>/skip")
@role_required(*LEAD_ROLES)
def skip(lead_id: int, touch_id: int):
    return _lead_action(lead_id, lambda: _skip(lead_id, touch_id), "Step skipped.")


# The plan, rule and flagged-steps pages register their routes on this blueprint.
from dealer_leads.cadence import plan_views, review_views  # noqa: E402, F401
