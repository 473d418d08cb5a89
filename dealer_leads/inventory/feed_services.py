"""Feed data: read the stock in batches as plain feed records, with promotions and quality.

The stock is read in batches of FEED_BATCH vehicles (keyset on the id), photos with one query
per batch, so building a feed of 10,000 vehicles holds a few hundred at a time. Only vehicles in
stock (in transit, available, pending) are read: a sold or hidden vehicle is never in a feed.

Photos: ready ones, in their set order (the hero first), as absolute URLs under PUBLIC_BASE_URL.
Their file names are content hashes, so a URL stays the same while the bytes do not change.
A placeholder is a photo the webmaster marked as one, or one whose bytes are on
FEED_SHARED_PHOTO_VEHICLES or more vehicles (a stock "photo coming soon" picture). A new car may
show placeholders after its real photos; a used car never shows them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from dealer_leads.admin.services import get_dealership
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_json import jsonld_script
from dealer_leads.inventory.feed_quality import (
    TARGET_LABELS,
    TARGETS,
    PhotoCount,
    blocked,
    find_problems,
    problem_label,
)
from dealer_leads.inventory.feeds import (
    DEFAULT_CSV_COLUMNS,
    FeedContext,
    FeedPhoto,
    FeedVehicle,
    parse_columns,
)
from dealer_leads.inventory.models import IN_STOCK_STATUSES, Vehicle, VehiclePhoto
from dealer_leads.inventory.photo_publishing import public_url
from dealer_leads.inventory.promotions import best_offer, running_promotions
from dealer_leads.inventory.vin import check_vin

IN_STOCK = frozenset(IN_STOCK_STATUSES)
CURRENCIES = {"CA": "CAD", "US": "USD", "MX": "MXN", "GB": "GBP"}
DEFAULT_BATCH = 500
DEFAULT_SHARED_PHOTO_VEHICLES = 5


@dataclass
class FeedEntry:
    """One vehicle in stock: its feed record and what keeps it out of which feed."""

    vehicle_id: int
    record: FeedVehicle
    problems: list[str]


def feed_context() -> FeedContext:
    """The dealership's name, address and currency as every feed row shows them."""
    dealer = get_dealership()
    config = current_app.config
    country = (dealer.country or config.get("DEALERSHIP_COUNTRY") or "CA").upper()
    return FeedContext(
        dealership_name=dealer.name or "",
        street=dealer.street or "",
        city=dealer.city or "",
        region=dealer.region or "",
        postal_code=dealer.postal_code or "",
        country=country,
        currency=config.get("FEED_CURRENCY") or CURRENCIES.get(country, "USD"),
        store_code=config.get("FEED_STORE_CODE") or "main",
    )


def csv_columns() -> dict[str, str]:
    """The dealer CSV's columns: FEED_CSV_COLUMNS ('Header=field, …') or the default set."""
    spec = current_app.config.get("FEED_CSV_COLUMNS") or ""
    return parse_columns(spec) if spec.strip() else dict(DEFAULT_CSV_COLUMNS)


def vdp_url(vehicle: Vehicle, template: str, website: str) -> str:
    """The vehicle's page on the dealership's web site, from FEED_VDP_URL."""
    site = website.strip().rstrip("/")
    if site and "://" not in site:
        site = "https://" + site
    try:
        return template.format(
            site=site, vin=vehicle.vin, stock=vehicle.stock_number or vehicle.vin, id=vehicle.id
        )
    except (KeyError, IndexError, ValueError):
        return ""


def shared_photo_hashes(threshold: int, among: Collection[str] | None = None) -> frozenset[str]:
    """Originals used by `threshold` or more vehicles: stock pictures, not this car's photos.

    `among` limits the question to some originals (one vehicle's page)."""
    if threshold <= 0 or (among is not None and not among):
        return frozenset()
    query = (
        select(VehiclePhoto.original_sha256)
        .where(VehiclePhoto.status == "ready")
        .group_by(VehiclePhoto.original_sha256)
        .having(func.count(func.distinct(VehiclePhoto.vehicle_id)) >= threshold)
    )
    if among is not None:
        query = query.where(VehiclePhoto.original_sha256.in_(list(among)))
    return frozenset(db.session.scalars(query))


def _photo(derivatives: dict, prefix: str) -> FeedPhoto:
    """The JPEG URL of every size; `prefix` is public_url("") (the base and the photos path)."""
    urls = {}
    for key, entry in (derivatives or {}).items():
        kind, _, image_format = key.partition(".")
        if image_format == "jpeg" and entry.get("file"):
            urls[kind] = prefix + entry["file"]
    return FeedPhoto(urls)


