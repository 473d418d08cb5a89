"""The hand-written OpenAPI 3.0.3 document served at /api/v1/openapi.json."""

from __future__ import annotations

import copy

from dealer_leads.api.openapi_builders import (
    CHALLENGE,
    DATETIME,
    NULLABLE_DATETIME,
    error,
    ref,
    text,
)
from dealer_leads.api.openapi_inventory_schemas import INVENTORY_SCHEMAS
from dealer_leads.api.openapi_paths import PATHS
from dealer_leads.auth.models import API_SCOPES
from dealer_leads.cadence.models import CADENCE_STATES
from dealer_leads.leads.channels import MAX_COMMENTS
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS

RESPONSES = {
    "Unauthorized": error("No API key, an unknown key or a revoked key", CHALLENGE),
    "Forbidden": error("The key lacks the scope this operation needs", CHALLENGE),
    "NotFound": error("No such resource"),
    "TooLarge": error("The body is over the size limit (512 KiB by default, MAX_LEAD_BODY_BYTES)"),
    "UnsupportedType": error("The Content-Type is not one this operation accepts"),
    "BadRequest": error("A parameter or header is not valid; `fields` names it"),
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "example": "invalid_lead"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Field path (e.g. `customer.email`) to its problem",
                    },
                },
            }
        },
    },
    "IntakeResult": {
        "type": "object",
        "required": ["lead_id", "customer_id", "duplicate", "warnings"],
        "properties": {
            "lead_id": {"type": "integer"},
            "customer_id": {"type": "integer"},
            "duplicate": {
                "type": "boolean",
                "description": (
                    "true when the prospect landed on an existing lead: the same provider lead id "
                    "again, or a repeat inquiry while the customer's lead is open"
                ),
            },
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": (
                    "What was guessed or kept as given, e.g. an e-mail that is not valid"
                ),
            },
        },
    },
    "IntakeResponse": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": ref("IntakeResult"),
                "description": "One result per prospect",
            }
        },
    },
    "LeadInput": {
        "type": "object",
        "required": ["customer"],
        "description": "One lead. The customer needs an e-mail address or a phone number; "
        "numbers are accepted for text fields. An e-mail or phone that cannot "
        "be read is kept as given and listed in the result's warnings.",
        "properties": {
            "customer": ref("CustomerInput"),
            "vehicles": {"type": "array", "maxItems": 20, "items": ref("VehicleInput")},
            "comments": text(MAX_COMMENTS, "The customer's message"),
            "source": text(100, "Who sent the lead (e.g. `Cars.com`); defaults to `API`"),
            "provider_lead_id": text(
                200,
                "The provider's id for the lead: the same id from "
                "the same source twice is one lead",
            ),
            "requested_at": {**DATETIME, "description": "When the customer asked"},
            "department": {
                "type": "string",
                "enum": list(DEPARTMENTS),
                "description": ("Chosen from the vehicles and the message when not given"),
            },
        },
    },
    "CustomerInput": {
        "type": "object",
        "properties": {
            "first_name": text(100),
            "last_name": text(100),
            "name": text(200, "The whole name, split when first/last are not given"),
            "email": text(254),
            "phone": text(40, "Any format; stored in E.164 when it can be read"),
            "phones": {
                "type": "array",
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "properties": {
                        "type": text(20, "voice, cellphone, work, …"),
                        "number": text(40),
                    },
                },
            },
            "address": {
                "type": "object",
                "properties": {
                    "street": text(200),
                    "city": text(100),
                    "region": text(50),
                    "postal_code": text(20),
                    "country": text(60),
                },
            },
        },
    },
    "VehicleInput": {
        "type": "object",
        "properties": {
            "interest": {"type": "string", "enum": list(INTERESTS), "default": "buy"},
            "status": {"type": "string", "enum": ["new", "used"]},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
            "make": text(50),
            "model": text(50),
            "trim": text(80),
            "vin": text(40, "Spaces and dashes are dropped, letters upper-cased"),
            "stock": text(30, "The dealership's stock number"),
            "odometer": {"type": "integer", "minimum": 0, "maximum": 2_000_000},
            "price": {"type": "number", "minimum": 0, "maximum": 9_999_999.99},
            "color": text(50),
            "comments": text(2000),
        },
    },
    "Lead": {
        "type": "object",
        "required": [
            "id",
            "customer",
            "vehicles",
            "source",
            "department",
            "status",
            "assigned_to",
            "comments",
            "received_at",
            "first_response_at",
            "timeline",
        ],
        "properties": {
            "id": {"type": "integer"},
            "customer": {
                "type": "object",
                "properties": {
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "email": {"type": "string"},
                    "phone": {"type": "string", "description": "E.164, or as given if unreadable"},
                },
            },
            "vehicles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "interest": {"type": "string", "enum": list(INTERESTS)},
                        "status": {"type": "string", "enum": ["new", "used", ""]},
                        "year": {"type": "integer", "nullable": True},
                        "make": {"type": "string"},
                        "model": {"type": "string"},
                        "trim": {"type": "string"},
                        "vin": {"type": "string"},
                        "stock": {"type": "string"},
                    },
                },
            },
            "source": {"type": "string", "description": "The source that created the lead"},
            "sources": {
                "type": "array",
                "description": "Every inquiry that credited the lead",
                "items": {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string"},
                        "provider_lead_id": {"type": "string", "nullable": True},
                        "received_at": DATETIME,
                    },
                },
            },
            "department": {"type": "string", "enum": list(DEPARTMENTS)},
            "status": {"type": "string", "enum": list(LEAD_STATUSES)},
            "lost_reason": {"type": "string"},
            "assigned_to": {
                "type": "string",
                "nullable": True,
                "description": "The advisor's e-mail address",
            },
            "comments": {"type": "string"},
            "received_at": DATETIME,
            "first_response_at": NULLABLE_DATETIME,
            "extensions": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Provider-specific values kept from the document",
            },
            "warnings": {"type": "array", "items": {"type": "string"}},
            "merged_into_id": {"type": "integer", "nullable": True},
            "timeline": {
                "type": "array",
                "description": "Every event, oldest first",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "at": DATETIME,
                        "summary": {"type": "string", "description": "Plain text"},
                    },
                },
            },
            "cadence": {
                "type": "object",
                "nullable": True,
                "description": "The follow-up plan the lead is on (null: none)",
                "properties": {
                    "plan": {"type": "string", "nullable": True},
                    "state": {
                        "type": "string",
                        "enum": list(CADENCE_STATES),
                    },
                    "reason": {"type": "string"},
                    "next_touch_at": NULLABLE_DATETIME,
                },
            },
        },
    },
    "LeadList": {
        "type": "object",
        "required": ["items", "total", "next"],
        "properties": {
            "items": {"type": "array", "items": ref("Lead")},
            "total": {"type": "integer", "description": "Leads matching the filters"},
            "next": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "The next page, with the same filters; null on the last",
            },
        },
    },
    **INVENTORY_SCHEMAS,
    # --- the SMS provider's webhooks (form fields; others are kept with the raw payload) ---
    "InboundSms": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "properties": {
            "MessageSid": {
                "type": "string",
                "description": "The provider's id for the text; a retry repeats it",
            },
            "From": {"type": "string", "description": "The customer's number, E.164"},
            "To": {"type": "string", "description": "Our number"},
            "Body": {"type": "string", "description": "The text"},
        },
    },
    "SmsStatus": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "properties": {
            "MessageSid": {
                "type": "string",
                "description": "The provider's id of the text we sent",
            },
            "MessageStatus": {
                "type": "string",
                "description": "queued, sending, sent, delivered, undelivered, failed, read, …",
            },
            "ErrorCode": {
                "type": "string",
                "description": "Why it was not delivered (e.g. 30003: unreachable)",
            },
            "ErrorMessage": {"type": "string"},
        },
    },
}


