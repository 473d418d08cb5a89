"""The operations of the OpenAPI document (its `paths`), and the small builders it shares.

openapi.py holds the components (schemas, shared responses) and assembles the document; both
modules build their parts with `text`, `ref` and `error` from here.
"""

from __future__ import annotations

from dealer_leads.leads.channels import ADF_CONTENT_TYPES
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.messaging.mailbox_reads import KINDS as MAIL_KINDS

# --- builders ----------------------------------------------------------------------------------


def text(max_length: int, description: str = "") -> dict:
    schema: dict = {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str, headers: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _shared(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: str, description: str, headers: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _too_large(limit: str, setting: str, code: str = "payload_too_large") -> dict:
    return error(f"The body is over {limit} ({setting}); code `{code}`")


CHALLENGE = {
    "WWW-Authenticate": {"description": "Bearer challenge (RFC 6750)", "schema": {"type": "string"}}
}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {**DATETIME, "nullable": True}
_KEY_REFUSALS = {"401": _shared("Unauthorized"), "403": _shared("Forbidden")}

# --- leads -------------------------------------------------------------------------------------

_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _intake_responses(invalid: str) -> dict:
    return {
        "201": _json(
            "IntakeResponse", "Stored; at least one prospect became a new lead", _REPLAYED
        ),
        "200": _json(
            "IntakeResponse",
            "Stored; every prospect was a duplicate of a lead we have",
            _REPLAYED,
        ),
        "400": _shared("BadRequest"),
        **_KEY_REFUSALS,
        "409": error("The first request with this Idempotency-Key has no answer yet"),
        "413": _shared("TooLarge"),
        "415": _shared("UnsupportedType"),
        "422": error(
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
    _query("received_from", DATETIME, "Received at or after (ISO 8601; UTC if no offset)"),
    _query("received_to", DATETIME, "Received before (exclusive; UTC if no offset)"),
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

LEAD_PATHS = {
    "/leads": {
        "post": {
            "operationId": "createLead",
            "summary": "Send one lead as JSON",
            "tags": ["leads"],
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("LeadInput")}},
            },
            "responses": _intake_responses("invalid_lead"),
        },
        "get": {
            "operationId": "listLeads",
            "summary": "List leads, newest first (merged leads left out)",
            "description": (
                "A `leads` key reads the leads it sent (their inquiries came with it); a "
                "`leads:read` key, which only an admin can create, reads every lead."
            ),
            "tags": ["leads"],
            "parameters": _LIST_PARAMETERS,
            "responses": {
                "200": _json("LeadList", "A page of leads"),
                "400": _shared("BadRequest"),
                **_KEY_REFUSALS,
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
            "description": (
                "A `leads` key reads a lead it sent (a 404 for any other); a "
                "`leads:read` key, which only an admin can create, reads every lead."
            ),
            "tags": ["leads"],
            "parameters": [
                {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _json("Lead", "The lead"),
                **_KEY_REFUSALS,
                "404": _shared("NotFound"),
            },
        },
    },
}

# --- inventory: vehicles and their photos ------------------------------------------------------

_VIN = {
    "name": "vin",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The vehicle's VIN; case, spaces and dashes do not matter",
}
_NO_VEHICLE = error("No vehicle with this VIN (code `not_found`)")

INVENTORY_PATHS = {
    "/vehicles": {
        "post": {
            "operationId": "saveVehicle",
            "summary": "Create or update a vehicle by VIN",
            "description": "Needs the `inventory` scope.",
            "tags": ["inventory"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("VehicleSave")}},
            },
            "responses": {
                "200": _json("Vehicle", "Updated: a vehicle with this VIN was there already"),
                "201": _json("Vehicle", "Created"),
                **_KEY_REFUSALS,
                "413": _too_large("256 KiB", "MAX_VEHICLE_BODY_BYTES"),
                "415": _shared("UnsupportedType"),
                "422": error(
                    "Not saved: `invalid_vehicle` (not a JSON object, or values that cannot be "
                    "saved; `fields` names each) or `vin_needs_override` (a VIN whose maker uses "
                    'no check digit: send `"vin_override": true` if it is right)'
                ),
            },
        },
    },
    "/vehicles/{vin}": {
        "get": {
            "operationId": "getVehicle",
            "summary": "One vehicle by VIN, with its photos",
            "description": "Needs the `inventory` scope.",
            "tags": ["inventory"],
            "parameters": [_VIN],
            "responses": {
                "200": _json("Vehicle", "The vehicle"),
                **_KEY_REFUSALS,
                "404": _NO_VEHICLE,
            },
        },
    },
    "/vehicles/{vin}/photos": {
        "post": {
            "operationId": "uploadVehiclePhotos",
            "summary": "Upload one or many photos of a vehicle",
            "description": (
                "Needs the `inventory` scope. Each file is checked on its own: the good ones are "
                "stored and processed in the background (they show on the vehicle once ready), "
                "the bad ones are listed in `errors` with the reason, and a file the vehicle has "
                "already is listed in `duplicates` with its id. JPEG, PNG, WebP or HEIC, at least "
                "480x360 (either way up); at most "
                "25 MiB a file (MAX_PHOTO_BYTES) and 40 files a request (MAX_PHOTOS_PER_UPLOAD)."
            ),
            "tags": ["inventory"],
            "parameters": [_VIN],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["photos"],
                            "properties": {
                                "photos": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"type": "string", "format": "binary"},
                                    "description": "One part per file, all named `photos`",
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    "PhotoUpload",
                    "Nothing new stored: every file that could be read is on the vehicle already "
                    "(`duplicates`); `errors` lists any refused",
                ),
                "201": _json(
                    "PhotoUpload",
                    "At least one photo stored (`stored`, ids and status `pending`); "
                    "`duplicates` and `errors` tell about the other files",
                ),
                "400": error("No file in the multipart field `photos` (code `missing_photos`)"),
                **_KEY_REFUSALS,
                "404": _NO_VEHICLE,
                "413": _too_large("64 MiB", "MAX_PHOTO_UPLOAD_BYTES"),
                "415": error("The body is not multipart/form-data (code `unsupported_media_type`)"),
                "422": error(
                    "No file could be stored (code `invalid_photos`); `fields` has "
                    "`photos[<index>]`: `<file name>: <reason>` for each file"
                ),
            },
        },
    },
}

