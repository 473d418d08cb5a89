"""Inventory feeds: the webmaster's page, and the pull URLs consumers fetch with a token."""

from __future__ import annotations

import json
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select

from dealer_leads import error_response
from dealer_leads.auth.models import SITE_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_files import (
    FEED_FILES,
    MEDIA_TYPES,
    build_feed_files,
    feeds_dir,
    read_manifest,
    read_quality,
)
from dealer_leads.inventory.feed_json import car_jsonld
from dealer_leads.inventory.feed_models import FeedExport
from dealer_leads.inventory.feed_quality import PROBLEMS, TARGET_LABELS, TARGETS
from dealer_leads.inventory.feed_services import feed_context, vehicle_entry
from dealer_leads.inventory.feed_tokens import (
    ConsumerNotFound,
    InvalidConsumer,
    consumer_for_token,
    create_consumer,
    list_consumers,
    revoke_consumer,
)
from dealer_leads.inventory.models import IN_STOCK_STATUSES, Vehicle

bp = Blueprint("feeds", __name__)

EXPORTS_SHOWN = 10


def _manifest_view() -> dict | None:
    """The manifest with its times as datetimes, for the page."""
    manifest = read_manifest()
    if manifest is None:
        return None
    files = {
        name: {**entry, "changed_at": datetime.fromisoformat(entry["changed_at"])}
        for name, entry in manifest["files"].items()
    }
    return {"built_at": datetime.fromisoformat(manifest["built_at"]), "files": files}


def _page(status: int = 200, **extra):
    exports = db.session.scalars(
        select(FeedExport).order_by(FeedExport.id.desc()).limit(EXPORTS_SHOWN)
    ).all()
    body = render_template(
        "feeds/index.html",
        consumers=list_consumers(),
        manifest=_manifest_view(),
        quality=read_quality(),
        exports=exports,
        files=FEED_FILES,
        problems=PROBLEMS,
        targets=TARGETS,
        target_labels=TARGET_LABELS,
        base=current_app.config["PUBLIC_BASE_URL"].rstrip("/"),
        **extra,
    )
    return body, status, {"Cache-Control": "no-store"}


@bp.get("/inventory/feeds")
@role_required(*SITE_ROLES)
def index():
    """Consumers and their URLs, the files, the quality report and the change report."""
    return _page()


@bp.post("/inventory/feeds/consumers")
@role_required(*SITE_ROLES)
def add_consumer():
    """A new token; its URLs are shown on this answer only."""
    try:
        consumer, token = create_consumer(request.form.get("name", ""))
    except InvalidConsumer as error:
        return _page(400, name_error=str(error))
    return _page(created=consumer, token=token)


@bp.post("/inventory/feeds/consumers/<int:consumer_id>/revoke")
@role_required(*SITE_ROLES)
def revoke(consumer_id: int):
    try:
        consumer = revoke_consumer(consumer_id, now_utc())
    except ConsumerNotFound:
        abort(404, f"There is no feed consumer #{consumer_id}.")
    flash(f"Revoked the feed token of {consumer.name}: its URLs answer 404 from now on.", "info")
    return redirect(url_for("feeds.index"))


@bp.post("/inventory/feeds/build")
@role_required(*SITE_ROLES)
def build():
    """Build the feeds now rather than at the next scheduled build."""
    result = build_feed_files(now_utc(), force=request.form.get("force") == "1")
    if result.status == "held":
        flash(f"The feeds were held: {result.note}", "error")
    else:
        counts = ", ".join(f"{name}: {rows}" for name, rows in result.listed.items())
        flash(f"Feeds built ({counts}).", "info")
    return redirect(url_for("feeds.index"))


# --- the pull URLs -----------------------------------------------------------------------------


def _not_found():
    return error_response(404, "not_found", "There is no such feed.")


def _wants_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _send(name: str, manifest: dict) -> Response:
    entry = manifest["files"][name]
    gz = _wants_gzip()
    path = feeds_dir() / (entry["file"] + (".gz" if gz else ""))
    response = send_file(
        path,
        mimetype=MEDIA_TYPES[name],
        download_name=name,
        etag=entry["etag"][:32] + ("-gz" if gz else ""),
        last_modified=datetime.fromisoformat(entry["changed_at"]),
        conditional=True,
        max_age=None,
    )
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/feeds/<token>/<name>")
def pull(token: str, name: str):
    """One feed file for the holder of a live token: ETag, Last-Modified, 304, gzip, streamed."""
    if name not in FEED_FILES or consumer_for_token(token) is None:
        return _not_found()
    db.session.rollback()  # end the read: no transaction stays open while the file streams
    for _attempt in range(2):
        manifest = read_manifest()
        if manifest is None:
            build_feed_files(now_utc())
            manifest = read_manifest()
        try:
            return _send(name, manifest)
        except FileNotFoundError:  # two builds replaced the file since the manifest was read
            continue
    abort(503, "The feed is being rebuilt; try again in a minute.")


@bp.get("/feeds/<token>/vehicles/<vin>.jsonld")
def vehicle_jsonld(token: str, vin: str):
    """The schema.org Car JSON-LD of one vehicle in stock, for its page on the web site."""
    if consumer_for_token(token) is None:
        return _not_found()
    vehicle_id = db.session.scalar(
        select(Vehicle.id).where(Vehicle.vin == vin.upper(), Vehicle.status.in_(IN_STOCK_STATUSES))
    )
    entry = vehicle_entry(vehicle_id, now_utc()) if vehicle_id else None
    if entry is None:
        return _not_found()
    body = json.dumps(car_jsonld(entry.record, feed_context()), ensure_ascii=False)
    return Response(body, mimetype="application/ld+json")
