"""The hand-written OpenAPI 3.0.3 document served at /api/v1/openapi.json."""

from __future__ import annotations

import copy

from dealer_leads.auth.models import API_SCOPES
from dealer_leads.leads.channels import ADF_CONTENT_TYPES, MAX_COMMENTS
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.normalize import DEPARTMENTS, INTERESTS


def _text(max_length: int, description: str = "") -> dict:
    schema: dict = {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, headers: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


_CHALLENGE = {
    "WWW-Authenticate": {"description": "Bearer challenge (RFC 6750)", "schema": {"type": "string"}}
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_DATETIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATETIME = {**_DATETIME, "nullable": True}

RESPONSES = {
    "Unauthorized": _error("No API key, an unknown key or a revoked key", _CHALLENGE),
    "Forbidden": _error("The key lacks the scope this operation needs", _CHALLENGE),
    "NotFound": _error("No such resource"),
    "TooLarge": _error("The body is over the size limit (512 KiB by default)"),
    "UnsupportedType": _error("The Content-Type is not one this operation accepts"),
    "BadRequest": _error("A parameter or header is not valid; `fields` names it"),
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
                "items": _ref("IntakeResult"),
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
            "customer": _ref("CustomerInput"),
            "vehicles": {"type": "array", "maxItems": 20, "items": _ref("VehicleInput")},
            "comments": _text(MAX_COMMENTS, "The customer's message"),
            "source": _text(100, "Who sent the lead (e.g. `Cars.com`); defaults to `API`"),
            "provider_lead_id": _text(
                200,
                "The provider's id for the lead: the same id from "
                "the same source twice is one lead",
            ),
            "requested_at": {**_DATETIME, "description": "When the customer asked"},
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
            "first_name": _text(100),
            "last_name": _text(100),
            "name": _text(200, "The whole name, split when first/last are not given"),
            "email": _text(254),
            "phone": _text(40, "Any format; stored in E.164 when it can be read"),
            "phones": {
                "type": "array",
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "properties": {
                        "type": _text(20, "voice, cellphone, work, …"),
                        "number": _text(40),
                    },
                },
            },
            "address": {
                "type": "object",
                "properties": {
                    "street": _text(200),
                    "city": _text(100),
                    "region": _text(50),
                    "postal_code": _text(20),
                    "country": _text(60),
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
            "make": _text(50),
            "model": _text(50),
            "trim": _text(80),
            "vin": _text(40, "Spaces and dashes are dropped, letters upper-cased"),
            "stock": _text(30, "The dealership's stock number"),
            "odometer": {"type": "integer", "minimum": 0, "maximum": 2_000_000},
            "price": {"type": "number", "minimum": 0, "maximum": 9_999_999.99},
            "color": _text(50),
            "comments": _text(2000),
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
                        "received_at": _DATETIME,
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
            "received_at": _DATETIME,
            "first_response_at": _NULLABLE_DATETIME,
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
                        "at": _DATETIME,
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
                        "enum": ["active", "paused", "stopped", "finished"],
                    },
                    "reason": {"type": "string"},
                    "next_touch_at": _NULLABLE_DATETIME,
                },
            },
        },
    },
    "LeadList": {
        "type": "object",
        "required": ["items", "total", "next"],
        "properties": {
            "items": {"type": "array", "items": _ref("Lead")},
            "total": {"type": "integer", "description": "Leads matching the filters"},
            "next": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "The next page, with the same filters; null on the last",
            },
        },
    },
}


def _intake_responses(invalid: str) -> dict:
    created = {
        "content": {"application/json": {"schema": _ref("IntakeResponse")}},
        "headers": _REPLAYED,
    }
    return {
        "201": {"description": "Stored; at least one prospect became a new lead", **created},
        "200": {
            "description": "Stored; every prospect was a duplicate of a lead we have",
            **created,
        },
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "409": _error("The first request with this Idempotency-Key has no answer yet"),
        "413": {"$ref": "#/components/responses/TooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedType"},
        "422": _error(
            f"Refused (code `{invalid}`, or `idempotency_key_reused` for a key used "
            "with another body). The payload is kept for review either way.",
            _REPLAYED,
        ),
    }


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Send a unique value per lead; a retry with the same key and body gets the "
    "first answer again instead of a second lead (keys are kept 7 days by default).",
}


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_LIST_PARAMETERS = [
    _query("status", {"type": "string", "enum": list(LEAD_STATUSES)}, "Only leads in this state"),
    _query("source", {"type": "string"}, "Only leads created by this source"),
    _query("received_from", _DATETIME, "Received at or after (ISO 8601; UTC if no offset)"),
    _query("received_to", _DATETIME, "Received before (exclusive; UTC if no offset)"),
    _query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number"),
    _query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
        "Leads per page",
    ),
]

_ADF_BODY = {
    "schema": {
        "type": "string",
        "description": "An ADF 1.0 XML document; DTDs and entities are refused",
    }
}

PATHS = {
    "/leads": {
        "post": {
            "operationId": "createLead",
            "summary": "Send one lead as JSON",
            "tags": ["leads"],
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("LeadInput")}},
            },
            "responses": _intake_responses("invalid_lead"),
        },
        "get": {
            "operationId": "listLeads",
            "summary": "List leads, newest first (merged leads left out)",
            "tags": ["leads"],
            "parameters": _LIST_PARAMETERS,
            "responses": {
                "200": {
                    "description": "A page of leads",
                    "content": {"application/json": {"schema": _ref("LeadList")}},
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
            },
        },
    },
    "/leads/adf": {
        "post": {
            "operationId": "createAdfLeads",
            "summary": "Send an ADF/XML document: one result per prospect",
            "tags": ["leads"],
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": dict.fromkeys(ADF_CONTENT_TYPES, _ADF_BODY),
            },
            "responses": _intake_responses("invalid_adf"),
        },
    },
    "/leads/{lead_id}": {
        "get": {
            "operationId": "getLead",
            "summary": "One lead, normalised, with its whole timeline",
            "tags": ["leads"],
            "parameters": [
                {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {
                    "description": "The lead",
                    "content": {"application/json": {"schema": _ref("Lead")}},
                },
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
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
                    "Lead intake and lead reads for the dealership. Authenticate with an API key "
                    "(`flask api-keys create NAME --scope leads`) sent as `Authorization: Bearer "
                    '<key>`. Every error has the shape `{"error": {"code", "message", '
                    '"fields"}}`. Times are ISO 8601 with an offset, in UTC.'
                ),
            },
            "servers": [{"url": "/api/v1"}],
            "security": [{"bearerAuth": []}],
            "tags": [{"name": "leads"}, {"name": "meta"}],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": f"An API key; scopes: {', '.join(API_SCOPES)}. "
                        "Lead operations need the `leads` scope.",
                    }
                },
                "schemas": SCHEMAS,
                "responses": RESPONSES,
            },
        }
    )
