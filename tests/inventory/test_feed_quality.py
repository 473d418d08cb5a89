"""Feed quality rules, pure: which problem keeps a vehicle out of which feed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealer_leads.inventory.feed_quality import (
    ALL,
    LISTING_SITES,
    PhotoCount,
    QualityReport,
    blocked,
    find_problems,
    problem_label,
)
from dealer_leads.inventory.feeds import FeedPhoto, FeedVehicle

PHOTO = FeedPhoto({"large": "https://dealer.example/photos/a-large.jpg"})


def car(**values) -> FeedVehicle:
    fields = {
        "vin": "1HGCM82633A004352",
        "condition": "used",
        "year": 2024,
        "make": "Honda",
        "model": "Civic",
        "odometer": 1000,
        "price": Decimal("20000"),
        "photos": [PHOTO],
    }
    fields.update(values)
    return FeedVehicle(**fields)


def problems(vehicle: FeedVehicle, vin_ok=True, real=1, placeholders=0, minimum=0) -> list[str]:
    count = PhotoCount(real=real, placeholders=placeholders)
    return find_problems(vehicle, vin_ok=vin_ok, photos=count, min_photos=minimum)


@pytest.mark.parametrize(
    "vehicle, kwargs, expected",
    [
        (car(), {}, []),
        (car(price=None), {}, ["no_price"]),
        (car(price=Decimal("0")), {}, ["no_price"]),
        (car(), {"vin_ok": False}, ["bad_vin"]),
        (car(photos=[]), {"real": 0}, ["no_photos"]),
        (car(photos=[]), {"real": 0, "placeholders": 2}, ["no_photos", "placeholder_photos"]),
        (car(condition="new"), {"real": 0, "placeholders": 1}, []),  # a new car's stock image
        (car(odometer=None), {}, ["no_mileage"]),
        (car(condition="certified", odometer=None), {}, ["no_mileage"]),
        (car(condition="new", odometer=None), {}, []),
        (car(make=""), {}, ["incomplete"]),
        (car(), {"real": 2, "minimum": 3}, ["too_few_photos"]),
        (car(status="pending"), {}, ["not_available_now"]),
        (car(status="in_transit"), {}, ["not_available_now"]),
    ],
)
def test_problems(vehicle, kwargs, expected):
    assert problems(vehicle, **kwargs) == expected


def test_what_each_problem_blocks():
    assert blocked([]) == frozenset()
    assert blocked(["no_price"]) == LISTING_SITES
    assert blocked(["no_price", "bad_vin"]) == ALL
    assert blocked(["placeholder_photos"]) == ALL
    assert problem_label("no_mileage") == "no mileage (used car)"
    assert blocked(["not_available_now"]) == frozenset({"google"})  # Meta shows PENDING


def test_report_counts_per_target_and_problem():
    report = QualityReport()
    report.add(car(), [], 1)
    report.add(car(price=None), ["no_price"], 2)
    report.add(car(), ["bad_vin"], 3)
    assert report.vehicles == 3
    assert report.listed["csv"] == 2 and report.listed["google"] == 1
    assert report.kept_out["meta"] == 2
    assert report.problems == {"no_price": 1, "bad_vin": 1}
    assert [line.vehicle_id for line in report.lines] == [2, 3]
