"""`flask plans install-defaults` adds what is missing and keeps what was edited."""

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
    assert counts[0] == 8 and counts[1] == 4 and counts[2] >= 19
    db.session.refresh(plan)
    assert plan.name == "Our own new-car plan"
