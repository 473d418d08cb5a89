"""Where a prospect lands: a new lead built in memory, or a repeat of an inquiry (the same
provider id, or an open lead of the same customer) added to the lead it repeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_

from dealer_leads.cadence.services import open_task, pause_automatic
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadSource, LeadVehicle
from dealer_leads.leads.normalize import LeadIn, VehicleIn, sales_kind
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.consent import record_implied_consent


@dataclass
class IntakeResult:
    """What became of one prospect: the lead it landed on and why."""

    lead_id: int
    customer_id: int
    duplicate: bool
    warnings: list[str] = field(default_factory=list)
    rule: str = ""

    def as_dict(self) -> dict:
        return {
            "lead_id": self.lead_id,
            "customer_id": self.customer_id,
            "duplicate": self.duplicate,
            "warnings": self.warnings,
        }


def new_lead(
    prospect: LeadIn,
    customer: Customer,
    inbound: InboundPayload,
    source: str,
    provider_id: str | None,
    now: datetime,
    warnings: list[str],
    *,
    department: str,
    routing_rule: str,
) -> Lead:
    """A new lead for the prospect, with its vehicles and source, built in memory."""
    lead = Lead(
        customer=customer,
        inbound_id=inbound.id,
        channel=inbound.channel,
        source=source,
        latest_source=source,
        department=department,
        sales_kind=sales_kind(prospect),
        routing_rule=routing_rule,
        status="new",
        comments=prospect.comments[:50_000],
        received_at=now,
        last_activity_at=now,
        extensions=dict(prospect.extensions),
        warnings=warnings,
    )
    db.session.add(lead)
    lead.vehicles = [_lead_vehicle(wanted) for wanted in prospect.vehicles]
    lead.sources = [
        LeadSource(
            source=source,
            source_key=source.lower(),
            provider_lead_id=provider_id,
            inbound_id=inbound.id,
            received_at=now,
        )
    ]
    return lead


def _lead_vehicle(wanted: VehicleIn) -> LeadVehicle:
    vehicle = LeadVehicle(
        interest=wanted.interest,
        status=wanted.status,
        year=wanted.year,
        make=wanted.make[:50],
        model=wanted.model[:50],
        trim=wanted.trim[:80],
        vin=wanted.vin[:17],
        stock=wanted.stock[:30],
        odometer=wanted.odometer,
        odometer_units=wanted.odometer_units[:5],
        price=wanted.price,
        color=wanted.color[:50],
        comments=wanted.comments[:2000],
    )
    if wanted.interest not in ("trade-in", "sell"):
        vehicle.vehicle_id = _stock_vehicle_id(wanted.vin, wanted.stock)
    return vehicle


def _stock_vehicle_id(vin: str, stock: str) -> int | None:
    """Link to our inventory by VIN, else by stock number."""
    conditions = []
    if len(vin) == 17:
        conditions.append(Vehicle.vin == vin)
    if stock:
        conditions.append(func.upper(Vehicle.stock_number) == stock.upper())
    if not conditions:
        return None
    return db.session.scalar(db.select(Vehicle.id).where(or_(*conditions)).limit(1))


def same_provider_id(
    lead: Lead,
    source: str,
    provider_id: str,
    inbound: InboundPayload,
    now: datetime,
    warnings: list[str],
) -> IntakeResult:
    """A provider sent a lead it sent before: one more line on the lead it became."""
    lead = _surviving(lead)
    record_event(
        lead,
        "duplicate",
        f"{source} sent lead {provider_id} again; kept as one lead",
        at=now,
        rule="same provider id",
        source=source,
        inbound_id=inbound.id,
    )
    db.session.flush()
    warnings.append(f"{source} lead {provider_id} was received before as lead #{lead.id}")
    return IntakeResult(lead.id, lead.customer_id, True, warnings, rule="same provider id")


def _surviving(lead: Lead) -> Lead:
    """Follow merges to the lead that absorbed this one."""
    seen = set()
    while lead.merged_into_id and lead.id not in seen:
        seen.add(lead.id)
        lead = db.session.get(Lead, lead.merged_into_id)
    return lead


def repeat_inquiry(
    lead: Lead,
    prospect: LeadIn,
    source: str,
    provider_id: str | None,
    inbound: InboundPayload,
    now: datetime,
    warnings: list[str],
    rule: str,
) -> IntakeResult:
    """Add an inquiry to the customer's open lead: its source, new vehicles and comments."""
    db.session.add(
        LeadSource(
            lead=lead,
            source=source,
            source_key=source.lower(),
            provider_lead_id=provider_id,
            inbound_id=inbound.id,
            received_at=now,
        )
    )
    known = {(v.vin, v.stock, v.year, v.make.lower(), v.model.lower()) for v in lead.vehicles}
    for wanted in prospect.vehicles:
        key = (wanted.vin, wanted.stock, wanted.year, wanted.make.lower(), wanted.model.lower())
        if key not in known:
            lead.vehicles.append(_lead_vehicle(wanted))
    if prospect.comments:
        lead.comments = (
            f"{lead.comments}\n\n[{source}, {now:%Y-%m-%d %H:%M} UTC]\n{prospect.comments}".strip()[
                :50_000
            ]
        )
    lead.latest_source = source
    record_event(
        lead,
        "repeat_inquiry",
        f"New inquiry from {source} added to this open lead",
        at=now,
        rule=rule,
        source=source,
        inbound_id=inbound.id,
        comments=prospect.comments[:2000],
    )
    record_implied_consent(lead.customer, "inquiry", now, source=f"inquiry via {source}")
    _alert_someone(lead, f"new inquiry from {source}", now)
    db.session.flush()
    warnings.append(f"added to open lead #{lead.id} ({rule})")
    return IntakeResult(lead.id, lead.customer_id, True, warnings, rule=rule)


def _alert_someone(lead: Lead, reason: str, now: datetime) -> None:
    """Pause the automatic follow-up with a task for the assignee to answer; with nothing to
    pause or nobody assigned, still a task due now (an unassigned one waits in the supervisor's
    task list), so the customer is not left waiting."""
    assigned = lead.assigned_to_id is not None
    paused = pause_automatic(lead, reason, now, alert=assigned)
    if not (paused and assigned):
        open_task(lead, f"Respond: {reason}", now)
