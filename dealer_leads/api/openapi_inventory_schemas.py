"""The OpenAPI schemas of the inventory: a vehicle as saved and as shown, its photos, an upload's
answer. openapi.py lists them among the document's components."""

from __future__ import annotations

from dealer_leads.api.openapi_builders import DATETIME, NULLABLE_DATETIME, ref, text
from dealer_leads.inventory.models import (
    CONDITIONS,
    DECODE_STATES,
    ODOMETER_UNITS,
    PHOTO_STATES,
    VEHICLE_STATUSES,
)

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

INVENTORY_SCHEMAS = {
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
}
