"""Feed quality: what keeps a vehicle out of which feed. Pure: values in, problem codes out.

A vehicle goes into a feed only when none of its problems applies to that feed's target. Listing
sites (Google, Meta) refuse a listing without a price, an image or a make/model/year, so those
keep it out of them only; a bad VIN, a used car shown with stock placeholder pictures only, a used
car without mileage, or fewer real photos than the dealership's minimum keep it out of every feed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dealer_leads.inventory.feeds import FeedVehicle

TARGETS = ("csv", "json", "google", "meta")
TARGET_LABELS = {"csv": "Dealer CSV", "json": "JSON", "google": "Google", "meta": "Meta"}
ALL = frozenset(TARGETS)
LISTING_SITES = frozenset({"google", "meta"})

PROBLEMS: dict[str, tuple[str, frozenset[str]]] = {  # code -> (what a person reads, targets)
    "no_price": ("no price", LISTING_SITES),
    "bad_vin": ("invalid VIN", ALL),
    "no_photos": ("no photos", LISTING_SITES),
    "placeholder_photos": ("placeholder photos only (used car)", ALL),
    "no_mileage": ("no mileage (used car)", ALL),
    "incomplete": ("no make, model or year", LISTING_SITES),
    "too_few_photos": ("fewer real photos than the minimum", ALL),
    # Google's vehicle listings are for cars a customer can buy today; Meta and our own feeds
    # show a pending or incoming car with its status instead.
    "not_available_now": ("sale pending or in transit", frozenset({"google"})),
}


@dataclass
class PhotoCount:
    """How many of a vehicle's ready photos are real and how many are placeholders."""

    real: int = 0
    placeholders: int = 0


def find_problems(
    vehicle: FeedVehicle, *, vin_ok: bool, photos: PhotoCount, min_photos: int = 0
) -> list[str]:
    """The problem codes of one vehicle (see PROBLEMS), in a fixed order."""
    used = vehicle.condition != "new"
    found = []
    if vehicle.price is None or vehicle.price <= 0:
        found.append("no_price")
    if not vin_ok:
        found.append("bad_vin")
    if not vehicle.photos:
        found.append("no_photos")
    if used and photos.placeholders and not photos.real:
        found.append("placeholder_photos")
    if used and vehicle.odometer is None:
        found.append("no_mileage")
    if not (vehicle.make and vehicle.model and vehicle.year):
        found.append("incomplete")
    if min_photos and photos.real < min_photos:
        found.append("too_few_photos")
    if vehicle.status != "available":
        found.append("not_available_now")
    return found


def blocked(problems: list[str]) -> frozenset[str]:
    """The targets these problems keep the vehicle out of."""
    targets: set[str] = set()
    for code in problems:
        targets |= PROBLEMS[code][1]
    return frozenset(targets)


@dataclass
class QualityLine:
    """One vehicle kept out of at least one feed."""

    vin: str
    stock: str
    title: str
    vehicle_id: int | None
    problems: list[str]
    blocked: frozenset[str]


@dataclass
class QualityReport:
    """Counts per target and per problem, and the vehicles kept out (capped list)."""

    vehicles: int = 0
    listed: Counter = field(default_factory=Counter)
    kept_out: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)
    lines: list[QualityLine] = field(default_factory=list)
    limit: int = 500

    def add(self, vehicle: FeedVehicle, problems: list[str], vehicle_id: int | None) -> None:
        """Count one vehicle; note it when something keeps it out."""
        self.vehicles += 1
        out = blocked(problems)
        for target in TARGETS:
            (self.kept_out if target in out else self.listed)[target] += 1
        self.problems.update(problems)
        if out and len(self.lines) < self.limit:
            line = QualityLine(vehicle.vin, vehicle.stock, vehicle.title, vehicle_id, problems, out)
            self.lines.append(line)


def problem_label(code: str) -> str:
    """What a person reads for a problem code."""
    return PROBLEMS[code][0] if code in PROBLEMS else code
