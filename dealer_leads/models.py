"""Imports every feature's models so the metadata (and Alembic) sees all tables."""

from dealer_leads.admin.models import Dealership
from dealer_leads.appointments.models import Appointment, AppointmentVehicle
from dealer_leads.auth.models import ApiKey, User
from dealer_leads.cadence.models import FollowUpPlan, LeadCadence, PlanRule, PlanStep, Touch
from dealer_leads.inventory.feed_models import FeedConsumer, FeedExport, Promotion
from dealer_leads.inventory.models import InventoryImport, Vehicle, VehiclePhoto
from dealer_leads.leads.models import (
    Customer,
    InboundPayload,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
    Merge,
)
from dealer_leads.messaging.models import Consent, MessageTemplate, OutboundMessage, Suppression
from dealer_leads.reports.models import Objective

__all__ = [
    "Appointment",
    "AppointmentVehicle",
    "Consent",
    "FollowUpPlan",
    "LeadCadence",
    "MessageTemplate",
    "Objective",
    "OutboundMessage",
    "PlanRule",
    "PlanStep",
    "Suppression",
    "Touch",
    "InventoryImport",
    "FeedConsumer",
    "FeedExport",
    "Promotion",
    "VehiclePhoto",
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
