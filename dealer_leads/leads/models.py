"""Inbound payloads, customers, leads, their vehicles, sources, timeline events and merges."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

CHANNELS = ("form", "api", "adf", "email", "manual")
INBOUND_STATUSES = ("received", "processed", "failed", "discarded", "spam")
LEAD_STATUSES = ("new", "contacted", "engaged", "appointment", "shown", "sold", "lost")
OPEN_STATUSES = ("new", "contacted", "engaged", "appointment", "shown")
# Predicates of the partial indexes on leads (SQL, as the migration writes them).
_NOT_ANSWERED = "first_response_at IS NULL AND merged_into_id IS NULL"
_AWAITING = f"{_NOT_ANSWERED} AND status IN ({', '.join(map(repr, OPEN_STATUSES))})"
# Department leads not yet forwarded to the department's address (messaging/forwarding_jobs.py);
# the job's query repeats this text so that SQLite matches it against the index predicate.
UNFORWARDED = (
    "forwarded_at IS NULL AND merged_into_id IS NULL"
    " AND department IN ('service', 'parts', 'finance')"
)


class InboundPayload(db.Model):
    """Everything received, byte for byte, written before any parsing is attempted."""

    __tablename__ = "inbound_payloads"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key"),
        Index("ix_inbound_payloads_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(200), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    status: Mapped[str] = mapped_column(String(12), default="received")
    error: Mapped[str] = mapped_column(Text, default="")
    source_ip: Mapped[str] = mapped_column(String(45), default="")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64), default="")
    response: Mapped[dict | None] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def text(self) -> str:
        """The raw bytes as text for people to read; undecodable bytes shown as replacements."""
        return self.raw.decode("utf-8", errors="replace")


class Customer(db.Model):
    """A person, matched across inquiries by e-mail or phone."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    email_valid: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)
    phone_valid: Mapped[bool] = mapped_column(default=True)
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    leads: Mapped[list[Lead]] = relationship(
        back_populates="customer", foreign_keys="Lead.customer_id"
    )

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or "(no name)"


class Lead(db.Model):
    """One sales opportunity (or service/parts/finance request) and its state."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_queue", "status", "received_at"),
        Index("ix_leads_assigned_to_id_received_at", "assigned_to_id", "received_at"),
        Index("ix_leads_received_at", "received_at"),
        # Leads awaiting a first response: a few hundred of 100,000, so partial indexes. The
        # engines need different ones. SQLite's planner cannot match `status IN (?, ...)`, with
        # bound parameters, against an index predicate, and counts only with status leading:
        # ix_leads_awaiting serves its count and list. PostgreSQL walks ix_leads_received_at
        # for the list unless an index gives the order by itself: ix_leads_awaiting_by_age
        # (unused by SQLite; the predicate keeps both small on both engines).
        Index(
            "ix_leads_awaiting",
            "status",
            "received_at",
            sqlite_where=text(_NOT_ANSWERED),
            postgresql_where=text(_AWAITING),
        ),
        Index(
            "ix_leads_awaiting_by_age",
            "received_at",
            "id",
            sqlite_where=text(_AWAITING),
            postgresql_where=text(_AWAITING),
        ),
        # The few merged leads, for reports that credit their rows to the survivor (0008).
        # Partial: a query on unmerged leads (merged_into_id IS NULL) can never pick it.
        Index(
            "ix_leads_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
        # Open leads per department (`count_open_by_department` groups by status, department).
        # Not a plain index on merged_into_id: the planner would then pick it for the queue's
        # "answered" list and read every lead.
        Index(
            "ix_leads_open_by_department",
            "status",
            "department",
            sqlite_where=text("merged_into_id IS NULL"),
            postgresql_where=text("merged_into_id IS NULL"),
        ),
        # Department leads waiting to be forwarded: a handful of 100,000. Department first, so
        # the job seeks the departments that have an address and skips those waiting for one.
        Index(
            "ix_leads_unforwarded",
            "department",
            "received_at",
            "id",
            sqlite_where=text(UNFORWARDED),
            postgresql_where=text(UNFORWARDED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payloads.id"))
    channel: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(100), index=True)
    latest_source: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(10), default="sales", index=True)
    sales_kind: Mapped[str] = mapped_column(String(4), default="new")
    routing_rule: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12), default="new")
    lost_reason: Mapped[str] = mapped_column(String(200), default="")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comments: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    extensions: Mapped[dict] = mapped_column(JSON, default=dict)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    # When a service/parts/finance lead was forwarded to the department (set when the send is
    # claimed; cleared again if it fails, so it is retried).
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="leads", foreign_keys=[customer_id])
    assigned_to = relationship("User", foreign_keys=[assigned_to_id])
    inbound: Mapped[InboundPayload | None] = relationship()
    vehicles: Mapped[list[LeadVehicle]] = relationship(
        back_populates="lead", order_by="LeadVehicle.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="(LeadEvent.at, LeadEvent.id)", cascade="all, delete-orphan"
    )
    sources: Mapped[list[LeadSource]] = relationship(
        back_populates="lead", order_by="LeadSource.received_at", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES and self.merged_into_id is None


class LeadSource(db.Model):
    """Each inquiry that credited a lead; one provider id is one lead (unique constraint)."""

    __tablename__ = "lead_sources"
    __table_args__ = (UniqueConstraint("source_key", "provider_lead_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    source_key: Mapped[str] = mapped_column(String(100))
    provider_lead_id: Mapped[str | None] = mapped_column(String(200))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payloads.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    lead: Mapped[Lead] = relationship(back_populates="sources")


class LeadVehicle(db.Model):
    """A vehicle named on a lead: wanted, or a trade-in; linked to stock when it is ours."""

    __tablename__ = "lead_vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    interest: Mapped[str] = mapped_column(String(12), default="buy")
    status: Mapped[str] = mapped_column(String(6), default="")
    year: Mapped[int | None]
    make: Mapped[str] = mapped_column(String(50), default="")
    model: Mapped[str] = mapped_column(String(50), default="")
    trim: Mapped[str] = mapped_column(String(80), default="")
    vin: Mapped[str] = mapped_column(String(17), default="", index=True)
    stock: Mapped[str] = mapped_column(String(30), default="", index=True)
    odometer: Mapped[int | None]
    odometer_units: Mapped[str] = mapped_column(String(5), default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    color: Mapped[str] = mapped_column(String(50), default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))

    lead: Mapped[Lead] = relationship(back_populates="vehicles")
    vehicle = relationship("Vehicle")

    @property
    def title(self) -> str:
        text = " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)
        return text or self.vin or self.stock or "(vehicle not named)"


class LeadEvent(db.Model):
    """One line of a lead's timeline; `data` keeps the details (rule fired, old values…)."""

    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_lead_id_at", "lead_id", "at"),
        # The dashboard's monthly sales read the status lines by time (migration 0008).
        Index("ix_lead_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    summary: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lead: Mapped[Lead] = relationship(back_populates="events")
    user = relationship("User")


class Merge(db.Model):
    """A merge of two leads or two customers, with what it takes to undo it."""

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "lead" or "customer"
    survivor_id: Mapped[int]
    merged_id: Mapped[int]
    choices: Mapped[dict] = mapped_column(JSON, default=dict)
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
