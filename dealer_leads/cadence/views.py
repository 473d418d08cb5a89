"""Follow-up plan pages: plans and rules (supervisor), tasks, the missed-steps report, and the
plan actions on one lead (pause, resume, change plan, skip a step)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.services import role_required
from dealer_leads.cadence import (
    lead_actions,
    plan_changes,
    plan_services,
    review,
    services,
    task_services,
)
from dealer_leads.cadence.models import (
    CONFIRMATION_PLAN,
    COUNTED_FROM_APPOINTMENT,
    OFFSET_FROM,
    STEP_CHANNELS,
)
from dealer_leads.database import now_utc
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS
from dealer_leads.leads.queue import list_sources
from dealer_leads.leads.services import LeadNotFound, get_lead, list_advisors
from dealer_leads.messaging.template_services import list_templates

bp = Blueprint("cadence", __name__)

SUPERVISORS = ("supervisor", "admin")
STAFF = ("supervisor", "admin", "advisor")
UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
AFTER_HOURS = {"": None, "yes": True, "no": False}
REPORT_DAYS, MAX_REPORT_DAYS = 14, 366
# Plans that an event moves a lead onto by their key, switched on or off.
SWITCHED_TO_BY_EVENTS = {
    CONFIRMATION_PLAN: "booking an appointment",
    "noshow_rebook": "a no-show",
    "owner_loyalty": "a sale",
}


# --- plans ----------------------------------------------------------------------------------


@bp.get("/plans")
@role_required(*SUPERVISORS)
def plans():
    return render_template(
        "cadence/plans.html", plans=plan_services.list_plans(), rules=plan_services.list_rules()
    )


def _offset_fields(minutes: int) -> tuple[str, str]:
    """The largest unit that shows the offset as a whole number."""
    for unit in ("days", "hours"):
        if minutes and minutes % UNITS[unit] == 0:
            return str(minutes // UNITS[unit]), unit
    return str(minutes), "minutes"


def _offset_minutes(number: str, unit: str) -> int | str:
    """Minutes from the number and unit typed; what was typed when it is no whole number."""
    try:
        value = Decimal(number.strip() or "0") * UNITS.get(unit, 1)
    except InvalidOperation:
        return f"{number} {unit}"
    if not value.is_finite() or value != value.to_integral_value():
        return f"{number} {unit}"
    return int(value)


def _step_row(step) -> dict:
    number, unit = _offset_fields(step.offset_minutes)
    return {
        "row": f"s{step.id}",
        "id": str(step.id),
        "offset": number,
        "unit": unit,
        "offset_from": step.offset_from,
        "channel": step.channel,
        "template_key": step.template_key,
        "title": step.title,
        "business_hours": step.business_hours,
    }


def _posted_rows(fields: tuple[str, ...]) -> list[dict]:
    """The table rows as posted (one value per row for each field), removed ones left out;
    checkboxes post the row's token as their value."""
    form, tokens = request.form, request.form.getlist("row")
    removed = set(form.getlist("remove"))
    columns = {name: form.getlist(name) for name in fields}
    rows = []
    for index, token in enumerate(tokens):
        if token in removed:
            continue
        row = {
            name: (values[index] if index < len(values) else "") for name, values in columns.items()
        }
        rows.append({"row": token, **row})
    return rows


def _posted_steps() -> list[dict]:
    fields = ("id", "offset", "unit", "offset_from", "channel", "template_key", "title")
    checked = set(request.form.getlist("business_hours"))
    rows = [
        {**row, "business_hours": row["row"] in checked}
        for row in _posted_rows(fields)
        if row["channel"] or row["title"].strip() or row["template_key"]
    ]
    return rows


def _step_values(row: dict) -> dict:
    return {
        "id": row["id"],
        "offset_minutes": _offset_minutes(row["offset"], row["unit"]),
        "offset_from": row["offset_from"],
        "channel": row["channel"],
        "template_key": row["template_key"],
        "title": row["title"],
        "business_hours": row["business_hours"],
    }


def _plan_page(plan, values: dict, rows: list[dict], problems: dict, status: int = 200):
    return render_template(
        "cadence/plan_edit.html",
        plan=plan,
        values=values,
        rows=rows,
        problems=problems,
        leads_on_plan=plan_changes.count_leads_on(plan.id) if plan is not None else 0,
        switched_by=SWITCHED_TO_BY_EVENTS.get(plan.key, "") if plan is not None else "",
        channels=STEP_CHANNELS,
        offset_from=OFFSET_FROM,
        from_appointment=plan is not None and plan.key in COUNTED_FROM_APPOINTMENT,
        units=UNITS,
        templates=list_templates(),
    ), status


