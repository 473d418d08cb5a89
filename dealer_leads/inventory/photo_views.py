"""Photo pages: upload, order, hero, placeholder, delete; public derivatives.

Supervisors, admins and webmasters manage a vehicle's photos; advisors may look. The published
derivatives under PHOTOS_DIR/public are public (listing sites fetch them) and cached forever;
originals are never served.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from dealer_leads import error_response
from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import STOCK_ROLES
from dealer_leads.auth.services import check_csrf, role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import csrf, db
from dealer_leads.inventory import photo_publishing
from dealer_leads.inventory import photo_services as services
from dealer_leads.inventory.photos import CACHE_CONTROL
from dealer_leads.inventory.services import VehicleNotFound, get_vehicle

bp = Blueprint("photos", __name__)

VIEWERS = (*STOCK_ROLES, "advisor")
DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
DEFAULT_PHOTOS_NEEDED_MIN = 12
POLL_STATES = ("pending", "processing")


@bp.get("/inventory/<int:vehicle_id>/photos")
@role_required(*VIEWERS)
def manage(vehicle_id: int):
    """The gallery, with the upload form and the buttons for those who manage photos."""
    vehicle = _vehicle_or_404(vehicle_id)
    gallery = services.list_photos(vehicle.id)
    return render_template(
        "inventory/photos.html",
        vehicle=vehicle,
        gallery=gallery,
        hero_id=next((p.id for p in gallery if p.status == "ready"), None),
        thumbs={p.id: _thumb(p.derivatives) for p in gallery},
        can_manage=current_user.role in STOCK_ROLES,
        busy=any(p.status in POLL_STATES for p in gallery),
        failed=sum(p.status == "failed" for p in gallery),
        limits=_limits(),
    )


@bp.post("/inventory/<int:vehicle_id>/photos")
@role_required(*STOCK_ROLES)
def upload(vehicle_id: int):
    """Store the originals and answer at once; the worker makes the sizes."""
    vehicle_id, user_id = _vehicle_or_404(vehicle_id).id, current_user.id
    db.session.rollback()  # no transaction (on SQLite, the write lock) while the body arrives
    limit = _limits()["request"]
    request.max_content_length = limit  # photos need more than the app-wide body limit
    try:
        check_csrf()
        files = services.read_files(request.files.getlist("photos"))
    except RequestEntityTooLarge:
        return error_response(413, "payload_too_large", f"the upload is over {_mib(limit)}")
    if not files:
        return _answer_missing(vehicle_id)
    result = services.add_photos(vehicle_id, files, user_id)
    if _wants_json():
        status = 422 if result.errors and not (result.stored or result.duplicates) else 200
        return jsonify(services.upload_summary(result)), status
    _flash_result(result)
    return redirect(url_for("photos.manage", vehicle_id=vehicle_id), 303)


# The body is parsed only once the view has raised the size limit; CSRFProtect's before_request
# would parse it first under the app-wide MAX_CONTENT_LENGTH, so this view checks CSRF itself.
csrf.exempt(upload)


@bp.get("/inventory/<int:vehicle_id>/photos/status")
@role_required(*VIEWERS)
def status(vehicle_id: int):
    """Each photo's state, for the page to poll while derivatives arrive."""
    vehicle = _vehicle_or_404(vehicle_id)
    items = [
        {
            "id": photo.id,
            "position": photo.position,
            "status": photo.status,
            "error": photo.error,
            "placeholder": photo.is_placeholder,
            "name": photo.original_name,
            "thumb": _thumb(photo.derivatives).get("jpeg"),
        }
        for photo in services.list_photos(vehicle.id)
    ]
    busy = sum(item["status"] in POLL_STATES for item in items)
    return (
        jsonify(vehicle_id=vehicle.id, photos=items, busy=busy),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.post("/inventory/<int:vehicle_id>/photos/order")
@role_required(*STOCK_ROLES)
def reorder(vehicle_id: int):
    """A new order from drag and drop: the photo ids, first to last."""
    _vehicle_or_404(vehicle_id)
    try:
        ids = [int(value) for value in request.form.getlist("photo_ids")]
        ordered = services.reorder_photos(vehicle_id, ids)
    except (ValueError, services.InvalidOrder) as error:
        return error_response(400, "invalid_order", str(error), {"photo_ids": str(error)})
    if _wants_json():
        return jsonify(photo_ids=[photo.id for photo in ordered])
    return _back(vehicle_id, "Order saved.")


@bp.post("/inventory/<int:vehicle_id>/photos/<int:photo_id>/move")
@role_required(*STOCK_ROLES)
def move(vehicle_id: int, photo_id: int):
    """One place up or down: the buttons, for keyboards, screen readers and pages without JS."""
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step is None:
        abort(400, "direction must be up or down")
    services.move_photo(_photo_or_404(vehicle_id, photo_id).id, step)
    return _back(vehicle_id, anchor=f"photo-{photo_id}")


@bp.post("/inventory/<int:vehicle_id>/photos/<int:photo_id>/hero")
@role_required(*STOCK_ROLES)
def hero(vehicle_id: int, photo_id: int):
    services.set_hero(_photo_or_404(vehicle_id, photo_id).id)
    return _back(vehicle_id, "That photo now leads the listing.")


@bp.post("/inventory/<int:vehicle_id>/photos/<int:photo_id>/placeholder")
@role_required(*STOCK_ROLES)
def placeholder(vehicle_id: int, photo_id: int):
    """Mark or unmark a stock/placeholder image (it does not count as a real photo)."""
    flag = request.form.get("placeholder") == "1"
    services.set_placeholder(_photo_or_404(vehicle_id, photo_id).id, flag)
    message = "Marked as a stock image." if flag else "Marked as a real photo."
    return _back(vehicle_id, message, anchor=f"photo-{photo_id}")


@bp.post("/inventory/<int:vehicle_id>/photos/<int:photo_id>/delete")
@role_required(*STOCK_ROLES)
def delete(vehicle_id: int, photo_id: int):
    services.delete_photo(_photo_or_404(vehicle_id, photo_id).id)
    return _back(vehicle_id, "Photo deleted.")


@bp.get("/inventory/photos-needed")
@role_required(*STOCK_ROLES)
def needed():
    """Vehicles in stock still short of real photos, oldest in stock first."""
    default = current_app.config.get("PHOTOS_NEEDED_MIN", DEFAULT_PHOTOS_NEEDED_MIN)
    minimum = request.args.get("min", default, type=int)
    if not 1 <= minimum <= 100:
        minimum = default
    today = now_utc().astimezone(dealership_zone()).date()
    rows = photo_publishing.list_photos_needed(minimum, today)
    return render_template("inventory/photos_needed.html", rows=rows, minimum=minimum)


@bp.get("/photos/<path:filename>")
def public_file(filename: str):
    """A published derivative; anything else under PHOTOS_DIR (originals) is a 404."""
    if not services.PUBLIC_NAME.fullmatch(filename):
        abort(404)
    response = send_from_directory(services.public_dir(), filename, max_age=31536000)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- helpers -----------------------------------------------------------------------------------


def _limits() -> dict[str, int]:
    config = current_app.config
    return {
        "request": config.get("MAX_PHOTO_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
        "file": config.get("MAX_PHOTO_BYTES", services.DEFAULT_MAX_PHOTO_BYTES),
        "count": config.get("MAX_PHOTOS_PER_UPLOAD", services.DEFAULT_MAX_PHOTOS_PER_UPLOAD),
    }


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB"


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _answer_missing(vehicle_id: int):
    message = "choose one or more photos to upload"
    if _wants_json():
        return error_response(400, "missing_photos", message, {"photos": message})
    flash(message[0].upper() + message[1:] + ".", "error")
    return redirect(url_for("photos.manage", vehicle_id=vehicle_id), 303)


def _flash_result(result: services.UploadResult) -> None:
    if result.stored:
        flash(f"Uploaded {len(result.stored)} photo(s); the sizes are being made.", "success")
    for duplicate in result.duplicates:
        flash(f"{duplicate.filename}: this vehicle has that photo already.", "info")
    for note in result.errors:
        flash(f"{note.filename}: {note.message}", "error")
    for note in result.warnings:
        flash(f"{note.filename}: {note.message}", "info")


def _thumb(derivatives: dict) -> dict:
    """The smallest size's relative URLs (same origin as the page)."""
    sizes = photo_publishing.photo_sizes(derivatives, photo_publishing.public_url)
    return next(iter(sizes.values()), {})


def _vehicle_or_404(vehicle_id: int):
    try:
        return get_vehicle(vehicle_id)
    except VehicleNotFound:
        abort(404, f"There is no vehicle #{vehicle_id}.")


def _photo_or_404(vehicle_id: int, photo_id: int):
    try:
        return services.get_photo(photo_id, vehicle_id)
    except services.PhotoNotFound:
        abort(404, f"There is no photo #{photo_id} on this vehicle.")


def _back(vehicle_id: int, message: str = "", anchor: str | None = None):
    if message:
        flash(message, "success")
    return redirect(url_for("photos.manage", vehicle_id=vehicle_id, _anchor=anchor), 303)
