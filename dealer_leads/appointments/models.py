"""An appointment at the showroom, the vehicles to have ready for it, and its history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

APPOINTMENT_KINDS = {
    "test_drive": "Test drive",
    "appraisal": "Appraisal",
    "delivery": "Delivery",
    "general": "General",
}
# booked → confirmed → shown → sold;  booked | confirmed → no_show | cancelled
APPOINTMENT_STATUSES = ("booked", "confirmed", "shown", "no_show", "sold", "cancelled")
ACTIVE_STATUSES = ("booked", "confirmed")
SHOWN_STATUSES = ("shown", "sold")


class Appointment(db.Model):
    """One visit booked for a lead with an advisor; `sequence` rises on every change (RFC 5545)."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_advisor_id_starts_at", "advisor_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(12), default="general")
    status: Mapped[str] = mapped_column(String(10), default="booked")
    notes: Mapped[str] = mapped_column(Text, default="")
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    booked_via: Mapped[str] = mapped_column(String(12), default="staff")  # staff, api, customer
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lead = relationship("Lead")
    advisor = relationship("User", foreign_keys=[advisor_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    vehicles: Mapped[list[AppointmentVehicle]] = relationship(
        back_populates="appointment",
        order_by="AppointmentVehicle.id",
        cascade="all, delete-orphan",
    )


class AppointmentVehicle(db.Model):
    """A stock vehicle to have ready, with its price and status when the visit was booked."""

    __tablename__ = "appointment_vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    price_at_booking: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status_at_booking: Mapped[str] = mapped_column(String(20), default="")
    # The change the advisor was last told about ("sold", "price 31995.00"), so the sweep
    # notifies each change once.
    change_noticed: Mapped[str] = mapped_column(String(40), default="")

    appointment: Mapped[Appointment] = relationship(back_populates="vehicles")
    vehicle = relationship("Vehicle")
