"""/api/v1/vehicles/<vin>/photos: photo upload for photo apps and the DMS.

Each file is checked on its own: good ones are stored (201 with their ids), bad ones are listed
in `errors` with the reason. A re-sent file the vehicle has already is listed in `duplicates`
with its id (200 when nothing new was stored). 422 when no file could be stored at all.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from dealer_leads import error_response
from dealer_leads.api.auth import require_api_key
from dealer_leads.extensions import db
from dealer_leads.inventory import photo_services as services
from dealer_leads.inventory.services import VehicleNotFound, get_vehicle_by_vin

bp = Blueprint("api_photos", __name__, url_prefix="/api/v1")

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024


@bp.post("/vehicles/<vin>/photos")
@require_api_key("inventory")
def upload_photos(vin: str):
    """Multipart field `photos`, one or many files; processed in the background."""
    try:
        vehicle = get_vehicle_by_vin(vin)
    except VehicleNotFound as error:
        return error_response(404, "not_found", str(error))
    if request.mimetype != "multipart/form-data":
        return error_response(
            415, "unsupported_media_type", "send the photos as multipart/form-data, field photos"
        )
    vehicle_id, vin, key_id = vehicle.id, vehicle.vin, g.api_key.id
    db.session.rollback()  # no transaction (on SQLite, the write lock) while the body arrives
    limit = current_app.config.get("MAX_PHOTO_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    request.max_content_length = limit  # photos need more than the app-wide body limit
    try:
        files = services.read_files(request.files.getlist("photos"))
    except RequestEntityTooLarge:
        return error_response(413, "payload_too_large", f"the request is over {limit} bytes")
    if not files:
        message = "attach one or more image files in the multipart field photos"
        return error_response(400, "missing_photos", message, {"photos": message})
    result = services.add_photos(vehicle_id, files, user_id=None)
    current_app.logger.info(
        "API key #%s uploaded %d photo(s) for %s", key_id, len(result.stored), vin
    )
    return _answer(vin, result)


def _answer(vin: str, result: services.UploadResult):
    summary = services.upload_summary(result)
    if not result.stored and not result.duplicates:
        fields = {
            f"photos[{e['index']}]": f"{e['filename']}: {e['message']}" for e in summary["errors"]
        }
        response, status = error_response(422, "invalid_photos", "no photo could be stored", fields)
        return response, status
    return jsonify(vin=vin, **summary), 201 if result.stored else 200
