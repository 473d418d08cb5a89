"""The operations of the OpenAPI document (its `paths`): leads and inventory here, the inbound
channels and appointments in their own modules, all assembled as PATHS.

openapi.py holds the components (schemas, shared responses) and assembles the document; every
part is built with the builders of openapi_builders.
"""

from __future__ import annotations

from dealer_leads.api.openapi_appointment_paths import APPOINTMENT_PATHS
from dealer_leads.api.openapi_builders import (
    DATETIME,
    KEY_REFUSALS,
    error,
    json_response,
    query,
    ref,
    shared,
    too_large,
)
from dealer_leads.api.openapi_inbound_paths import MAIL_PATHS, WEBHOOK_PATHS
from dealer_leads.leads.channels import ADF_CONTENT_TYPES
from dealer_leads.leads.models import LEAD_STATUSES

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
        "201": json_response(
            "IntakeResponse", "Stored; at least one prospect became a new lead", _REPLAYED
        ),
        "200": json_response(
            "IntakeResponse",
            "Stored; every prospect was a duplicate of a lead we have",
            _REPLAYED,
        ),
        "400": shared("BadRequest"),
        **KEY_REFUSALS,
        "409": error("The first request with this Idempotency-Key has no answer yet"),
        "413": shared("TooLarge"),
        "415": shared("UnsupportedType"),
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


_LIST_PARAMETERS = [
    query("status", {"type": "string", "enum": list(LEAD_STATUSES)}, "Only leads in this state"),
    query("source", {"type": "string"}, "Only leads created by this source"),
    query("received_from", DATETIME, "Received at or after (ISO 8601; UTC if no offset)"),
    query("received_to", DATETIME, "Received before (exclusive; UTC if no offset)"),
    query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number"),
    query(
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
                "200": json_response("LeadList", "A page of leads"),
                "400": shared("BadRequest"),
                **KEY_REFUSALS,
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
                "200": json_response("Lead", "The lead"),
                **KEY_REFUSALS,
                "404": shared("NotFound"),
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
                "200": json_response(
                    "Vehicle", "Updated: a vehicle with this VIN was there already"
                ),
                "201": json_response("Vehicle", "Created"),
                **KEY_REFUSALS,
                "413": too_large("256 KiB", "MAX_VEHICLE_BODY_BYTES"),
                "415": shared("UnsupportedType"),
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
                "200": json_response("Vehicle", "The vehicle"),
                **KEY_REFUSALS,
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
                "200": json_response(
                    "PhotoUpload",
                    "Nothing new stored: every file that could be read is on the vehicle already "
                    "(`duplicates`); `errors` lists any refused",
                ),
                "201": json_response(
                    "PhotoUpload",
                    "At least one photo stored (`stored`, ids and status `pending`); "
                    "`duplicates` and `errors` tell about the other files",
                ),
                "400": error("No file in the multipart field `photos` (code `missing_photos`)"),
                **KEY_REFUSALS,
                "404": _NO_VEHICLE,
                "413": too_large("64 MiB", "MAX_PHOTO_UPLOAD_BYTES"),
                "415": error("The body is not multipart/form-data (code `unsupported_media_type`)"),
                "422": error(
                    "No file could be stored (code `invalid_photos`); `fields` has "
                    "`photos[<index>]`: `<file name>: <reason>` for each file"
                ),
            },
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
