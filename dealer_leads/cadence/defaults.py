"""The follow-up plans a dealership starts with, grounded in how good BDCs work leads.

Offsets are minutes from the lead's arrival (or, for appointment plans, from the appointment's
start: reminders have negative offsets). Calls wait for business hours; automatic e-mails go at
any hour, texts only within quiet hours (the compliance module moves them).
"""

from __future__ import annotations

from dealer_leads.cadence.models import CONFIRMATION_PLAN
from dealer_leads.extensions import db

DAY, HOUR = 24 * 60, 60


def _step(
    offset: int, channel: str, template: str = "", title: str = "", business_hours: bool = False
) -> dict:
    return {
        "offset_minutes": offset,
        "channel": channel,
        "template_key": template,
        "title": title,
        "business_hours": business_hours,
    }


def _call(offset: int, title: str) -> dict:
    return _step(offset, "call_task", title=title, business_hours=True)


NURTURE = [_step(days * DAY, "auto_email", "nurture_monthly") for days in (60, 90, 120, 150, 180)]

PLANS = {
    "new_vehicle": (
        "New-vehicle lead",
        "Answer at once, call within 5 minutes, then a steady "
        "mix of calls, e-mails and texts for 30 days, then monthly.",
        [
            _step(0, "auto_email", "auto_response"),
            _call(5, "First call: within 5 minutes"),
            _step(HOUR, "auto_sms", "text_intro"),
            _call(DAY, "Day 1 call"),
            _call(2 * DAY, "Day 2 call"),
            _step(2 * DAY, "auto_email", "day2_email"),
            _step(3 * DAY, "auto_sms", "text_day3"),
            _step(5 * DAY, "auto_email", "similar_vehicles"),
            _call(7 * DAY, "Day 7 call"),
            _step(10 * DAY, "auto_email", "day10_email"),
            _step(14 * DAY, "auto_email", "manager_email"),
            _step(21 * DAY, "auto_email", "checkin_21"),
            _step(30 * DAY, "auto_email", "checkin_30"),
            *NURTURE,
        ],
    ),
    "used_vehicle": (
        "Used-vehicle lead",
        "Used cars sell fast: same first hour, similar vehicles early, then the steady plan.",
        [
            _step(0, "auto_email", "auto_response"),
            _call(5, "First call: within 5 minutes (confirm it is still here)"),
            _step(HOUR, "auto_sms", "text_intro"),
            _call(DAY, "Day 1 call"),
            _step(2 * DAY, "auto_email", "similar_vehicles"),
            _call(2 * DAY, "Day 2 call"),
            _step(3 * DAY, "auto_sms", "text_day3"),
            _call(5 * DAY, "Day 5 call"),
            _step(7 * DAY, "auto_email", "day10_email"),
            _step(14 * DAY, "auto_email", "manager_email"),
            _step(21 * DAY, "auto_email", "checkin_21"),
            _step(30 * DAY, "auto_email", "checkin_30"),
            *NURTURE,
        ],
    ),
    "trade_in": (
        "Trade-in / appraisal",
        "An appraisal request: answer, call to book the appraisal, follow up for two weeks.",
        [
            _step(0, "auto_email", "trade_in_response"),
            _call(5, "Call to book the appraisal"),
            _call(DAY, "Day 1 call"),
            _step(2 * DAY, "auto_email", "day2_email"),
            _call(3 * DAY, "Day 3 call"),
            _step(7 * DAY, "auto_email", "day10_email"),
            _step(14 * DAY, "auto_email", "manager_email"),
            *NURTURE,
        ],
    ),
    "after_hours": (
        "After-hours arrival",
        "Arrived while the showroom is closed: say when we "
        "will call, and call first thing when it opens.",
        [
            _step(0, "auto_email", "auto_response_after_hours"),
            _call(0, "First call at opening"),
            _step(2 * HOUR, "auto_sms", "text_intro", business_hours=True),
            _call(DAY, "Day 1 call"),
            _call(2 * DAY, "Day 2 call"),
            _step(2 * DAY, "auto_email", "day2_email"),
            _step(5 * DAY, "auto_email", "similar_vehicles"),
            _call(7 * DAY, "Day 7 call"),
            _step(10 * DAY, "auto_email", "day10_email"),
            _step(14 * DAY, "auto_email", "manager_email"),
            _step(30 * DAY, "auto_email", "checkin_30"),
            *NURTURE,
        ],
    ),
    CONFIRMATION_PLAN: (
        "Appointment confirmation",
        "Offsets from the appointment's "
        "start: confirmation at booking (the e-mail with the calendar invitation and a text "
        "go at once), reminders by e-mail and text the day before "
        "and two hours before.",
        [
            _step(-DAY, "auto_email", "appointment_reminder"),
            _step(-DAY, "auto_sms", "appointment_reminder_sms"),
            _call(-3 * HOUR, "Confirm the appointment by phone"),
            _step(-2 * HOUR, "auto_email", "appointment_reminder"),
            _step(-2 * HOUR, "auto_sms", "appointment_reminder_sms"),
        ],
    ),
    "noshow_rebook": (
        "No-show rebook",
        "They did not come: rebook without reproach.",
        [
            _step(30, "auto_email", "noshow_rebook"),
            _call(HOUR, "Call to rebook"),
            _call(DAY, "Day 1 call to rebook"),
            _step(3 * DAY, "auto_email", "similar_vehicles"),
            _call(4 * DAY, "Day 4 call"),
            _step(14 * DAY, "auto_email", "checkin_21"),
        ],
    ),
    "long_term": (
        "Long-term nurture",
        "Not buying soon: stay in touch monthly.",
        [
            _step(30 * DAY, "auto_email", "nurture_monthly"),
            *NURTURE,
        ],
    ),
    "owner_loyalty": (
        "Owner loyalty",
        "After the sale: thanks, a one-week check-in, a review "
        "request, the first service reminder.",
        [
            _step(0, "auto_email", "thank_you_sale"),
            _call(2 * DAY, "Delivery follow-up call"),
            _step(7 * DAY, "auto_email", "week_checkin"),
            _step(10 * DAY, "auto_email", "review_request"),
            _step(150 * DAY, "auto_email", "first_service_reminder"),
        ],
    ),
}

