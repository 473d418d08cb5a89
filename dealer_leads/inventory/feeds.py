"""Feed writers: plain vehicle records in, feed text out. Pure: no database, no Flask.

Every writer has the same three steps, `head()`, `rows(records)` and `tail()`, so a feed can be
written batch by batch (the build never holds the whole stock in memory) and `stream()` turns a
writer and an iterable of batches into a generator of text chunks for a streamed answer.

Policies:

- Nothing time-dependent is written (no "generated at"): the same stock gives the same bytes,
  so the ETag of a feed stays the same until something in it changes.
- Spreadsheet formulas: a CSV/TSV cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage
  return) gets a leading `'`, so a person opening the file in a spreadsheet runs no formula.
- Google's TSV has no quoting: tabs and line breaks in a value become spaces. The CSVs quote
  (RFC 4180), so commas, quotes, line breaks and any Unicode survive a round trip.
- Availability follows the vehicle's status (on the lot, sale pending, in transit): the dealer
  CSV and JSON give the status itself, Meta and the JSON-LD map it onto their own values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GOOGLE_MAX_ADDITIONAL_IMAGES = 10


@dataclass(frozen=True)
class FeedPhoto:
    """One published photo: a JPEG URL per size kind ("large", "listing", "medium", "thumb")."""

    urls: dict[str, str]

    def url(self, *kinds: str) -> str:
        """The first of `kinds` this photo has, else its largest JPEG."""
        for kind in kinds:
            if kind in self.urls:
                return self.urls[kind]
        for kind in ("large", "medium", "listing", "thumb"):
            if kind in self.urls:
                return self.urls[kind]
        return ""


@dataclass
class FeedVehicle:
    """A vehicle as the feeds see it: plain values, photos in their set order (hero first)."""

    vin: str
    stock: str = ""
    condition: str = "new"
    status: str = "available"  # in_transit, available or pending (the only ones in a feed)
    year: int | None = None
    make: str = ""
    model: str = ""
    trim: str = ""
    body_style: str = ""
    exterior_color: str = ""
    interior_color: str = ""
    drivetrain: str = ""
    fuel: str = ""
    transmission: str = ""
    odometer: int | None = None
    odometer_unit: str = "km"
    price: Decimal | None = None
    msrp: Decimal | None = None
    sale_price: Decimal | None = None
    promotion: str = ""
    promotion_starts: datetime | None = None
    promotion_ends: datetime | None = None
    in_stock_on: date | None = None
    options: list[str] = field(default_factory=list)
    description: str = ""
    url: str = ""
    photos: list[FeedPhoto] = field(default_factory=list)

    @property
    def title(self) -> str:
        return " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)

    def photo_urls(self, *kinds: str) -> list[str]:
        return [url for photo in self.photos if (url := photo.url(*kinds))]


@dataclass(frozen=True)
class FeedContext:
    """What every row shares: the dealership and its currency."""

    dealership_name: str = ""
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = "CA"
    currency: str = "CAD"
    store_code: str = "main"

    @property
    def address(self) -> str:
        parts = [self.street, self.city, f"{self.region} {self.postal_code}".strip(), self.country]
        return ", ".join(p for p in parts if p)


# --- values ------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula, made plain text with a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def amount(value: Decimal | None) -> str:
    """34995.00 (two decimals, no grouping); '' when unknown."""
    return "" if value is None else f"{value:.2f}"


def money(value: Decimal | None, currency: str) -> str:
    """ISO 4217 price text as Google and Meta take it: '34995.00 CAD'."""
    return "" if value is None else f"{value:.2f} {currency}"


def cell_text(value: Any) -> str:
    """A value as a feed cell: decimals with two places, dates in ISO 8601, None as ''."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return amount(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


# --- the dealer CSV ----------------------------------------------------------------------------

CSV_FIELDS: dict[str, Any] = {
    "stock": lambda v: v.stock,
    "vin": lambda v: v.vin,
    "condition": lambda v: v.condition,
    "year": lambda v: v.year,
    "make": lambda v: v.make,
    "model": lambda v: v.model,
    "trim": lambda v: v.trim,
    "title": lambda v: v.title,
    "body": lambda v: v.body_style,
    "exterior_color": lambda v: v.exterior_color,
    "interior_color": lambda v: v.interior_color,
    "drivetrain": lambda v: v.drivetrain,
    "fuel": lambda v: v.fuel,
    "transmission": lambda v: v.transmission,
    "mileage": lambda v: v.odometer,
    "mileage_unit": lambda v: v.odometer_unit,
    "price": lambda v: v.price,
    "sale_price": lambda v: v.sale_price,
    "promotion": lambda v: v.promotion,
    "msrp": lambda v: v.msrp,
    "in_stock_date": lambda v: v.in_stock_on,
    "options": lambda v: "; ".join(v.options),
    "description": lambda v: v.description,
    "vdp_url": lambda v: v.url,
    "photo_urls": lambda v: "|".join(v.photo_urls("large")),
    "photo_count": lambda v: len(v.photos),
    "status": lambda v: v.status,
}
DEFAULT_CSV_COLUMNS: dict[str, str] = {  # header -> field
    "stock_number": "stock",
    "vin": "vin",
    "condition": "condition",
    "year": "year",
    "make": "make",
    "model": "model",
    "trim": "trim",
    "body_style": "body",
    "exterior_color": "exterior_color",
    "interior_color": "interior_color",
    "mileage": "mileage",
    "mileage_unit": "mileage_unit",
    "price": "price",
    "sale_price": "sale_price",
    "promotion": "promotion",
    "msrp": "msrp",
    "in_stock_date": "in_stock_date",
    "options": "options",
    "description": "description",
    "vdp_url": "vdp_url",
    "photo_urls": "photo_urls",
    "status": "status",  # last, so the columns before it keep their places
}