# --- the SMS provider's webhooks ---------------------------------------------------------------

_SIGNATURE = {
    "name": "X-Twilio-Signature",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": (
        "The provider's signature, checked instead of an API key: Base64 of the HMAC-SHA1, keyed "
        "with SMS_AUTH_TOKEN, of the public URL called (PUBLIC_BASE_URL + path and query) "
        "followed by each form field's name and value, sorted by name (Twilio's algorithm)"
    ),
}
_WEBHOOK_REFUSALS = {
    "403": error(
        "The X-Twilio-Signature header is missing (`missing_signature`) or does not match "
        "(`bad_signature`); nothing is stored"
    ),
    "413": _too_large("64 KiB", "SMS_MAX_BODY_BYTES", "request_entity_too_large"),
    "503": error("SMS is not configured: no SMS_AUTH_TOKEN to check with (`not_configured`)"),
}


def _form(schema: str) -> dict:
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": ref(schema)}},
    }


WEBHOOK_PATHS = {
    "/inbound/sms": {
        "post": {
            "operationId": "receiveSms",
            "summary": "A text a customer sent to our number (provider webhook)",
            "description": (
                "Stored raw, then acted on: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT or "
                "ARRET opts the number out, START or UNSTOP back in; anything else is a reply on "
                "the customer's lead (a number no customer has goes to review). A retry of a "
                "MessageSid already received is not acted on twice."
            ),
            "tags": ["webhooks"],
            "security": [],
            "parameters": [_SIGNATURE],
            "requestBody": _form("InboundSms"),
            "responses": {
                "200": {
                    "description": "Received: empty TwiML, nothing is sent back",
                    "content": {
                        "text/xml": {
                            "schema": {"type": "string"},
                            "example": '<?xml version="1.0" encoding="UTF-8"?><Response/>',
                        }
                    },
                },
                **_WEBHOOK_REFUSALS,
            },
        },
    },
    "/inbound/sms/status": {
        "post": {
            "operationId": "smsDeliveryStatus",
            "summary": "A delivery report on a text we sent (provider status callback)",
            "description": (
                "A late report never moves a text back to an earlier state; an undelivered or "
                "failed text is noted on its lead's timeline."
            ),
            "tags": ["webhooks"],
            "security": [],
            "parameters": [_SIGNATURE],
            "requestBody": _form("SmsStatus"),
            "responses": {
                "204": {"description": "Noted (unknown message ids and states are ignored)"},
                **_WEBHOOK_REFUSALS,
            },
        },
    },
}

