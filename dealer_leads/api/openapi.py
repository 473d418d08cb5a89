"""The hand-written OpenAPI 3.0.3 document served at /api/v1/openapi.json."""

from __future__ import annotations

import copy

from dealer_leads.api.openapi_paths import (
    CHALLENGE,
    DATETIME,
    NULLABLE_DATETIME,
    PATHS,
    error,
    ref,
    text,
)
from dealer_leads.auth.models import API_SCOPES
from dealer_leads.cadence.models import CADENCE_STATES
from dealer_leads.inventory.models import (
    CONDITIONS,
    DECODE_STATES,
    ODOMETER_UNITS,
    PHOTO_STATES,
    VEHICLE_STATUSES,
)
from dealer_leads.leads.channels import MAX_COMMENTS
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS

_MONEY = {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$", "example": "27995.00"}
_MONEY_INPUT = {
    "oneOf": [
        {"type": "string", "example": "27995.00", "nullable": True},
        {"type": "number", "minimum": 0, "maximum": 9_999_999_999.99},
    ],
    "description": "An amount from 0 to 9,999,999,999.99 with at most two decimals: a string "
    "like `27995.00` (so no cent is lost; `$` and `,` are ignored) or a number. Null or an empty "
    "string clears it.",
}
_VEHICLE_FIELDS = {  # what POST /vehicles takes and GET /vehicles/{vin} shows
    "vin": text(17, "17 characters, upper case"),
    "stock_number": text(30),
    "year": {"type": "integer", "minimum": 1900, "nullable": True},
    "make": text(50),
    "model": text(50),
    "trim": text(80),
    "body_style": text(40),
    "condition": {"type": "string", "enum": list(CONDITIONS)},
    "odometer": {"type": "integer", "minimum": 0, "nullable": True},
    "odometer_unit": {"type": "string", "enum": list(ODOMETER_UNITS)},
    "exterior_color": text(50),
    "interior_color": text(50),
    "drivetrain": text(30),
    "fuel": text(30),
    "transmission": text(30),
    "price": {**_MONEY, "nullable": True},
    "msrp": {**_MONEY, "nullable": True},
    "status": {
        "type": "string",
        "enum": list(VEHICLE_STATUSES),
        "description": "`sold` stamps sold_at; leaving it clears sold_at",
    },
    "in_stock_on": {"type": "string", "format": "date", "nullable": True},
    "options": {"type": "array", "maxItems": 200, "items": text(200)},
    "description": text(20_000),
}
_VEHICLE_EXTRAS = {  # shown, never taken
    "id": {"type": "integer"},
    "days_in_stock": {
        "type": "integer",
        "nullable": True,
        "description": "From in_stock_on to today, or to the day it sold",
    },
    "vin_override": {
        "type": "boolean",
        "description": "The VIN was confirmed without a check digit",
    },
    "decode_state": {
        "type": "string",
        "enum": list(DECODE_STATES),
        "description": "How year/make/model/… were filled: `decoded` (vPIC), `offline` (the VIN "
        "alone), `pending` (vPIC was down; retried later), empty (not decoded)",
    },
    "sold_at": NULLABLE_DATETIME,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "photos": {
        "type": "array",
        "items": ref("VehiclePhoto"),
        "description": "The ready photos in order, hero first",
    },
}
_FILE_INDEX = {"type": "integer", "minimum": 0, "description": "The file's place in `photos`"}

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
    # --- inventory ---
    "VehicleSave": {
        "type": "object",
        "required": ["vin"],
        "additionalProperties": False,
        "description": "A vehicle's fields (an unknown field is refused). Fields left out stay as "
        "they are on an update; null or an empty string clears a value (an empty condition, "
        "status or odometer_unit counts as left out). Numbers are accepted for text fields. "
        "Empty year/make/model/trim/body_style/drivetrain/fuel/transmission are filled from "
        "NHTSA vPIC, or from the VIN alone with decode_state `pending` when vPIC is down.",
        "properties": {
            **_VEHICLE_FIELDS,
            "vin": {
                "type": "string",
                "description": "17 characters once spaces and dashes are dropped; any case",
            },
            "year": {
                "type": "integer",
                "minimum": 1900,
                "nullable": True,
                "description": "At most two years from now",
            },
            "odometer": {"type": "integer", "minimum": 0, "maximum": 3_000_000, "nullable": True},
            "price": _MONEY_INPUT,
            "msrp": _MONEY_INPUT,
            "options": {
                **_VEHICLE_FIELDS["options"],
                "description": "Also accepted as one text, split at line breaks or `|`",
            },
            "vin_override": {
                "type": "boolean",
                "default": False,
                "description": "Confirms a VIN whose maker uses no check digit",
            },
        },
    },
    "Vehicle": {
        "type": "object",
        "required": [*_VEHICLE_FIELDS, *_VEHICLE_EXTRAS],
        "properties": {**_VEHICLE_FIELDS, **_VEHICLE_EXTRAS},
    },
    "VehiclePhoto": {
        "type": "object",
        "required": ["id", "position", "placeholder", "sizes"],
        "properties": {
            "id": {"type": "integer"},
            "position": {"type": "integer", "minimum": 0, "description": "0 is the hero photo"},
            "placeholder": {
                "type": "boolean",
                "description": "A stand-in (e.g. a stock image), not a photo of this vehicle",
            },
            "sizes": {
                "type": "object",
                "description": "By size (`thumb`, `medium`, `large`, `listing`; a small photo "
                "has fewer)",
                "additionalProperties": {
                    "type": "object",
                    "required": ["width", "height"],
                    "properties": {
                        "width": {"type": "integer"},
                        "height": {"type": "integer"},
                        "jpeg": {"type": "string", "format": "uri"},
                        "webp": {"type": "string", "format": "uri"},
                    },
                },
            },
        },
    },
    "PhotoUpload": {
        "type": "object",
        "required": ["vin", "stored", "duplicates", "errors", "warnings"],
        "properties": {
            "vin": {"type": "string"},
            "stored": {
                "type": "array",
                "description": "The new photos, queued for processing",
                "items": {
                    "type": "object",
                    "required": ["id", "filename", "status"],
                    "properties": {
                        "id": {"type": "integer"},
                        "filename": {"type": "string"},
                        "status": {"type": "string", "enum": list(PHOTO_STATES)},
                    },
                },
            },
            "duplicates": {
                "type": "array",
                "description": "Files the vehicle has already: `id` is that photo",
                "items": {
                    "type": "object",
                    "required": ["index", "filename", "id"],
                    "properties": {
                        "index": _FILE_INDEX,
                        "filename": {"type": "string"},
                        "id": {"type": "integer"},
                    },
                },
            },
            "errors": {
                "type": "array",
                "description": "Files refused, with the reason",
                "items": ref("FileNote"),
            },
            "warnings": {
                "type": "array",
                "description": "Stored files worth a look: a misleading extension, a small image",
                "items": ref("FileNote"),
            },
        },
    },
    "FileNote": {
        "type": "object",
        "required": ["index", "filename", "message"],
        "properties": {
            "index": _FILE_INDEX,
            "filename": {"type": "string"},
            "message": {"type": "string"},
        },
    },
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
