"""Meta's automotive catalog feed (CSV). Pure, like feeds.py.

Column names as Meta's catalog takes them: `vehicle_id`, `mileage.value` / `mileage.unit`,
`state_of_vehicle` (NEW, USED, CPO), `image[0].url` … in the photos' set order, hero first.
Body style, fuel, drivetrain and transmission are mapped onto Meta's upper-case values, and the
vehicle's status onto Meta's `availability` (AVAILABLE, PENDING, NOT_AVAILABLE).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dealer_leads.inventory.feeds import (
    BufferedCsv,
    FeedContext,
    FeedVehicle,
    cell_text,
    money,
    neutralise,
)

META_MAX_IMAGES = 20

META_COLUMNS = (
    "vehicle_id",
    "vin",
    "title",
    "description",
    "url",
    "make",
    "model",
    "year",
    "trim",
    "mileage.value",
    "mileage.unit",
    "body_style",
    "exterior_color",
    "interior_color",
    "transmission",
    "fuel_type",
    "drivetrain",
    "price",
    "sale_price",
    "state_of_vehicle",
    "availability",
    "dealer_name",
    "address.addr1",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
    *(f"image[{n}].url" for n in range(META_MAX_IMAGES)),
)
_META_BODIES = (  # first keyword found in the body style wins
    ("convertible", "CONVERTIBLE"),
    ("coupe", "COUPE"),
    ("crossover", "CROSSOVER"),
    ("hatch", "HATCHBACK"),
    ("minivan", "MINIVAN"),
    ("van", "VAN"),
    ("pickup", "PICKUP"),
    ("truck", "TRUCK"),
    ("suv", "SUV"),
    ("sport utility", "SUV"),
    ("wagon", "WAGON"),
    ("sedan", "SEDAN"),
)
_META_FUELS = (
    ("plug", "PLUGIN_HYBRID"),
    ("hybrid", "HYBRID"),
    ("electric", "ELECTRIC"),
    ("diesel", "DIESEL"),
    ("flex", "FLEX"),
    ("gas", "GASOLINE"),
)
_META_DRIVES = (("awd", "AWD"), ("all", "AWD"), ("4", "4X4"), ("fwd", "FWD"), ("front", "FWD"))
_META_DRIVES += (("rwd", "RWD"), ("rear", "RWD"))
# Meta's values are AVAILABLE, NOT_AVAILABLE, PENDING and UNKNOWN. A car still on its way to
# the lot cannot be seen or driven yet, and Meta has no value for incoming stock.
META_AVAILABILITY = {"available": "AVAILABLE", "pending": "PENDING", "in_transit": "NOT_AVAILABLE"}


def _keyword(value: str, table: Sequence[tuple[str, str]], default: str = "") -> str:
    lowered = value.lower()
    if not lowered:
        return default
    return next((label for key, label in table if key in lowered), "OTHER")


def _transmission(value: str) -> str:
    lowered = value.lower()
    if not lowered:
        return ""
    return "MANUAL" if "manual" in lowered else "AUTOMATIC"


class MetaWriter:
    """Meta's automotive catalog as CSV (image[0].url …, mileage.value/mileage.unit)."""

    media_type = "text/csv; charset=utf-8"

    def __init__(self, context: FeedContext) -> None:
        self.context = context
        self.out = BufferedCsv()

    def head(self) -> str:
        self.out.writer.writerow(META_COLUMNS)
        return self.out.take()

    def values(self, r: FeedVehicle) -> list:
        """One row's values, in META_COLUMNS order."""
        c = self.context
        state = {"new": "NEW", "certified": "CPO"}.get(r.condition, "USED")
        images = r.photo_urls("large")[:META_MAX_IMAGES]
        return [
            r.stock or r.vin,
            r.vin,
            r.title,
            r.description or r.title,
            r.url,
            r.make,
            r.model,
            r.year,
            r.trim,
            r.odometer if r.odometer is not None else (0 if r.condition == "new" else ""),
            "MI" if r.odometer_unit == "mi" else "KM",
            _keyword(r.body_style, _META_BODIES, "OTHER"),
            r.exterior_color,
            r.interior_color,
            _transmission(r.transmission),
            _keyword(r.fuel, _META_FUELS),
            _keyword(r.drivetrain, _META_DRIVES),
            money(r.price, c.currency),
            money(r.sale_price, c.currency),
            state,
            META_AVAILABILITY.get(r.status, "NOT_AVAILABLE"),
            c.dealership_name,
            c.street,
            c.city,
            c.region,
            c.postal_code,
            c.country,
            *images,
            *[""] * (META_MAX_IMAGES - len(images)),
        ]

    def rows(self, records: Iterable[FeedVehicle]) -> str:
        write = self.out.writer.writerow
        for record in records:
            write([neutralise(cell_text(v)) for v in self.values(record)])
        return self.out.take()

    def tail(self) -> str:
        return ""
