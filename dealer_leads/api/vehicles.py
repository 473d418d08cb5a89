"""/api/v1/vehicles: create or update by VIN, read by VIN (bearer key with the inventory scope).

`POST /api/v1/vehicles` takes a JSON object of vehicle fields (`vin` required; fields left out
stay as they are on an update; `vin_override: true` confirms a VIN without a check digit) and
answers 201 with the vehicle when it was created, 200 when it was updated. Amounts are strings
("27995.00") so no cent is lost to floating point.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from dealer_leads import error_response
from dealer_leads.admin.services import dealership_zone
from dealer_leads.api.auth import require_api_key
from dealer_leads.api.schemas import isoformat
from dealer_leads.api.views import JSON_CONTENT_TYPES, read_body
from dealer_leads.database import now_utc
from dealer_leads.inventory import photo_publishing, services
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.vehicle_values import InvalidVehicle
from dealer_leads.inventory.vpic import decode_vin

bp = Blueprint("api_vehicles", __name__, url_prefix="/api/v1")

DEFAULT_MAX_BODY_BYTES = 256 * 1024
_TEXT = ("vin", "stock_number", "make", "model", "trim", "body_style", "condition")
_TEXT += ("odometer_unit", "exterior_color", "interior_color", "drivetrain", "fuel")
_TEXT += ("transmission", "status", "description", "decode_state")


def vehicle_to_dict(vehicle: Vehicle) -> dict[str, Any]:
    """A vehicle as the API shows it; unknown numbers and dates are null."""
    today = now_utc().astimezone(dealership_zone()).date()
    body: dict[str, Any] = {name: getattr(vehicle, name) for name in _TEXT}
    body |= {
        "id": vehicle.id,
        "year": vehicle.year,
        "odometer": vehicle.odometer,
        "price": str(vehicle.price) if vehicle.price is not None else None,
        "msrp": str(vehicle.msrp) if vehicle.msrp is not None else None,
        "in_stock_on": vehicle.in_stock_on.isoformat() if vehicle.in_stock_on else None,
        "days_in_stock": services.days_in_stock(vehicle, today),
        "options": list(vehicle.options or []),
        "vin_override": vehicle.vin_override,
        "sold_at": isoformat(vehicle.sold_at),
        "created_at": isoformat(vehicle.created_at),
        "updated_at": isoformat(vehicle.updated_at),
        "photos": photo_publishing.photo_urls(vehicle),  # ready ones, in order, every size
    }
    return body


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; raises InvalidVehicle with what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidVehicle("The body is not valid JSON.", {"body": "is not JSON"}) from None
    if not isinstance(body, dict):
        raise InvalidVehicle("Send one JSON object.", {"body": "must be a JSON object"})
    if not isinstance(body.get("vin_override", False), bool):
        raise InvalidVehicle("Check vin_override.", {"vin_override": "must be true or false"})
    return body


@bp.post("/vehicles")
@require_api_key("inventory")
def save_vehicle():
    """Create or update one vehicle by VIN."""
    if request.mimetype not in JSON_CONTENT_TYPES:
        return error_response(
            415, "unsupported_media_type", "send the body with Content-Type application/json"
        )
    limit = current_app.config.get("MAX_VEHICLE_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    raw = read_body(limit)
    if raw is None:
        return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
    try:
        body = _json_object(raw)
        override = body.pop("vin_override", False)
        vehicle, created = services.upsert_vehicle(body, override_vin=override, decoder=decode_vin)
    except InvalidVehicle as error:
        if error.needs_override:
            message = f'{error.message} Send "vin_override": true if the VIN is right.'
            return error_response(422, "vin_needs_override", message, error.fields)
        return error_response(422, "invalid_vehicle", error.message, error.fields)
    return jsonify(vehicle_to_dict(vehicle)), 201 if created else 200


@bp.get("/vehicles/<vin>")
@require_api_key("inventory")
def get_vehicle(vin: str):
    """One vehicle by VIN, with its photos."""
    try:
        vehicle = services.get_vehicle_by_vin(vin)
    except services.VehicleNotFound as error:
        return error_response(404, "not_found", str(error))
    return jsonify(vehicle_to_dict(vehicle))