def _edit(plan_id: int | None):
    try:
        plan = plan_services.get_plan(plan_id) if plan_id is not None else None
    except plan_services.PlanNotFound:
        abort(404, f"There is no plan #{plan_id}.")
    if request.method == "GET":
        values = {"name": "", "description": "", "active": True, "stop_leads": False}
        if plan is not None:
            values = {
                "name": plan.name,
                "description": plan.description,
                "active": plan.active,
                "stop_leads": False,
            }
        return _plan_page(plan, values, [_step_row(s) for s in plan.steps] if plan else [], {})
    form = request.form
    values = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "active": bool(form.get("active")),
        "stop_leads": bool(form.get("stop_leads")),
    }
    rows = _posted_steps()
    try:
        saved = plan_services.save_plan(
            plan_id, **values, steps=[_step_values(r) for r in rows], by=current_user
        )
    except plan_services.InvalidPlan as error:
        flash("The plan was not saved: see the problems below.", "error")
        return _plan_page(plan, values, rows, error.problems, 422)
    flash(_saved_message(saved), "success")
    return redirect(url_for("cadence.plans"), 303)


def _saved_message(saved: plan_services.SavedPlan) -> str:
    plan, cancelled, stopped = saved.plan, saved.steps_cancelled, saved.leads_stopped
    state = "new leads follow it from now on." if plan.active else "it is switched off."
    told = [f"Plan “{plan.name}” saved; {state}"]
    if cancelled:
        steps = "1 step" if cancelled == 1 else f"{cancelled} steps"
        verb = "was" if cancelled == 1 else "were"
        told.append(f"Removed: {steps} still scheduled on leads already on it {verb} cancelled.")
    if stopped:
        leads = "1 lead" if stopped == 1 else f"{stopped} leads"
        told.append(f"The follow-up of {leads} on it was stopped.")
    return " ".join(told)


@bp.route("/plans/new", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def new_plan():
    return _edit(None)


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def edit_plan(plan_id: int):
    return _edit(plan_id)


# --- rules ----------------------------------------------------------------------------------


def _rule_row(rule) -> dict:
    after = {None: "", True: "yes", False: "no"}[rule.after_hours]
    return {
        "row": f"r{rule.id}",
        "department": rule.department,
        "sales_kind": rule.sales_kind,
        "source": rule.source,
        "interest": rule.interest,
        "after_hours": after,
        "plan": rule.plan.key,
    }


def _posted_rules() -> list[dict]:
    fields = ("department", "sales_kind", "source", "interest", "after_hours", "plan")
    return [
        row
        for row in _posted_rows(fields)
        if any(row[name].strip() for name in fields)  # a blank row is no rule
    ]


def _rule_values(row: dict) -> dict:
    return {**row, "after_hours": AFTER_HOURS.get(row["after_hours"], row["after_hours"])}


@bp.route("/plans/rules", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def rules():
    problems: dict[str, str] = {}
    if request.method == "POST":
        rows = _posted_rules()
        try:
            plan_services.save_rules([_rule_values(row) for row in rows])
        except plan_services.InvalidPlan as error:
            problems = error.problems
            flash("The rules were not saved: see the problems below.", "error")
        else:
            flash("Rules saved; they choose the plan of every new lead from now on.", "success")
            return redirect(url_for("cadence.rules"), 303)
    else:
        rows = [_rule_row(rule) for rule in plan_services.list_rules()]
    return render_template(
        "cadence/rules.html",
        rows=rows,
        problems=problems,
        plans=plan_services.list_plans(),
        departments=DEPARTMENTS,
        sales_kinds=plan_services.SALES_KINDS,
        interests=INTERESTS,
        sources=list_sources(),
    ), (422 if problems else 200)


# --- tasks ----------------------------------------------------------------------------------


def _advisor_filter() -> int | None:
    value = request.args.get("advisor", "")
    if value == "none":
        return 0
    return int(value) if value.isdigit() else None


@bp.get("/tasks")
@role_required(*STAFF)
def tasks():
    supervising = current_user.role in SUPERVISORS
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
@role_required(*STAFF)
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
@role_required(*SUPERVISORS)
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
@role_required(*STAFF)
def pause(lead_id: int):
    reason = request.form.get("reason", "").strip()
    return _lead_action(
        lead_id,
        lambda: lead_actions.pause_lead(current_user, lead_id, reason),
        "Automatic follow-up paused.",
    )


@bp.post("/leads/<int:lead_id>/cadence/resume")
@role_required(*STAFF)
def resume(lead_id: int):
    return _lead_action(
        lead_id,
        lambda: lead_actions.resume_lead(current_user, lead_id),
        "Automatic follow-up resumed.",
    )


@bp.post("/leads/<int:lead_id>/cadence/plan")
@role_required(*STAFF)
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
@role_required(*STAFF)
def skip(lead_id: int, touch_id: int):
    return _lead_action(lead_id, lambda: _skip(lead_id, touch_id), "Step skipped.")


# The flagged-steps page registers its routes on this blueprint.
from dealer_leads.cadence import review_views  # noqa: E402, F401