def openapi_document() -> dict:
    """The whole document (a fresh copy each time, so callers may change it)."""
    return copy.deepcopy(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "dealer_leads API",
                "version": "1.0.0",
                "description": (
                    "Lead intake and lead reads, and the vehicle inventory with its photos, for "
                    "the dealership; also the SMS provider's webhooks. Authenticate with an API "
                    "key (`flask api-keys create NAME --scope leads --scope inventory`) sent as "
                    "`Authorization: Bearer <key>`; the webhooks are signed by the provider "
                    'instead. Every error has the shape `{"error": {"code", "message", '
                    '"fields"}}`. Times are ISO 8601 with an offset, in UTC.'
                ),
            },
            "servers": [{"url": "/api/v1"}],
            "security": [{"bearerAuth": []}],
            "tags": [
                {"name": "leads"},
                {"name": "inventory", "description": "Vehicles in stock and their photos"},
                {"name": "webhooks", "description": "Called by providers, not with an API key"},
                {"name": "meta"},
            ],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": f"An API key; scopes: {', '.join(API_SCOPES)}. "
                        "Lead operations need the `leads` scope (reading back only the leads the "
                        "key sent) or, to read every lead, `leads:read`; vehicle and photo "
                        "operations the `inventory` scope.",
                    }
                },
                "schemas": SCHEMAS,
                "responses": RESPONSES,
            },
        }
    )
