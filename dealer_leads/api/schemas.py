"""Pure serializers from models to the API's JSON shapes (DESIGN.md §5)."""

from __future__ import annotations

from datetime import UTC, datetime

from dealer_leads.leads.models import Customer, Lead, LeadEvent, LeadSource, LeadVehicle


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset, or None."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def customer_to_dict(customer: Customer) -> dict:
    """The customer as the API shows it; the phone is E.164 unless it could not be read."""
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
    }


def vehicle_to_dict(vehicle: LeadVehicle) -> dict:
    """A vehicle named on the lead; unknown text is '' and an unknown year null."""
    return {
        "interest": vehicle.interest,
        "status": vehicle.status,
        "year": vehicle.year,
        "make": vehicle.make,
        "model": vehicle.model,
        "trim": vehicle.trim,
        "vin": vehicle.vin,
        "stock": vehicle.stock,
    }


def source_to_dict(source: LeadSource) -> dict:
    """One inquiry that credited the lead."""
    return {
        "source": source.source,
        "provider_lead_id": source.provider_lead_id,
        "received_at": isoformat(source.received_at),
    }


def event_to_dict(event: LeadEvent) -> dict:
    """A timeline line; the summary is plain text (escaping is the reader's job)."""
    return {"kind": event.kind, "at": isoformat(event.at), "summary": event.summary}


def cadence_to_dict(summary: dict | None) -> dict | None:
    """The follow-up plan's state: plan key, active/paused/stopped/finished with the reason."""
    if summary is None:
        return None
    return {
        "plan": summary["plan"],
        "state": summary["state"],
        "reason": summary["reason"],
        "next_touch_at": isoformat(summary["next_touch_at"]),
    }


def lead_to_dict(lead: Lead, cadence: dict | None = None) -> dict:
    """The normalised lead, its sources, its whole timeline (oldest first) and its plan."""
    events = sorted(lead.events, key=lambda event: (event.at, event.id or 0))
    sources = sorted(lead.sources, key=lambda source: (source.received_at, source.id or 0))
    return {
        "id": lead.id,
        "customer": customer_to_dict(lead.customer),
        "vehicles": [vehicle_to_dict(vehicle) for vehicle in lead.vehicles],
        "source": lead.source,
        "sources": [source_to_dict(source) for source in sources],
        "department": lead.department,
        "status": lead.status,
        "lost_reason": lead.lost_reason,
        "assigned_to": lead.assigned_to.email if lead.assigned_to else None,
        "comments": lead.comments,
        "received_at": isoformat(lead.received_at),
        "first_response_at": isoformat(lead.first_response_at),
        "extensions": dict(lead.extensions or {}),
        "warnings": list(lead.warnings or []),
        "merged_into_id": lead.merged_into_id,
        "timeline": [event_to_dict(event) for event in events],
        "cadence": cadence_to_dict(cadence),
    }
