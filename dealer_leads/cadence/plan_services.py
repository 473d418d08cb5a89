"""Plans and rules as the supervisor edits them (person tasks and their reports: task_services).

Editing a plan changes what new leads get: touches already scheduled for leads on the plan keep
their times and content (they were copied from the steps when the plan started), so an edit
never moves a call someone has planned their day around. Switch a lead's plan to apply an edit
to it. Two edits do reach the leads already on the plan: a removed step is cancelled wherever
it is still scheduled, and switching a plan off may stop the leads on it when asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.auth.models import User
from dealer_leads.cadence.models import (
    AUTOMATIC_CHANNELS,
    OFFSET_FROM,
    STEP_CHANNELS,
    FollowUpPlan,
    PlanRule,
    PlanStep,
)
from dealer_leads.cadence.plan_changes import cancel_removed_steps, stop_leads_on
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS
from dealer_leads.messaging.template_services import list_templates

PERSON_CHANNELS = tuple(c for c in STEP_CHANNELS if c not in AUTOMATIC_CHANNELS)
OPEN_TASK_STATES = ("open", "scheduled", "held")  # what complete_task accepts
TEMPLATE_CHANNEL = {"auto_email": "email", "email_task": "email", "auto_sms": "sms"}
MAX_OFFSET_MINUTES = 365 * 24 * 60
MAX_STEPS = 100
SALES_KINDS = ("new", "used")


class InvalidPlan(ValueError):
    """A plan or rules table that cannot be saved; `problems` maps a field (`name`,
    `step-2.template_key`, `rule-1.plan`) to what is wrong with it."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


class PlanNotFound(LookupError):
    """No plan has this id."""


# --- plans ----------------------------------------------------------------------------------


def list_plans() -> list[FollowUpPlan]:
    """Every plan with its steps, by name."""
    query = select(FollowUpPlan).options(selectinload(FollowUpPlan.steps))
    return list(db.session.scalars(query.order_by(FollowUpPlan.name, FollowUpPlan.id)))


def get_plan(plan_id: int) -> FollowUpPlan:
    """One plan with its steps in order."""
    plan = db.session.get(FollowUpPlan, plan_id)
    if plan is None:
        raise PlanNotFound(f"there is no plan #{plan_id}")
    return plan


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[+-]?\d{1,9}", text) else None


def _check_template(step: dict, channel: str, templates: dict[str, str]) -> str:
    key = str(step.get("template_key") or "").strip()
    wanted = TEMPLATE_CHANNEL.get(channel)
    if not key:
        return "an automatic step needs a template" if channel in AUTOMATIC_CHANNELS else ""
    if key not in templates:
        return f"there is no message template {key!r}"
    if wanted is None:
        return f"a {STEP_CHANNELS[channel].lower()} step takes no template"
    if templates[key] != wanted:
        kind = "an e-mail" if wanted == "email" else "a text-message"
        return f"{STEP_CHANNELS[channel].lower()} needs {kind} template, not {key!r}"
    return ""


def _step_problems(step: dict, templates: dict[str, str]) -> dict[str, str]:
    """What is wrong with one step, by field."""
    problems = {}
    channel = str(step.get("channel") or "")
    if channel not in STEP_CHANNELS:
        problems["channel"] = "choose a channel"
    minutes = _whole_number(step.get("offset_minutes", 0))
    if minutes is None:
        problems["offset_minutes"] = "the offset must be a whole number of minutes"
    elif abs(minutes) > MAX_OFFSET_MINUTES:
        problems["offset_minutes"] = "the offset must be within 365 days"
    if step.get("offset_from", "arrival") not in OFFSET_FROM:
        problems["offset_from"] = "count from the arrival or from the previous step"
    title = str(step.get("title") or "").strip()
    if channel in PERSON_CHANNELS and not title:
        problems["title"] = "a step for a person needs a title"
    elif len(title) > 200:
        problems["title"] = "the title is longer than 200 characters"
    if channel in STEP_CHANNELS and (problem := _check_template(step, channel, templates)):
        problems["template_key"] = problem
    return problems


def check_plan(name: str, steps: list[dict]) -> dict[str, str]:
    """Every reason this plan cannot be saved; step numbers count from 1."""
    problems = {}
    if not name.strip():
        problems["name"] = "The plan needs a name."
    elif len(name.strip()) > 120:
        problems["name"] = "The name is longer than 120 characters."
    if not steps:
        problems["steps"] = "A plan needs at least one step."
    elif len(steps) > MAX_STEPS:
        problems["steps"] = f"A plan has at most {MAX_STEPS} steps."
    templates = {t.key: t.channel for t in list_templates()}
    for number, step in enumerate(steps[:MAX_STEPS], start=1):
        for field, problem in _step_problems(step, templates).items():
            problems[f"step-{number}.{field}"] = f"Step {number}: {problem}."
    return problems


def _new_key(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:32] or "plan"
    base = base if base[0].isalpha() else f"plan_{base}"[:32]
    taken = set(
        db.session.scalars(select(FollowUpPlan.key).where(FollowUpPlan.key.like(f"{base}%")))
    )
    return next(
        k for n in range(1, 10_000) if (k := base if n == 1 else f"{base}_{n}") not in taken
    )