class InvalidColumns(ValueError):
    """A CSV column mapping that names a field the CSV does not have."""


def parse_columns(spec: str) -> dict[str, str]:
    """'Stock=stock, VIN=vin, Price' -> {"Stock": "stock", "VIN": "vin", "Price": "price"}."""
    columns: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        header, _, name = part.partition("=")
        name = (name or header).strip().lower()
        if name not in CSV_FIELDS:
            raise InvalidColumns(f"unknown feed field {name!r} (known: {', '.join(CSV_FIELDS)})")
        columns[header.strip()] = name
    if not columns:
        raise InvalidColumns("the column mapping names no column")
    return columns


class BufferedCsv:
    """A csv.writer on a string buffer whose text is taken after every batch."""

    def __init__(self, **options: Any) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n", **options)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


class CsvWriter:
    """The dealer CSV: one row per vehicle, the columns of a mapping (header -> field)."""

    media_type = "text/csv; charset=utf-8"

    def __init__(self, columns: dict[str, str] | None = None) -> None:
        self.columns = dict(columns or DEFAULT_CSV_COLUMNS)
        self.getters = [CSV_FIELDS[name] for name in self.columns.values()]
        self.out = BufferedCsv()

    def head(self) -> str:
        self.out.writer.writerow([neutralise(h) for h in self.columns])
        return self.out.take()

    def rows(self, records: Iterable[FeedVehicle]) -> str:
        write = self.out.writer.writerow
        for record in records:
            write([neutralise(cell_text(get(record))) for get in self.getters])
        return self.out.take()

    def tail(self) -> str:
        return ""


# --- Google vehicle listings (TSV) -------------------------------------------------------------

GOOGLE_COLUMNS = (
    "id",
    "vin",
    "store_code",
    "dealership_name",
    "dealership_address",
    "title",
    "description",
    "link",
    "image_link",
    "additional_image_link",
    "price",
    "sale_price",
    "sale_price_effective_date",
    "vehicle_msrp",
    "condition",
    "certified_pre_owned",
    "brand",
    "make",
    "model",
    "trim",
    "year",
    "mileage",
    "body_style",
    "exterior_color",
    "interior_color",
    "date_in_stock",
    "vehicle_fulfillment",
)
GOOGLE_REQUIRED = (
    "vin",
    "store_code",
    "dealership_name",
    "dealership_address",
    "price",
    "condition",
    "make",
    "model",
    "year",
)


def _tsv_cell(value: Any) -> str:
    text = cell_text(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return neutralise(text)


def _mileage_text(record: FeedVehicle) -> str:
    if record.odometer is None:
        return ""
    return f"{record.odometer} {'miles' if record.odometer_unit == 'mi' else 'km'}"


def _effective_dates(record: FeedVehicle) -> str:
    """Google's 'start/end' in ISO 8601 for a sale price, e.g. 2026-11-01T00:00+0000/…."""
    start, end = record.promotion_starts, record.promotion_ends
    if record.sale_price is None or start is None or end is None:
        return ""
    return f"{start:%Y-%m-%dT%H:%M%z}/{end:%Y-%m-%dT%H:%M%z}"


class GoogleWriter:
    """Google vehicle listings as tab-separated values, every vehicle each time (a snapshot)."""

    media_type = "text/tab-separated-values; charset=utf-8"

    def __init__(self, context: FeedContext) -> None:
        self.context = context

    def head(self) -> str:
        return "\t".join(GOOGLE_COLUMNS) + "\n"

    def values(self, r: FeedVehicle) -> tuple:
        """One row's values, in GOOGLE_COLUMNS order."""
        c = self.context
        images = r.photo_urls("listing")
        return (
            r.stock or r.vin,
            r.vin,
            c.store_code,
            c.dealership_name,
            c.address,
            r.title,
            r.description or r.title,
            r.url,
            images[0] if images else "",
            ",".join(images[1 : GOOGLE_MAX_ADDITIONAL_IMAGES + 1]),
            money(r.price, c.currency),
            money(r.sale_price, c.currency),
            _effective_dates(r),
            money(r.msrp, c.currency) if r.condition == "new" else "",
            "new" if r.condition == "new" else "used",
            "yes" if r.condition == "certified" else "no",
            r.make,
            r.make,
            r.model,
            r.trim,
            r.year,
            _mileage_text(r),
            r.body_style,
            r.exterior_color,
            r.interior_color,
            r.in_stock_on,
            f"in_store:{c.store_code}",
        )

    def rows(self, records: Iterable[FeedVehicle]) -> str:
        lines = ["\t".join(_tsv_cell(v) for v in self.values(r)) for r in records]
        return "".join(line + "\n" for line in lines)

    def tail(self) -> str:
        return ""


# --- streaming ---------------------------------------------------------------------------------


def stream(writer: Any, batches: Iterable[Iterable[FeedVehicle]]) -> Iterator[str]:
    """The writer's text, one chunk per batch: head, rows…, tail."""
    yield writer.head()
    for batch in batches:
        text = writer.rows(batch)
        if text:
            yield text
    tail = writer.tail()
    if tail:
        yield tail
