"""Stock for the feed tests: vehicles with valid VINs and ready photos, no image work."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.inventory.vin import check_digit

_serials = count(1)


def valid_vin(serial: int | None = None) -> str:
    """A North American VIN with a correct check digit (position 9)."""
    draft = f"1HGCM826X5A{serial if serial is not None else next(_serials):06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


def add_photos(vehicle: Vehicle, n: int, *, placeholder: bool = False, sha: str = "") -> None:
    """`n` ready photos after the vehicle's others (derivatives named by vehicle and position)."""
    start = len(vehicle.photos)
    for position in range(start, start + n):
        digest = sha or f"{vehicle.vin}-{position}".ljust(64, "0")[:64]
        stem = f"{vehicle.vin.lower()}{position:02d}"
        vehicle.photos.append(
            VehiclePhoto(
                position=position,
                original_path=f"originals/{digest[:2]}/{digest}.jpg",
                original_sha256=digest,
                status="ready",
                is_placeholder=placeholder,
                derivatives={
                    f"{kind}.{fmt}": {"file": f"{stem}-{kind}.{ext}", "width": 8, "height": 6}
                    for kind in ("large", "listing", "medium", "thumb")
                    for fmt, ext in (("jpeg", "jpg"), ("webp", "webp"))
                },
            )
        )


def make_vehicle(*, photos: int = 3, commit: bool = True, **values) -> Vehicle:
    """An available vehicle with a valid VIN, a price, mileage and `photos` ready photos."""
    serial = next(_serials)
    fields = {
        "vin": valid_vin(serial),
        "stock_number": f"S{serial}",
        "year": 2024,
        "make": "Honda",
        "model": "Civic",
        "trim": "EX",
        "condition": "used",
        "odometer": 12000 + serial,
        "price": Decimal("25000.00"),
        "status": "available",
    }
    fields.update(values)
    vehicle = Vehicle(**fields)
    db.session.add(vehicle)
    add_photos(vehicle, photos)
    if commit:
        db.session.commit()
    return vehicle
