"""Feed builds: files on disk, quality, placeholders, the change report, the removal guard."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import current_app
from inventory.feed_builders import add_photos, make_vehicle, valid_vin

from dealer_leads.extensions import db
from dealer_leads.inventory import imports
from dealer_leads.inventory.feed_files import (
    FEED_FILES,
    build_feed_files,
    read_manifest,
    read_quality,
)
from dealer_leads.inventory.feed_models import FeedExport
from dealer_leads.inventory.feed_services import vehicle_entry, vehicle_feed_panel
from dealer_leads.inventory.feeds import InvalidColumns
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.promotions import create_promotion

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def app(app_factory, tmp_path):
    app = app_factory(
        FEEDS_DIR=str(tmp_path / "feeds"),
        PUBLIC_BASE_URL="https://dealer.example",
        FEED_SHARED_PHOTO_VEHICLES=3,
    )
    with app.app_context():
        yield app


def feed_text(name: str) -> str:
    manifest = read_manifest()
    folder = Path(current_app.config["FEEDS_DIR"])
    return (folder / manifest["files"][name]["file"]).read_text(encoding="utf-8")


def csv_rows(name: str = "inventory.csv") -> list[dict]:
    return list(csv.DictReader(io.StringIO(feed_text(name), newline="")))


def vins(name: str = "inventory.csv") -> set[str]:
    if name == "inventory.json":
        return {v["vin"] for v in json.loads(feed_text(name))["vehicles"]}
    if name.endswith(".tsv"):
        text = io.StringIO(feed_text(name))
        return {row["vin"] for row in csv.DictReader(text, delimiter="\t", quoting=csv.QUOTE_NONE)}
    return {row["vin"] for row in csv_rows(name)}


def test_build_writes_every_file_with_a_gzip_twin(app):
    vehicle = make_vehicle(description='Says "hi",\nthen =SUM(A1)')
    result = build_feed_files(NOW)
    assert result.status == "published" and set(result.listed) == set(FEED_FILES)
    folder = Path(app.config["FEEDS_DIR"])
    for name, entry in read_manifest()["files"].items():
        plain = (folder / entry["file"]).read_bytes()
        assert gzip.decompress((folder / (entry["file"] + ".gz")).read_bytes()) == plain
        assert entry["rows"] == 1, name
        assert vins(name) == {vehicle.vin}
    assert csv_rows()[0]["description"] == 'Says "hi",\nthen =SUM(A1)'


def test_same_stock_same_etag_and_last_modified(app):
    make_vehicle()
    build_feed_files(NOW)
    first = read_manifest()["files"]
    build_feed_files(NOW + timedelta(minutes=15))
    again = read_manifest()["files"]
    for name in FEED_FILES:
        assert again[name]["etag"] == first[name]["etag"]
        assert again[name]["changed_at"] == first[name]["changed_at"] == NOW.isoformat()
    assert db.session.scalar(db.select(db.func.count(FeedExport.id))) == 1  # nothing changed


def test_sold_and_hidden_vehicles_are_never_listed(app):
    listed = make_vehicle()
    make_vehicle(status="sold")
    make_vehicle(status="hidden")
    build_feed_files(NOW)
    for name in FEED_FILES:
        assert vins(name) == {listed.vin}


def test_pending_and_in_transit_vehicles_are_not_called_available(app):
    stock = {s: make_vehicle(status=s) for s in ("available", "pending", "in_transit")}
    build_feed_files(NOW)
    meta = {row["vin"]: row["availability"] for row in csv_rows("meta-catalog.csv")}
    assert meta == {
        stock["available"].vin: "AVAILABLE",
        stock["pending"].vin: "PENDING",
        stock["in_transit"].vin: "NOT_AVAILABLE",
    }
    assert {row["vin"]: row["status"] for row in csv_rows()} == {v.vin: s for s, v in stock.items()}
    listed = json.loads(feed_text("inventory.json"))["vehicles"]
    assert {v["vin"]: v["status"] for v in listed} == {v.vin: s for s, v in stock.items()}
    page = vehicle_feed_panel(stock["pending"].id, NOW)["jsonld"]
    offer = json.loads(page.split("\n", 1)[1].rsplit("\n", 1)[0])["offers"]
    assert offer["availability"] == "https://schema.org/Reserved"
    # Google lists only what a customer can buy today
    assert vins("google-vehicle-listings.tsv") == {stock["available"].vin}


def test_photo_urls_are_absolute_in_set_order_and_sized_per_target(app):
    vehicle = make_vehicle(photos=4)
    stem = vehicle.vin.lower()
    build_feed_files(NOW)
    row = csv_rows()[0]
    assert row["photo_urls"].split("|") == [
        f"https://dealer.example/photos/{stem}{n:02d}-large.jpg" for n in range(4)
    ]
    google = list(
        csv.DictReader(
            io.StringIO(feed_text("google-vehicle-listings.tsv")),
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
        )
    )[0]
    assert google["image_link"] == f"https://dealer.example/photos/{stem}00-listing.jpg"
    meta = csv_rows("meta-catalog.csv")[0]
    assert meta["image[3].url"] == f"https://dealer.example/photos/{stem}03-large.jpg"


def problems_of(vin: str) -> tuple[list[str], list[str]]:
    line = next(line for line in read_quality()["lines"] if line["vin"] == vin)
    return line["problems"], line["blocked"]


def test_quality_report_says_what_keeps_each_vehicle_out(app):
    good = make_vehicle()
    no_price = make_vehicle(price=None)
    bad_vin = make_vehicle(vin=valid_vin(999_001)[:8] + "0" + valid_vin(999_001)[9:])
    no_photos = make_vehicle(photos=0)
    no_mileage = make_vehicle(odometer=None)
    new_no_mileage = make_vehicle(odometer=None, condition="new")
    build_feed_files(NOW)
    assert vins() == {good.vin, no_price.vin, no_photos.vin, new_no_mileage.vin}
    assert vins("google-vehicle-listings.tsv") == {good.vin, new_no_mileage.vin}
    assert vins("meta-catalog.csv") == {good.vin, new_no_mileage.vin}
    assert problems_of(no_price.vin) == (["no_price"], ["google", "meta"])
    assert problems_of(bad_vin.vin) == (["bad_vin"], ["csv", "google", "json", "meta"])
    assert problems_of(no_photos.vin) == (["no_photos"], ["google", "meta"])
    assert problems_of(no_mileage.vin)[0] == ["no_mileage"]
    report = read_quality()
    assert report["vehicles"] == 6
    assert report["listed"]["google"] == 2 and report["kept_out"]["csv"] == 2
    assert report["problems"] == {"no_price": 1, "bad_vin": 1, "no_photos": 1, "no_mileage": 1}


def test_placeholder_photos_marked_or_shared_never_show_on_a_used_car(app):
    marked = make_vehicle(photos=0)
    add_photos(marked, 2, placeholder=True)
    shared = [make_vehicle(photos=0, condition=c) for c in ("used", "used", "new")]
    for vehicle in shared:
        add_photos(vehicle, 1, sha="c0ffee" * 10 + "0000")  # the same bytes on three vehicles
    mixed = make_vehicle(photos=2)
    add_photos(mixed, 1, placeholder=True)
    db.session.commit()
    build_feed_files(NOW)
    assert problems_of(marked.vin)[0] == ["no_photos", "placeholder_photos"]
    assert problems_of(shared[0].vin)[0] == ["no_photos", "placeholder_photos"]
    # the vehicle page asks about its own photos only, and agrees with the build
    assert vehicle_entry(shared[0].id, NOW).problems == ["no_photos", "placeholder_photos"]
    assert vehicle_entry(mixed.id, NOW).problems == []
    assert shared[2].vin in vins("google-vehicle-listings.tsv")  # a new car may show a stock image
    mixed_row = next(row for row in csv_rows() if row["vin"] == mixed.vin)
    assert len(mixed_row["photo_urls"].split("|")) == 2  # its placeholder is left out


def test_minimum_real_photos(app_factory, tmp_path):
    app = app_factory(FEEDS_DIR=str(tmp_path / "feeds"), FEED_MIN_PHOTOS=3)
    with app.app_context():
        enough, few = make_vehicle(photos=3), make_vehicle(photos=2)
        build_feed_files(NOW)
        assert vins() == {enough.vin}
        assert problems_of(few.vin) == (["too_few_photos"], ["csv", "google", "json", "meta"])


def test_promotion_shows_as_sale_price_and_text(app):
    honda = make_vehicle(make="Honda", price=Decimal("30000.00"))
    kia = make_vehicle(make="Kia", price=Decimal("20000.00"))
    create_promotion(
        {
            "name": "Honda days",
            "text": "Honda days: 10% off",
            "discount_percent": "10",
            "starts_at": NOW - timedelta(days=1),
            "ends_at": NOW + timedelta(days=1),
            "make": "honda",
        }
    )
    build_feed_files(NOW)
    rows = {row["vin"]: row for row in csv_rows()}
    assert (rows[honda.vin]["sale_price"], rows[honda.vin]["promotion"]) == (
        "27000.00",
        "Honda days: 10% off",
    )
    assert rows[kia.vin]["sale_price"] == "" and rows[kia.vin]["promotion"] == ""
    meta = {row["vin"]: row for row in csv_rows("meta-catalog.csv")}
    assert meta[honda.vin]["sale_price"] == "27000.00 CAD"
    document = json.loads(feed_text("inventory.json"))
    assert {v["vin"]: v["sale_price"] for v in document["vehicles"]}[honda.vin] == "27000.00"
    build_feed_files(NOW + timedelta(days=2))  # the promotion is over
    assert {row["vin"]: row for row in csv_rows()}[honda.vin]["sale_price"] == ""


def test_change_report_added_removed_price_and_photos(app):
    stays, sold, repriced, rephotographed = (make_vehicle() for _ in range(4))
    build_feed_files(NOW)
    sold.status = "sold"
    repriced.price = Decimal("19999.00")
    add_photos(rephotographed, 1)
    added = make_vehicle(commit=False)
    db.session.commit()
    result = build_feed_files(NOW + timedelta(minutes=15))
    export = result.export
    assert (export.added, export.removed, export.price_changed, export.photos_changed) == (
        1,
        1,
        1,
        1,
    )
    assert export.changes["added"][0]["vin"] == added.vin
    assert export.changes["removed"][0]["vin"] == sold.vin
    assert export.changes["price"][0]["from"][0] == "25000.00"
    assert export.changes["price"][0]["to"][0] == "19999.00"
    assert export.changes["photos"][0]["vin"] == rephotographed.vin
    assert stays.vin in vins()


def import_csv(*rows: str, complete: bool) -> imports.InventoryImport:
    raw = ("VIN,Stock,Year,Make,Model,Mileage,Price\n" + "\n".join(rows) + "\n").encode()
    record = imports.preview_import(raw, "dms.csv")
    return imports.apply_import(record.id, complete=complete, user=None)


def test_partial_dms_import_removes_nothing_from_the_feeds(app):
    stock = [make_vehicle() for _ in range(3)]
    build_feed_files(NOW)
    # A "complete" file with a bad row: the import is partial and marks nothing sold.
    record = import_csv(
        f"{stock[0].vin},S1,2024,Honda,Civic,12000,25000", "BADVIN,S9,20X4,,,,", complete=True
    )
    assert record.status == "partial" and record.marked_sold == 0
    result = build_feed_files(NOW + timedelta(minutes=15))
    assert result.status == "published"
    assert vins() == {vehicle.vin for vehicle in stock}


def test_a_build_losing_most_of_the_stock_is_held(app):
    stock = [make_vehicle() for _ in range(12)]
    build_feed_files(NOW)
    before = read_manifest()
    for vehicle in stock[:8]:
        vehicle.status = "sold"
    db.session.commit()
    result = build_feed_files(NOW + timedelta(minutes=15))
    assert result.status == "held" and "FEED_MAX_REMOVED_PERCENT" in result.note
    assert read_manifest() == before  # the files stay as they were
    assert len(vins()) == 12
    held = db.session.scalar(db.select(FeedExport).where(FeedExport.status == "held"))
    assert held.removed == 8
    leftovers = [p.name for p in Path(app.config["FEEDS_DIR"]).iterdir() if ".tmp-" in p.name]
    assert leftovers == []
    build_feed_files(NOW + timedelta(minutes=30))  # the same hold again: still one row
    assert db.session.scalar(db.select(db.func.count(FeedExport.id))) == 2
    forced = build_feed_files(NOW + timedelta(minutes=45), force=True)
    assert forced.status == "published" and forced.export.removed == 8
    assert len(vins()) == 4


def test_only_the_latest_snapshot_is_kept(app):
    vehicle = make_vehicle()
    build_feed_files(NOW)
    vehicle.price = Decimal("1.00")
    db.session.commit()
    build_feed_files(NOW + timedelta(minutes=15))
    exports = db.session.scalars(db.select(FeedExport).order_by(FeedExport.id)).all()
    assert [bool(e.snapshot) for e in exports] == [False, True]
    assert exports[0].added == 1 and exports[1].price_changed == 1


def test_column_mapping_from_settings(app_factory, tmp_path):
    app = app_factory(FEEDS_DIR=str(tmp_path / "f"), FEED_CSV_COLUMNS="Stock=stock, VIN=vin")
    with app.app_context():
        vehicle = make_vehicle()
        build_feed_files(NOW)
        assert list(csv.reader(io.StringIO(feed_text("inventory.csv")))) == [
            ["Stock", "VIN"],
            [vehicle.stock_number, vehicle.vin],
        ]
    broken = app_factory(FEEDS_DIR=str(tmp_path / "g"), FEED_CSV_COLUMNS="Stock=stok")
    with broken.app_context(), pytest.raises(InvalidColumns):
        build_feed_files(NOW)
    assert not any((tmp_path / "g").glob(".tmp-*"))


def test_stale_files_are_removed_after_two_builds(app):
    vehicle = make_vehicle()
    folder = Path(app.config["FEEDS_DIR"])
    build_feed_files(NOW)
    first = read_manifest()["files"]["inventory.csv"]["file"]
    for price in ("1.00", "2.00"):
        db.session.get(Vehicle, vehicle.id).price = Decimal(price)
        db.session.commit()
        build_feed_files(NOW)
    names = {p.name for p in folder.iterdir()}
    assert first not in names
    assert len([n for n in names if n.startswith("inventory.") and n.endswith(".csv")]) == 2
