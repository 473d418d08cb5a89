"""Monthly objectives set by the supervisor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

OBJECTIVE_METRICS = {"appointments": "Appointments set", "shows": "Shows", "sales": "Sales"}


class Objective(db.Model):
    """One monthly goal: a metric for one advisor, or for the whole team when advisor_id is null."""

    __tablename__ = "objectives"
    __table_args__ = (UniqueConstraint("month", "metric", "advisor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2026-11": a calendar month, dealership time
    metric: Mapped[str] = mapped_column(String(12))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    target: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    advisor = relationship("User", foreign_keys=[advisor_id])
