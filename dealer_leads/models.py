"""Imports every feature's models so the metadata (and Alembic) sees all tables."""

from dealer_leads.admin.models import Dealership
from dealer_leads.auth.models import ApiKey, User
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import (
    Customer,
    InboundPayload,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
    Merge,
)

__all__ = [
    "ApiKey",
    "Customer",
    "Dealership",
    "InboundPayload",
    "Lead",
    "LeadEvent",
    "LeadSource",
    "LeadVehicle",
    "Merge",
    "User",
    "Vehicle",
]