def _removed_step_ids(plan: FollowUpPlan, steps: list[dict]) -> set[int]:
    """The plan's steps that no posted row carries the id of (what `_apply_steps` drops)."""
    kept = {_whole_number(values.get("id") or "") for values in steps}
    return {step.id for step in plan.steps if step.id not in kept}


def _apply_steps(plan: FollowUpPlan, steps: list[dict]) -> None:
    """Replace the plan's steps in the given order; a row carrying the id of one of this plan's
    steps updates it in place, so touches made from it stay linked to it."""
    existing = {step.id: step for step in plan.steps}
    ordered = []
    for position, values in enumerate(steps):
        step = existing.pop(_whole_number(values.get("id") or "") or 0, None) or PlanStep()
        step.position = position
        step.offset_minutes = int(_whole_number(values.get("offset_minutes", 0)) or 0)
        step.offset_from = values.get("offset_from") or "arrival"
        step.channel = values["channel"]
        step.template_key = str(values.get("template_key") or "").strip()
        step.title = str(values.get("title") or "").strip()
        step.business_hours = bool(values.get("business_hours"))
        ordered.append(step)
    plan.steps = ordered


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan and what the save did to the leads already on it."""

    plan: FollowUpPlan
    steps_cancelled: int = 0
    leads_stopped: int = 0


def save_plan(
    plan_id: int | None,
    name: str,
    description: str,
    active: bool,
    steps: list[dict],
    *,
    stop_leads: bool = False,
    by: User | None = None,
) -> SavedPlan:
    """Create (plan_id None) or replace a plan and its steps, in order; commits.

    Each step: offset_minutes, offset_from, channel, template_key, title, business_hours, and
    optionally the id of the step it edits. Only leads that start the plan from now on follow
    an edited step; touches already scheduled keep their times. A removed step is cancelled on
    the leads where no worker has taken it yet. A plan saved switched off with `stop_leads`
    stops the follow-up of the leads on it. Raises InvalidPlan or PlanNotFound."""
    plan = get_plan(plan_id) if plan_id is not None else None
    problems = check_plan(name, steps)
    if problems:
        raise InvalidPlan(problems)
    if plan is None:
        plan = FollowUpPlan(key=_new_key(name))
        db.session.add(plan)
    now = now_utc()
    plan.name, plan.description, plan.active = name.strip(), description.strip(), bool(active)
    plan.updated_at = now
    # before the steps go: their touches lose the link to them (ON DELETE SET NULL)
    cancelled = cancel_removed_steps(plan, _removed_step_ids(plan, steps), now, by)
    _apply_steps(plan, steps)
    stopped = stop_leads_on(plan, now, by) if stop_leads and not plan.active else 0
    try:
        db.session.commit()
    except IntegrityError as error:  # the same new plan saved twice at once
        db.session.rollback()
        raise InvalidPlan(
            {"name": "Saved by someone else just now; reload and try again."}
        ) from error
    return SavedPlan(plan, cancelled, stopped)


# --- rules ----------------------------------------------------------------------------------


def list_rules() -> list[PlanRule]:
    """The rules in the order they are tried."""
    query = select(PlanRule).options(joinedload(PlanRule.plan))
    return list(db.session.scalars(query.order_by(PlanRule.position, PlanRule.id)))


def _rule_problems(rule: dict, plans: dict[str, FollowUpPlan]) -> dict[str, str]:
    problems = {}
    if rule.get("department") and rule["department"] not in DEPARTMENTS:
        problems["department"] = f"unknown department {rule['department']!r}"
    if rule.get("sales_kind") and rule["sales_kind"] not in SALES_KINDS:
        problems["sales_kind"] = "new or used"
    if rule.get("interest") and rule["interest"] not in INTERESTS:
        problems["interest"] = f"unknown interest {rule['interest']!r}"
    if len(str(rule.get("source") or "").strip()) > 100:
        problems["source"] = "the source is longer than 100 characters"
    if rule.get("after_hours") not in (None, True, False):
        problems["after_hours"] = "any time, after hours or during hours"
    if rule.get("plan") not in plans:
        problems["plan"] = "choose a plan"
    return problems


def save_rules(rules: list[dict]) -> list[PlanRule]:
    """Replace the rules table, in order (the first match wins); commits.

    Each rule: department, sales_kind, source, interest ("" matches any), after_hours (None,
    True or False) and plan (a plan key). Raises InvalidPlan."""
    plans = {p.key: p for p in db.session.scalars(select(FollowUpPlan))}
    problems = {
        f"rule-{number}.{field}": f"Rule {number}: {problem}."
        for number, rule in enumerate(rules, start=1)
        for field, problem in _rule_problems(rule, plans).items()
    }
    if problems:
        raise InvalidPlan(problems)
    for old in list_rules():
        db.session.delete(old)
    made = [
        PlanRule(
            position=position,
            plan=plans[rule["plan"]],
            department=rule.get("department") or "",
            sales_kind=rule.get("sales_kind") or "",
            source=str(rule.get("source") or "").strip(),
            interest=rule.get("interest") or "",
            after_hours=rule.get("after_hours"),
        )
        for position, rule in enumerate(rules)
    ]
    db.session.add_all(made)
    db.session.commit()
    return made
