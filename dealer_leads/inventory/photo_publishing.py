"""Published vehicle photos: their URLs (every size, for pages, feeds and e-mails) and the
photos-needed report of vehicles on the lot without enough real photos."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

from flask import current_app
from sqlalchemy import func, select

from dealer_leads.admin.services import dealership_zone
from dealer_leads.extensions import db
from dealer_leads.inventory.models import IN_STOCK_STATUSES, Vehicle, VehiclePhoto
from dealer_leads.inventory.photo_services import list_photos

PUBLIC_PATH = "/photos/"  # where photo_views serves PHOTOS_DIR/public
ON_THE_LOT = tuple(status for status in IN_STOCK_STATUSES if status != "in_transit")


@dataclass(frozen=True)
class PhotosNeeded:
    """One line of the 'photos needed' report."""

    vehicle: Vehicle
    real_photos: int
    in_progress: int
    days_in_stock: int
    days_to_photo: int | None
    failed: int = 0  # photos that could not be processed: to remove and take again


def photo_sizes(derivatives: dict, url_for_file) -> dict[str, dict]:
    """{"thumb": {"jpeg": url, "webp": url, "width": w, "height": h}, …} from the stored JSON."""
    sizes: dict[str, dict] = {}
    for key, entry in (derivatives or {}).items():
        kind, _, image_format = key.partition(".")
        size = sizes.setdefault(kind, {"width": entry["width"], "height": entry["height"]})
        size[image_format] = url_for_file(entry["file"])
    return dict(sorted(sizes.items(), key=lambda item: item[1]["width"]))


def public_url(filename: str, base: str = "") -> str:
    """The URL of one published file; absolute when given the site's base URL."""
    return f"{base.rstrip('/')}{PUBLIC_PATH}{filename}"


def photo_urls(vehicle: Vehicle) -> list[dict]:
    """The vehicle's ready photos in order (hero first), with absolute URLs of every size."""
    base = current_app.config["PUBLIC_BASE_URL"]
    return [
        {
            "id": photo.id,
            "position": number,
            "placeholder": photo.is_placeholder,
            "sizes": photo_sizes(photo.derivatives, lambda name: public_url(name, base)),
        }
        for number, photo in enumerate(p for p in list_photos(vehicle.id) if p.status == "ready")
    ]


def list_photos_needed(min_photos: int, today: date) -> list[PhotosNeeded]:
    """Vehicles on the lot (in transit ones cannot be photographed yet) with fewer than
    `min_photos` real ready photos, oldest in stock first. Failed photos count as neither real
    nor in progress; they are shown apart, to be removed."""
    real = func.count(VehiclePhoto.id).filter(
        VehiclePhoto.status == "ready", VehiclePhoto.is_placeholder.is_(False)
    )
    busy = func.count(VehiclePhoto.id).filter(VehiclePhoto.status.in_(("pending", "processing")))
    failed = func.count(VehiclePhoto.id).filter(VehiclePhoto.status == "failed")
    rows = db.session.execute(
        select(Vehicle, real, busy, failed)
        .outerjoin(VehiclePhoto, VehiclePhoto.vehicle_id == Vehicle.id)
        .where(Vehicle.status.in_(ON_THE_LOT))
        .group_by(Vehicle.id)
        .having(real < min_photos)
    ).all()
    zone = dealership_zone()
    lines = [_needed_line(*row, today=today, zone=zone) for row in rows]
    return sorted(lines, key=lambda line: (-line.days_in_stock, line.vehicle.id))


def _needed_line(
    vehicle: Vehicle, real: int, pending: int, failed: int, *, today: date, zone: tzinfo
) -> PhotosNeeded:
    return PhotosNeeded(
        vehicle=vehicle,
        real_photos=real,
        in_progress=pending,
        days_in_stock=max((today - _stocked_on(vehicle, zone)).days, 0),
        days_to_photo=days_to_photo(vehicle, zone),
        failed=failed,
    )


def days_to_photo(vehicle: Vehicle, zone: tzinfo) -> int | None:
    """Days from the date in stock to the first real photo (None while it has none).

    Reads only the vehicle's own columns, so a list of vehicles costs no query per row.
    """
    if vehicle.first_photo_at is None:
        return None
    photographed = vehicle.first_photo_at.astimezone(zone).date()
    return max((photographed - _stocked_on(vehicle, zone)).days, 0)


def _stocked_on(vehicle: Vehicle, zone: tzinfo) -> date:
    """The date in stock; a vehicle without one counts from the day it was entered."""
    return vehicle.in_stock_on or vehicle.created_at.astimezone(zone).date()