# --- the leads mailbox ---------------------------------------------------------------------------

_MAIL_OUTCOME = {
    "type": "object",
    "required": ["inbound_id", "kind", "lead_ids", "detail"],
    "properties": {
        "inbound_id": {"type": "integer", "description": "The stored message"},
        "kind": {
            "type": "string",
            # what a stored message became (too large is a 413, not a result), or a repeat
            "enum": [*(kind for kind in MAIL_KINDS if kind != "too_large"), "duplicate"],
        },
        "lead_ids": {"type": "array", "items": {"type": "integer"}},
        "detail": {"type": "string"},
    },
}


def _mail_answer(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": _MAIL_OUTCOME}},
    }


MAIL_PATHS = {
    "/inbound/email": {
        "post": {
            "operationId": "receiveEmail",
            "summary": "A raw e-mail (RFC 822) for the leads mailbox",
            "description": (
                "Stored raw, then acted on: ADF in the message (text, HTML or an .xml "
                "attachment) or a plain inquiry becomes a lead; a reply to one of our e-mails "
                "pauses the lead's automatic follow-up; a delivery-status notification (RFC "
                "3464) marks the address bounced; an automatic reply or out-of-office is noted "
                "on the lead. A Message-ID already received is not acted on twice. Nothing is "
                "ever sent back to the sender."
            ),
            "tags": ["webhooks"],
            "requestBody": {
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                "201": _mail_answer("The message made one or more new leads"),
                "200": _mail_answer("Acted on: a reply, bounce, note, or a repeat"),
                "202": _mail_answer("Stored as needs review for a person"),
                "400": error("An empty body; code `empty_body`"),
                **_KEY_REFUSALS,
                "413": error(
                    "The message is over MAX_INBOUND_EMAIL_BYTES; its headers are kept for "
                    "review; code `payload_too_large`"
                ),
                "415": error("Not sent as message/rfc822; code `unsupported_media_type`"),
            },
        },
    },
}

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
    "400": _shared("BadRequest"),
    **_KEY_REFUSALS,
    "404": _shared("NotFound"),
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
            "summary": "Appointments by start time (at most 500)",
            "tags": ["appointments"],
            "parameters": [
                _query("advisor_email", {"type": "string"}, "Only this advisor's visits"),
                _query("advisor", {"type": "string"}, "The same, by e-mail or user id"),
                _query("from", DATETIME, "Starting at or after (UTC if no offset)"),
                _query("to", DATETIME, "Starting before (exclusive; UTC if no offset)"),
            ],
            "responses": {
                "200": {
                    "description": "The appointments",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"items": {"type": "array", "items": _APPOINTMENT}},
                            }
                        }
                    },
                },
                "400": _shared("BadRequest"),
                **_KEY_REFUSALS,
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
                **_KEY_REFUSALS,
                "404": _shared("NotFound"),
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

# --- meta --------------------------------------------------------------------------------------

META_PATHS = {
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

PATHS = {
    **LEAD_PATHS,
    **INVENTORY_PATHS,
    **WEBHOOK_PATHS,
    **MAIL_PATHS,
    **APPOINTMENT_PATHS,
    **META_PATHS,
}