class _Reader:
    """Reads the stock batch by batch with what every batch shares (settings, promotions)."""

    def __init__(self, now: datetime, among: Collection[str] | None = None) -> None:
        config = current_app.config
        self.now = now
        self.prefix = public_url("", config["PUBLIC_BASE_URL"])
        self.batch = int(config.get("FEED_BATCH") or DEFAULT_BATCH)
        self.min_photos = int(config.get("FEED_MIN_PHOTOS") or 0)
        self.template = config.get("FEED_VDP_URL") or "{site}/inventory/{vin}"
        self.website = get_dealership().website or config["PUBLIC_BASE_URL"]
        threshold = config.get("FEED_SHARED_PHOTO_VEHICLES", DEFAULT_SHARED_PHOTO_VEHICLES)
        self.shared = shared_photo_hashes(int(threshold), among)
        self.promotions = running_promotions(now)

    def batches(self) -> Iterator[list[FeedEntry]]:
        # The ids first (an index walk, a few bytes each), then each batch by primary key: every
        # query stays an index look-up however large the stock, on SQLite and PostgreSQL alike.
        ids = list(
            db.session.scalars(
                select(Vehicle.id).where(Vehicle.status.in_(IN_STOCK_STATUSES)).order_by(Vehicle.id)
            )
        )
        for start in range(0, len(ids), self.batch):
            chunk = ids[start : start + self.batch]
            vehicles = db.session.scalars(
                select(Vehicle).where(Vehicle.id.in_(chunk)).order_by(Vehicle.id)
            ).all()
            photos = self.photos(chunk)
            # The session's identity map holds unchanged rows weakly: once this batch is
            # dropped, its objects go too, so memory stays flat however large the stock.
            yield [self.entry(v, photos.get(v.id, [])) for v in vehicles if v.status in IN_STOCK]

    def photos(self, ids: list[int]) -> dict[int, list[tuple[bool, dict]]]:
        """Ready photos of these vehicles in display order, flagged when a placeholder."""
        # No status filter in SQL: with one, SQLite walks the status index (every ready photo
        # of the lot) instead of the vehicle_id one; the few photos not ready are skipped here.
        rows = db.session.connection().execute(
            select(
                VehiclePhoto.vehicle_id,
                VehiclePhoto.status,
                VehiclePhoto.is_placeholder,
                VehiclePhoto.original_sha256,
                VehiclePhoto.derivatives,
            )
            .where(VehiclePhoto.vehicle_id.in_(ids))
            .order_by(VehiclePhoto.vehicle_id, VehiclePhoto.position, VehiclePhoto.id)
        )
        found: dict[int, list[tuple[bool, dict]]] = {}
        shared = self.shared
        for vehicle_id, status, flagged, sha, derivatives in rows:
            if status == "ready":
                found.setdefault(vehicle_id, []).append((flagged or sha in shared, derivatives))
        return found

    def entry(self, vehicle: Vehicle, photos: list[tuple[bool, dict]]) -> FeedEntry:
        real = [self._url_set(d) for placeholder, d in photos if not placeholder]
        stock = [self._url_set(d) for placeholder, d in photos if placeholder]
        shown = real if vehicle.condition != "new" else real + stock
        record = record_for(vehicle, shown, vdp_url(vehicle, self.template, self.website))
        offer = best_offer(vehicle, self.promotions, self.now)
        if offer is not None:
            record.sale_price, record.promotion = offer.sale_price, offer.text
            record.promotion_starts, record.promotion_ends = offer.starts_at, offer.ends_at
        check = check_vin(vehicle.vin)
        vin_ok = check.valid and (not check.warnings or vehicle.vin_override)
        count = PhotoCount(real=len(real), placeholders=len(stock))
        problems = find_problems(record, vin_ok=vin_ok, photos=count, min_photos=self.min_photos)
        return FeedEntry(vehicle.id, record, problems)

    def _url_set(self, derivatives: dict) -> FeedPhoto:
        return _photo(derivatives, self.prefix)


def record_for(vehicle: Vehicle, photos: list[FeedPhoto], url: str) -> FeedVehicle:
    """A vehicle row as a plain feed record."""
    return FeedVehicle(
        vin=vehicle.vin,
        stock=vehicle.stock_number or "",
        condition=vehicle.condition or "new",
        status=vehicle.status,
        year=vehicle.year,
        make=vehicle.make or "",
        model=vehicle.model or "",
        trim=vehicle.trim or "",
        body_style=vehicle.body_style or "",
        exterior_color=vehicle.exterior_color or "",
        interior_color=vehicle.interior_color or "",
        drivetrain=vehicle.drivetrain or "",
        fuel=vehicle.fuel or "",
        transmission=vehicle.transmission or "",
        odometer=vehicle.odometer,
        odometer_unit=vehicle.odometer_unit or "km",
        price=vehicle.price,
        msrp=vehicle.msrp,
        in_stock_on=vehicle.in_stock_on,
        options=[str(option) for option in (vehicle.options or [])],
        description=vehicle.description or "",
        url=url,
        photos=photos,
    )


def feed_batches(now: datetime) -> Iterator[list[FeedEntry]]:
    """Every vehicle in stock as feed entries, a batch at a time, in id order."""
    return _Reader(now).batches()


def vehicle_entry(vehicle_id: int, now: datetime) -> FeedEntry | None:
    """One vehicle's feed entry (its page's JSON-LD and quality flags), in stock or not."""
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        return None
    hashes = db.session.scalars(
        select(VehiclePhoto.original_sha256).where(VehiclePhoto.vehicle_id == vehicle_id)
    ).all()
    reader = _Reader(now, among=hashes)
    return reader.entry(vehicle, reader.photos([vehicle.id]).get(vehicle.id, []))


def vehicle_feed_panel(vehicle_id: int, now: datetime) -> dict | None:
    """For the vehicle page: its JSON-LD snippet, what keeps it out of which feed, its offer.

    None for a vehicle not in stock (sold or hidden vehicles are in no feed)."""
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.status not in IN_STOCK_STATUSES:
        return None
    entry = vehicle_entry(vehicle_id, now)
    if entry is None:
        return None
    out = blocked(entry.problems)
    record = entry.record
    return {
        "jsonld": jsonld_script(record, feed_context()),
        "problems": [problem_label(code) for code in entry.problems],
        "kept_out_of": [TARGET_LABELS[t] for t in TARGETS if t in out],
        "listed_in": [TARGET_LABELS[t] for t in TARGETS if t not in out],
        "promotion": record.promotion,
        "sale_price": record.sale_price,
    }
