"""Vehicles in stock. Leads link to them by VIN or stock number."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

VEHICLE_STATUSES = ("in_transit", "available", "pending", "sold", "hidden")
CONDITIONS = ("new", "used", "certified")


class Vehicle(db.Model):
    """A vehicle the dealership has or is about to have on the lot."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    stock_number: Mapped[str] = mapped_column(String(30), index=True, default="")
    year: Mapped[int | None]
    make: Mapped[str] = mapped_column(String(50), default="")
    model: Mapped[str] = mapped_column(String(50), default="")
    trim: Mapped[str] = mapped_column(String(80), default="")
    body_style: Mapped[str] = mapped_column(String(40), default="")
    condition: Mapped[str] = mapped_column(String(20), default="new")
    odometer: Mapped[int | None]
    exterior_color: Mapped[str] = mapped_column(String(50), default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    msrp: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20), default="available")
    in_stock_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    @property
    def title(self) -> str:
        return " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)
