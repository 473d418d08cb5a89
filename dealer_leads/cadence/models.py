"""Follow-up plans (data the supervisor edits), the plan a lead is on, and its due touches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

STEP_CHANNELS = {
    "auto_email": "Automatic e-mail",
    "auto_sms": "Automatic text",
    "call_task": "Call (task)",
    "email_task": "E-mail to write (task)",
    "task": "Task",
}
AUTOMATIC_CHANNELS = ("auto_email", "auto_sms")
OFFSET_FROM = ("arrival", "previous")
# A plan's "arrival" is the moment it starts from: the lead's arrival for the sales plans, the
# appointment's start for the confirmation plan (whose offsets are negative: before the visit).
CONFIRMATION_PLAN = "appointment_confirmation"
COUNTED_FROM_APPOINTMENT = frozenset({CONFIRMATION_PLAN})
CADENCE_STATES = ("active", "paused", "stopped", "finished")
# scheduled → claimed → sent | failed | unknown (automatic);  scheduled → open → done (person)
TOUCH_STATES = (
    "scheduled",
    "held",
    "claimed",
    "sent",
    "open",
    "done",
    "skipped",
    "cancelled",
    "failed",
    "unknown",
)
PENDING_TOUCH_STATES = ("scheduled", "held", "open")


class FollowUpPlan(db.Model):
    """An ordered list of steps; `key` names the shipped plans the rules and switches refer to."""

    __tablename__ = "followup_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    steps: Mapped[list[PlanStep]] = relationship(
        back_populates="plan", order_by="PlanStep.position", cascade="all, delete-orphan"
    )


class PlanStep(db.Model):
    """One step: when (offset from arrival or from the previous step), how, and with what."""

    __tablename__ = "plan_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("followup_plans.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    offset_minutes: Mapped[int] = mapped_column(default=0)
    offset_from: Mapped[str] = mapped_column(String(10), default="arrival")
    channel: Mapped[str] = mapped_column(String(12))
    template_key: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    business_hours: Mapped[bool] = mapped_column(default=False)

    plan: Mapped[FollowUpPlan] = relationship(back_populates="steps")


class PlanRule(db.Model):
    """Which plan a new lead starts on: the first matching rule by position wins."""

    __tablename__ = "plan_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    plan_id: Mapped[int] = mapped_column(ForeignKey("followup_plans.id"))
    department: Mapped[str] = mapped_column(String(10), default="")  # "" matches any
    sales_kind: Mapped[str] = mapped_column(String(4), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    interest: Mapped[str] = mapped_column(String(12), default="")
    after_hours: Mapped[bool | None]

    plan: Mapped[FollowUpPlan] = relationship()


class LeadCadence(db.Model):
    """The plan one lead is on and its state (active, paused, stopped, finished) with why."""

    __tablename__ = "lead_cadences"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), unique=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("followup_plans.id"))
    state: Mapped[str] = mapped_column(String(10), default="active")
    reason: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    plan: Mapped[FollowUpPlan | None] = relationship()


class Touch(db.Model):
    """One due touch of a lead's plan. Automatic ones are claimed by a worker tick and sent
    once; a claim with no recorded outcome after a crash becomes 'unknown' for a person."""

    __tablename__ = "touches"
    __table_args__ = (
        Index("ix_touches_status_due_at", "status", "due_at"),
        Index("ix_touches_lead_id_due_at", "lead_id", "due_at"),
        Index("ix_touches_assigned_to_id_status_due_at", "assigned_to_id", "status", "due_at"),
        # Person tasks due in a range, whatever their state (the missed-steps figures; 0008).
        Index("ix_touches_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("followup_plans.id"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("plan_steps.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(12))
    template_key: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(60), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(250), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    lead = relationship("Lead")
    assigned_to = relationship("User", foreign_keys=[assigned_to_id])
