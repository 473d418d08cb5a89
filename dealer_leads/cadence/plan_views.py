"""The plan and rule pages (supervisors): the follow-up plans with their steps, and the rules
that choose a plan for a new lead. Routes on the cadence blueprint."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.cadence import plan_changes, plan_services
from dealer_leads.cadence.models import (
    CONFIRMATION_PLAN,
    COUNTED_FROM_APPOINTMENT,
    OFFSET_FROM,
    STEP_CHANNELS,
)
from dealer_leads.cadence.views import bp
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS
from dealer_leads.leads.queue import list_sources
from dealer_leads.messaging.template_services import list_templates

UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
AFTER_HOURS = {"": None, "yes": True, "no": False}
# Plans that an event moves a lead onto by their key, switched on or off.
SWITCHED_TO_BY_EVENTS = {
    CONFIRMATION_PLAN: "booking an appointment",
    "noshow_rebook": "a no-show",
    "owner_loyalty": "a sale",
}


# --- plans ----------------------------------------------------------------------------------


@bp.get("/plans")
@role_required(*SUPERVISING_ROLES)
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
@role_required(*SUPERVISING_ROLES)
def new_plan():
    return _edit(None)


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
@role_required(*SUPERVISING_ROLES)
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
@role_required(*SUPERVISING_ROLES)
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
