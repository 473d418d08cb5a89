"""The OpenAPI operations of appointments: book, change and list a lead's showroom visits."""

from __future__ import annotations

from dealer_leads.api.openapi_builders import DATETIME, KEY_REFUSALS, error, query, shared, text

# --- appointments ------------------------------------------------------------------------------

_APPOINTMENT = {
    "type": "object",
    "required": ["id", "lead_id", "advisor_email", "starts_at", "ends_at", "kind", "status"],
    "properties": {
        "id": {"type": "integer"},
        "lead_id": {"type": "integer"},
        "advisor_email": {"type": "string", "format": "email"},
        "starts_at": DATETIME,
        "ends_at": DATETIME,
        "kind": {"type": "string", "enum": ["test_drive", "appraisal", "delivery", "general"]},
        "status": {
            "type": "string",
            "enum": ["booked", "confirmed", "shown", "no_show", "sold", "cancelled"],
        },
        "notes": {"type": "string"},
        "sequence": {"type": "integer", "description": "Rises on every change (RFC 5545)"},
        "booked_via": {"type": "string", "enum": ["staff", "api", "customer"]},
        "vehicles": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "vin": {"type": "string"},
                    "stock": {"type": "string"},
                    "status": {"type": "string", "description": "Live stock status"},
                    "status_at_booking": {"type": "string"},
                    "price_at_booking": {"type": "string", "nullable": True},
                },
            },
        },
    },
}
_APPOINTMENT_INPUT = {
    "type": "object",
    "required": ["advisor_email", "starts_at"],
    "additionalProperties": False,
    "properties": {
        "advisor_email": {"type": "string", "format": "email"},
        "starts_at": {**DATETIME, "description": "ISO 8601 with its UTC offset"},
        "duration_minutes": {"type": "integer", "minimum": 15, "maximum": 480, "default": 60},
        "kind": {
            "type": "string",
            "enum": ["test_drive", "appraisal", "delivery", "general"],
            "default": "general",
        },
        "vehicle_vins": {
            "type": "array",
            "maxItems": 5,
            "items": {"type": "string", "description": "VIN or stock number"},
        },
        "notes": text(2000),
    },
}
_APPOINTMENT_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "starts_at": DATETIME,
        "duration_minutes": {"type": "integer", "minimum": 15, "maximum": 480},
        "advisor_email": {"type": "string", "format": "email"},
        "status": {
            "type": "string",
            "enum": ["confirmed", "shown", "no_show", "sold", "cancelled"],
        },
    },
}


def _appointment_answer(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _APPOINTMENT}}}


_SLOT_REFUSALS = {
    "400": shared("BadRequest"),
    **KEY_REFUSALS,
    "404": shared("NotFound"),
    "409": error("The advisor has another visit then (code `slot_taken`)"),
    "422": error(
        "A time in the past (`in_the_past`), outside showroom hours (`outside_hours`), or "
        "another field that cannot be used; `fields` names it"
    ),
}
_ID = {"name": "appointment_id", "in": "path", "required": True, "schema": {"type": "integer"}}

APPOINTMENT_PATHS = {
    "/leads/{lead_id}/appointments": {
        "post": {
            "operationId": "bookAppointment",
            "summary": "Book a showroom visit for a lead (the customer gets the invitation)",
            "tags": ["appointments"],
            "parameters": [
                {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _APPOINTMENT_INPUT}},
            },
            "responses": {"201": _appointment_answer("The appointment"), **_SLOT_REFUSALS},
        },
    },
    "/appointments": {
        "get": {
            "operationId": "listAppointments",
            "summary": "Appointments by start time, paged (a `leads` key: those of its own leads)",
            "tags": ["appointments"],
            "parameters": [
                query("advisor_email", {"type": "string"}, "Only this advisor's visits"),
                query("advisor", {"type": "string"}, "The same, by e-mail or user id"),
                query("from", DATETIME, "Starting at or after (UTC if no offset)"),
                query("to", DATETIME, "Starting before (exclusive; UTC if no offset)"),
                query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number"),
                query(
                    "per_page",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                    "Appointments per page",
                ),
            ],
            "responses": {
                "200": {
                    "description": "The appointments",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["items", "total", "next"],
                                "properties": {
                                    "items": {"type": "array", "items": _APPOINTMENT},
                                    "total": {
                                        "type": "integer",
                                        "description": "Appointments matching the filters",
                                    },
                                    "next": {
                                        "type": "string",
                                        "format": "uri",
                                        "nullable": True,
                                        "description": "The next page, same filters; null on "
                                        "the last",
                                    },
                                },
                            }
                        }
                    },
                },
                "400": shared("BadRequest"),
                **KEY_REFUSALS,
            },
        },
    },
    "/appointments/{appointment_id}": {
        "get": {
            "operationId": "getAppointment",
            "summary": "One appointment",
            "tags": ["appointments"],
            "parameters": [_ID],
            "responses": {
                "200": _appointment_answer("The appointment"),
                **KEY_REFUSALS,
                "404": shared("NotFound"),
            },
        },
        "patch": {
            "operationId": "changeAppointment",
            "summary": "Move a visit, hand it to another advisor, or set its status",
            "tags": ["appointments"],
            "parameters": [_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _APPOINTMENT_CHANGE}},
            },
            "responses": {"200": _appointment_answer("The changed appointment"), **_SLOT_REFUSALS},
        },
    },
}
