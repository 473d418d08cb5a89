"""The dealership's own settings, edited by the admin (not constants)."""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from dealer_leads.extensions import db


class Dealership(db.Model):
    """Name, address, zone and lead rules of the one rooftop this installation serves."""

    __tablename__ = "dealerships"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="CA")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/Toronto")
    # {"mon": ["09:00", "21:00"], ..., "sun": null}
    business_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    # {"service": "service@…", "parts": "…", "finance": "…"}
    department_emails: Mapped[dict] = mapped_column(JSON, default=dict)
    duplicate_window_days: Mapped[int] = mapped_column(default=30)
    # Compliance: "CA" (CASL) or "US" (CAN-SPAM, TCPA); calls and texts only within quiet hours.
    compliance_regime: Mapped[str] = mapped_column(String(2), default="CA")
    quiet_start: Mapped[str] = mapped_column(String(5), default="09:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="20:00")
    holidays: Mapped[list] = mapped_column(JSON, default=list)  # ["2026-12-25", …]
    auto_assign: Mapped[bool] = mapped_column(default=True)

    @property
    def address_line(self) -> str:
        parts = [self.street, self.city, " ".join(p for p in (self.region, self.postal_code) if p)]
        return ", ".join(p for p in parts if p)
