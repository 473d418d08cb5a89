"""Vehicles in stock, their photos, and DMS imports. Leads link to vehicles by VIN or stock."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

VEHICLE_STATUSES = ("in_transit", "available", "pending", "sold", "hidden")
IN_STOCK_STATUSES = ("in_transit", "available", "pending")
CONDITIONS = ("new", "used", "certified")
ODOMETER_UNITS = ("km", "mi")
DECODE_STATES = ("", "decoded", "offline", "pending")
PHOTO_STATES = ("pending", "processing", "ready", "failed")


class Vehicle(db.Model):
    """A vehicle the dealership has or is about to have on the lot."""

    __tablename__ = "vehicles"
    __table_args__ = (Index("ix_vehicles_status_in_stock_on", "status", "in_stock_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    stock_number: Mapped[str] = mapped_column(String(30), index=True, default="")
    year: Mapped[int | None]
    make: Mapped[str] = mapped_column(String(50), default="", index=True)
    model: Mapped[str] = mapped_column(String(50), default="")
    trim: Mapped[str] = mapped_column(String(80), default="")
    body_style: Mapped[str] = mapped_column(String(40), default="")
    condition: Mapped[str] = mapped_column(String(20), default="new")
    odometer: Mapped[int | None]
    odometer_unit: Mapped[str] = mapped_column(String(2), default="km")
    exterior_color: Mapped[str] = mapped_column(String(50), default="")
    interior_color: Mapped[str] = mapped_column(String(50), default="")
    drivetrain: Mapped[str] = mapped_column(String(30), default="")
    fuel: Mapped[str] = mapped_column(String(30), default="")
    transmission: Mapped[str] = mapped_column(String(30), default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    msrp: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20), default="available")
    in_stock_on: Mapped[date | None]
    options: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    vin_override: Mapped[bool] = mapped_column(default=False)
    decode_state: Mapped[str] = mapped_column(String(10), default="")
    decode_data: Mapped[dict] = mapped_column(JSON, default=dict)
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_photo_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    photos: Mapped[list[VehiclePhoto]] = relationship(
        back_populates="vehicle", order_by="VehiclePhoto.position", cascade="all, delete-orphan"
    )

    @property
    def title(self) -> str:
        return " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)


class VehiclePhoto(db.Model):
    """One uploaded photo: the private original and, once processed, its public derivatives."""

    __tablename__ = "vehicle_photos"
    __table_args__ = (
        Index("ix_vehicle_photos_vehicle_id_position", "vehicle_id", "position"),
        Index("ix_vehicle_photos_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    position: Mapped[int] = mapped_column(default=0)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    original_path: Mapped[str] = mapped_column(String(300))
    original_sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50), default="")
    width: Mapped[int | None]
    height: Mapped[int | None]
    is_placeholder: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    error: Mapped[str] = mapped_column(Text, default="")
    # {"large.jpeg": {"file": "ab12…-large.jpg", "width": 1600, "height": 1200}, …}
    derivatives: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    vehicle: Mapped[Vehicle] = relationship(back_populates="photos")


class InventoryImport(db.Model):
    """One DMS file import: the file as received, the mapping used, and what it changed."""

    __tablename__ = "inventory_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    complete: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="previewed")
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    marked_sold: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