# (plan, department, sales_kind, interest, after_hours) — the first match wins. A rule's
# interest matches when any vehicle of the lead has it, so a purchase that also offers a
# trade-in is caught by the purchase rules first; the trade-in plan gets the leads that only
# bring a vehicle to appraise (to trade in or to sell). A lead naming no vehicle is new.
RULES = [
    ("after_hours", "sales", "", "", True),
    ("used_vehicle", "sales", "used", "", None),
    ("new_vehicle", "sales", "", "buy", None),
    ("new_vehicle", "sales", "", "lease", None),
    ("new_vehicle", "sales", "", "test-drive", None),
    ("trade_in", "sales", "", "trade-in", None),
    ("trade_in", "sales", "", "sell", None),
    ("new_vehicle", "sales", "", "", None),
]
# The rules shipped before, which gave the trade-in plan to any lead listing a trade-in: an
# installation that still has exactly these gets RULES instead (edited rules are kept).
EARLIER_RULES = [
    ("after_hours", "sales", "", "", True),
    ("trade_in", "sales", "", "trade-in", None),
    ("used_vehicle", "sales", "used", "", None),
    ("new_vehicle", "sales", "", "", None),
]

EXTRA_TEMPLATES = [
    {
        "key": "text_day3",
        "name": "Day 3 text",
        "channel": "sms",
        "subject": "",
        "body_text": "Hi {{ customer.first_name }}, {{ advisor.first_name }} from "
        "{{ dealership.name }} here. Still thinking about the "
        "{{ vehicle.title or 'vehicle' }}? I can hold it for a test drive: reply with a "
        "day that suits you.",
        "body_html": "",
    },
    {
        "key": "appointment_confirmation_sms",
        "name": "Appointment confirmation (text)",
        "channel": "sms",
        "subject": "",
        "body_text": "Hi {{ customer.first_name or 'there' }}, you're booked at "
        "{{ dealership.name }} {{ appointment.when }}. Reply C to confirm, or reply with a "
        "better time. - {{ advisor.first_name }}. Reply STOP to opt out.",
        "body_html": "",
    },
]


def ensure_default_plans() -> int:
    """Create the shipped plans and rules that are missing; returns how many plans were made."""
    from dealer_leads.cadence.models import FollowUpPlan, PlanRule, PlanStep
    from dealer_leads.messaging.models import MessageTemplate

    templates = set(db.session.scalars(db.select(MessageTemplate.key)))
    db.session.add_all(
        MessageTemplate(**extra) for extra in EXTRA_TEMPLATES if extra["key"] not in templates
    )
    existing = set(db.session.scalars(db.select(FollowUpPlan.key)))
    made = {}
    for key, (name, description, steps) in PLANS.items():
        if key in existing:
            continue
        plan = FollowUpPlan(key=key, name=name, description=description)
        plan.steps = [PlanStep(position=i, **step) for i, step in enumerate(steps)]
        db.session.add(plan)
        made[key] = plan
    if not db.session.scalar(db.select(db.func.count(PlanRule.id))):
        db.session.flush()
        _add_rules(RULES)
    db.session.commit()
    return len(made)


def _add_rules(rules: list[tuple]) -> None:
    from dealer_leads.cadence.models import FollowUpPlan, PlanRule

    plans = {p.key: p for p in db.session.scalars(db.select(FollowUpPlan))}
    for position, (key, department, kind, interest, after_hours) in enumerate(rules):
        db.session.add(
            PlanRule(
                position=position,
                plan=plans[key],
                department=department,
                sales_kind=kind,
                interest=interest,
                after_hours=after_hours,
            )
        )


def replace_earlier_rules() -> bool:
    """Swap the rules shipped before (trade-in plan for any lead listing a trade-in) for RULES
    when they are still exactly as shipped; rules someone edited are left alone. Commits."""
    from dealer_leads.cadence.models import PlanRule

    rules = db.session.scalars(db.select(PlanRule).order_by(PlanRule.position, PlanRule.id)).all()
    current = [
        (r.plan.key, r.department, r.sales_kind, r.interest, r.after_hours)
        for r in rules
        if not r.source  # no shipped rule names a source
    ]
    if len(current) != len(rules) or current != EARLIER_RULES:
        return False
    for rule in rules:
        db.session.delete(rule)
    db.session.flush()
    _add_rules(RULES)
    db.session.commit()
    return True
