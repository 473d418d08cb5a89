"""`flask plans install-defaults` adds what is missing and keeps what was edited; the rules
shipped before are replaced when nobody edited them."""

from dealer_leads.cadence import plan_services
from dealer_leads.cadence.defaults import EARLIER_RULES, RULES
from dealer_leads.cadence.models import FollowUpPlan, PlanRule
from dealer_leads.extensions import db
from dealer_leads.messaging.models import MessageTemplate


def test_install_defaults_is_idempotent(runner):
    first = runner.invoke(args=["plans", "install-defaults"])
    assert first.exit_code == 0, first.output
    plan = db.session.scalar(db.select(FollowUpPlan).where(FollowUpPlan.key == "new_vehicle"))
    plan.name = "Our own new-car plan"
    db.session.commit()
    counts = [
        db.session.scalar(db.select(db.func.count(m.id)))
        for m in (FollowUpPlan, PlanRule, MessageTemplate)
    ]
    second = runner.invoke(args=["plans", "install-defaults"])
    assert "Added 0 plans and 0 templates" in second.output
    assert counts == [
        db.session.scalar(db.select(db.func.count(m.id)))
        for m in (FollowUpPlan, PlanRule, MessageTemplate)
    ]
    assert counts[0] == 8 and counts[1] == len(RULES) and counts[2] >= 19
    db.session.refresh(plan)
    assert plan.name == "Our own new-car plan"


def _rules() -> list[tuple]:
    return [
        (r.plan.key, r.department, r.sales_kind, r.interest, r.after_hours)
        for r in plan_services.list_rules()
    ]


def _install_earlier_rules(*extra: dict) -> None:
    """The rules as installations made before the fix have them, after any `extra` ones."""
    names = ("plan", "department", "sales_kind", "interest", "after_hours")
    earlier = [dict(zip(names, rule, strict=True)) for rule in EARLIER_RULES]
    plan_services.save_rules([*extra, *earlier])


def test_install_defaults_replaces_the_rules_shipped_before(runner):
    runner.invoke(args=["plans", "install-defaults"])
    _install_earlier_rules()  # an installation made before the fix
    assert _rules() == EARLIER_RULES

    result = runner.invoke(args=["plans", "install-defaults"])
    assert result.exit_code == 0, result.output
    assert "Updated the plan rules" in result.output
    db.session.expire_all()
    assert _rules() == RULES
    again = runner.invoke(args=["plans", "install-defaults"])
    assert "Updated the plan rules" not in again.output and _rules() == RULES


def test_install_defaults_keeps_rules_someone_edited(runner):
    runner.invoke(args=["plans", "install-defaults"])
    _install_earlier_rules({"source": "CarGurus", "plan": "long_term"})
    before = _rules()
    result = runner.invoke(args=["plans", "install-defaults"])
    assert "Updated the plan rules" not in result.output
    db.session.expire_all()
    assert _rules() == before and len(before) == len(EARLIER_RULES) + 1
