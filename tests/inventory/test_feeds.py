"""Feed writers, pure: each format parsed back by a real parser, no database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from dealer_leads.inventory.feed_json import JsonWriter, car_jsonld, jsonld_script
from dealer_leads.inventory.feed_meta import META_COLUMNS, MetaWriter
from dealer_leads.inventory.feeds import (
    DEFAULT_CSV_COLUMNS,
    GOOGLE_COLUMNS,
    GOOGLE_REQUIRED,
    CsvWriter,
    FeedContext,
    FeedPhoto,
    FeedVehicle,
    GoogleWriter,
    InvalidColumns,
    neutralise,
    parse_columns,
    stream,
)

CONTEXT = FeedContext(
    dealership_name="Maple Ridge Motors",
    street="100 King St W",
    city="Toronto",
    region="ON",
    postal_code="M5X 1A9",
    country="CA",
    currency="CAD",
    store_code="MRM1",
)
HOSTILE = 'Line one, with "quotes"\nline two — déjà vu, 日本語, emoji 🚗\r\nand a, comma'

# schema.org properties of Car and its parents (Vehicle, Product, Thing), from schema.org/Car.
CAR_PROPERTIES = {
    "@context", "@type", "acrissCode", "roofLoad", "accelerationTime", "bodyType", "callSign",
    "cargoVolume", "dateVehicleFirstRegistered", "driveWheelConfiguration", "emissionsCO2",
    "fuelCapacity", "fuelConsumption", "fuelEfficiency", "fuelType", "knownVehicleDamages",
    "meetsEmissionStandard", "mileageFromOdometer", "modelDate", "numberOfAirbags",
    "numberOfAxles", "numberOfDoors", "numberOfForwardGears", "numberOfPreviousOwners",
    "payload", "productionDate", "purchaseDate", "seatingCapacity", "speed", "steeringPosition",
    "tongueWeight", "trailerWeight", "vehicleConfiguration", "vehicleEngine",
    "vehicleIdentificationNumber", "vehicleInteriorColor", "vehicleInteriorType",
    "vehicleModelDate", "vehicleSeatingCapacity", "vehicleSpecialUsage", "vehicleTransmission",
    "weightTotal", "wheelbase", "additionalProperty", "aggregateRating", "asin", "audience",
    "award", "brand", "category", "color", "countryOfAssembly", "countryOfLastProcessing",
    "countryOfOrigin", "depth", "funding", "gtin", "gtin12", "gtin13", "gtin14", "gtin8",
    "hasAdultConsideration", "hasCertification", "hasEnergyConsumptionDetails",
    "hasMeasurement", "hasMerchantReturnPolicy", "height", "inProductGroupWithID",
    "isAccessoryOrSparePartFor", "isConsumableFor", "isFamilyFriendly", "isRelatedTo",
    "isSimilarTo", "isVariantOf", "itemCondition", "keywords", "logo", "manufacturer",
    "material", "mobileUrl", "model", "mpn", "negativeNotes", "nsn", "offers", "pattern",
    "positiveNotes", "productID", "releaseDate", "review", "size", "sku",
    "slogan", "weight", "width", "additionalType", "alternateName", "description",
    "disambiguatingDescription", "identifier", "image", "mainEntityOfPage", "name",
    "potentialAction", "sameAs", "subjectOf", "url",
}  # fmt: skip
OFFER_PROPERTIES = {
    "@type", "price", "priceCurrency", "availability", "itemCondition", "url", "seller",
    "priceValidUntil", "priceSpecification", "validFrom", "validThrough",
}  # fmt: skip


def photo(n: int) -> FeedPhoto:
    base = f"https://dealer.example/photos/{n:02d}"
    return FeedPhoto({"large": f"{base}-large.jpg", "listing": f"{base}-listing.jpg"})


def vehicle(**values) -> FeedVehicle:
    defaults = {
        "vin": "1HGCM82633A004352",
        "stock": "H2519",
        "condition": "used",
        "year": 2024,
        "make": "Honda",
        "model": "CR-V",
        "trim": "EX-L",
        "body_style": "SUV",
        "exterior_color": "Meteorite Grey",
        "odometer": 18250,
        "price": Decimal("41995.00"),
        "msrp": Decimal("44995.00"),
        "in_stock_on": date(2026, 11, 1),
        "options": ["Heated seats", "Sunroof"],
        "description": HOSTILE,
        "url": "https://dealer.example/inventory/1HGCM82633A004352",
        "photos": [photo(n) for n in range(20)],
    }
    defaults.update(values)
    return FeedVehicle(**defaults)


def written(writer, records) -> str:
    return "".join(stream(writer, [records[:1], records[1:]]))


def test_csv_round_trip_keeps_commas_quotes_newlines_and_unicode():
    records = [vehicle(), vehicle(vin="2T3P1RFV8MC123456", stock="T2411", description="plain")]
    rows = list(csv.DictReader(io.StringIO(written(CsvWriter(), records), newline="")))
    assert [row["stock_number"] for row in rows] == ["H2519", "T2411"]
    assert rows[0]["description"] == HOSTILE
    assert list(rows[0]) == list(DEFAULT_CSV_COLUMNS)
    assert rows[0]["price"] == "41995.00" and rows[0]["mileage"] == "18250"
    assert rows[0]["options"] == "Heated seats; Sunroof"


def test_csv_photo_urls_are_pipe_separated_in_order_hero_first():
    row = next(csv.DictReader(io.StringIO(written(CsvWriter(), [vehicle()]), newline="")))
    urls = row["photo_urls"].split("|")
    assert urls == [f"https://dealer.example/photos/{n:02d}-large.jpg" for n in range(20)]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_neutralised(start):
    text = f'{start}HYPERLINK("http://evil.example")'
    record = vehicle(description=text, trim=start + "1")
    row = next(csv.DictReader(io.StringIO(written(CsvWriter(), [record]), newline="")))
    assert row["description"] == "'" + text
    assert row["trim"] == "'" + start + "1"
    assert neutralise("Honda") == "Honda" and neutralise("") == ""


def test_column_mapping_picks_and_renames_columns():
    columns = parse_columns("Stock=stock, VIN=vin, Price=price, photo_urls")
    assert columns == {"Stock": "stock", "VIN": "vin", "Price": "price", "photo_urls": "photo_urls"}
    rows = list(csv.reader(io.StringIO(written(CsvWriter(columns), [vehicle()]), newline="")))
    assert rows[0] == ["Stock", "VIN", "Price", "photo_urls"]
    assert rows[1][:3] == ["H2519", "1HGCM82633A004352", "41995.00"]


@pytest.mark.parametrize("spec", ["Stock=stok", "", " , "])
def test_column_mapping_names_the_problem(spec):
    with pytest.raises(InvalidColumns):
        parse_columns(spec)


def google_rows(records) -> list[dict]:
    text = written(GoogleWriter(CONTEXT), records)
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return list(reader)


def test_google_tsv_has_every_required_field_and_one_line_per_vehicle():
    rows = google_rows([vehicle(), vehicle(vin="2T3P1RFV8MC123456", condition="new")])
    assert len(rows) == 2 and set(GOOGLE_COLUMNS) == set(rows[0])
    for row in rows:
        for name in GOOGLE_REQUIRED:
            assert row[name], name
    used, new = rows
    assert used["price"] == "41995.00 CAD" and used["mileage"] == "18250 km"
    assert (used["condition"], new["condition"]) == ("used", "new")
    assert used["vehicle_msrp"] == "" and new["vehicle_msrp"] == "44995.00 CAD"
    assert used["store_code"] == "MRM1"
    assert used["dealership_address"] == "100 King St W, Toronto, ON M5X 1A9, CA"
    assert "\n" not in used["description"] and "déjà vu" in used["description"]


def test_google_images_in_order_listing_size():
    row = google_rows([vehicle()])[0]
    assert row["image_link"] == "https://dealer.example/photos/00-listing.jpg"
    extra = row["additional_image_link"].split(",")
    assert extra == [f"https://dealer.example/photos/{n:02d}-listing.jpg" for n in range(1, 11)]


def test_google_sale_price_with_its_dates():
    starts, ends = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    record = vehicle(sale_price=Decimal("40495.00"), promotion_starts=starts, promotion_ends=ends)
    row = google_rows([record])[0]
    assert row["sale_price"] == "40495.00 CAD"
    assert row["sale_price_effective_date"] == "2026-11-01T00:00+0000/2026-12-01T00:00+0000"


def test_meta_catalog_columns_and_values():
    text = written(MetaWriter(CONTEXT), [vehicle(), vehicle(vin="X", condition="certified")])
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(META_COLUMNS)
    row = rows[0]
    assert row["mileage.value"] == "18250" and row["mileage.unit"] == "KM"
    assert row["state_of_vehicle"] == "USED" and rows[1]["state_of_vehicle"] == "CPO"
    assert row["body_style"] == "SUV" and row["price"] == "41995.00 CAD"
    assert row["description"] == HOSTILE
    images = [row[f"image[{n}].url"] for n in range(20)]
    assert images == [f"https://dealer.example/photos/{n:02d}-large.jpg" for n in range(20)]


def test_meta_new_vehicle_without_odometer_reads_zero_miles_in_mi():
    record = vehicle(condition="new", odometer=None, odometer_unit="mi", photos=[photo(1)])
    row = next(csv.DictReader(io.StringIO(written(MetaWriter(CONTEXT), [record]), newline="")))
    assert (row["mileage.value"], row["mileage.unit"], row["state_of_vehicle"]) == (
        "0",
        "MI",
        "NEW",
    )
    assert row["image[0].url"].endswith("01-large.jpg") and row["image[1].url"] == ""


def test_json_parses_and_keeps_every_photo_in_order():
    records = [vehicle(), vehicle(vin="2T3P1RFV8MC123456")]
    document = json.loads(written(JsonWriter(CONTEXT), records))
    assert document["currency"] == "CAD"
    assert [v["vin"] for v in document["vehicles"]] == ["1HGCM82633A004352", "2T3P1RFV8MC123456"]
    first = document["vehicles"][0]
    assert first["description"] == HOSTILE and first["price"] == "41995.00"
    assert [p["large"] for p in first["photos"]] == [photo(n).urls["large"] for n in range(20)]


def test_empty_json_feed_is_valid():
    assert json.loads(written(JsonWriter(CONTEXT), [])) == {
        "dealership": {"name": "Maple Ridge Motors", "address": CONTEXT.address},
        "currency": "CAD",
        "vehicles": [],
    }


def test_jsonld_uses_only_schema_org_car_properties():
    data = car_jsonld(
        vehicle(sale_price=Decimal("40000"), promotion_ends=datetime.now(UTC)), CONTEXT
    )
    assert data["@context"] == "https://schema.org" and data["@type"] == "Car"
    assert set(data) <= CAR_PROPERTIES, set(data) - CAR_PROPERTIES
    assert set(data["offers"]) <= OFFER_PROPERTIES
    assert data["vehicleIdentificationNumber"] == "1HGCM82633A004352"
    assert data["mileageFromOdometer"] == {
        "@type": "QuantitativeValue",
        "value": 18250,
        "unitCode": "KMT",
    }
    assert data["itemCondition"] == "https://schema.org/UsedCondition"
    assert data["offers"]["price"] == "40000.00" and data["offers"]["priceCurrency"] == "CAD"
    assert data["image"][0].endswith("00-large.jpg") and len(data["image"]) == 20


def test_jsonld_script_cannot_close_the_script_element():
    record = vehicle(description="</script><script>alert(1)</script>")
    snippet = jsonld_script(record, CONTEXT)
    assert snippet.startswith('<script type="application/ld+json">')
    assert snippet.count("</script>") == 1
    inner = snippet.split("\n", 1)[1].rsplit("\n", 1)[0]
    assert json.loads(inner)["description"] == "</script><script>alert(1)</script>"


def test_stream_gives_a_chunk_per_batch():
    chunks = list(stream(CsvWriter(), [[vehicle()], [], [vehicle(), vehicle()]]))
    assert len(chunks) == 3  # header, batch one, batch three (the empty batch writes nothing)
    assert sum(chunk.count("H2519") for chunk in chunks) == 3


# Each format's own words for a car on the lot, held for a buyer, and still on its way.
AVAILABILITY = [
    ("available", "AVAILABLE", "https://schema.org/InStock"),
    ("pending", "PENDING", "https://schema.org/Reserved"),
    ("in_transit", "NOT_AVAILABLE", "https://schema.org/PreOrder"),
]


@pytest.mark.parametrize("status, meta, schema_org", AVAILABILITY)
def test_availability_follows_the_vehicle_status_in_every_format(status, meta, schema_org):
    record = vehicle(status=status)
    meta_row = next(csv.DictReader(io.StringIO(written(MetaWriter(CONTEXT), [record]), newline="")))
    assert meta_row["availability"] == meta
    assert car_jsonld(record, CONTEXT)["offers"]["availability"] == schema_org
    csv_row = next(csv.DictReader(io.StringIO(written(CsvWriter(), [record]), newline="")))
    assert csv_row["status"] == status
    assert json.loads(written(JsonWriter(CONTEXT), [record]))["vehicles"][0]["status"] == status


def test_meta_and_jsonld_never_call_an_unknown_status_available():
    record = vehicle(status="sold")
    row = next(csv.DictReader(io.StringIO(written(MetaWriter(CONTEXT), [record]), newline="")))
    assert row["availability"] == "NOT_AVAILABLE"
    assert car_jsonld(record, CONTEXT)["offers"]["availability"] == "https://schema.org/OutOfStock"


def test_status_column_comes_last_in_the_default_csv():
    assert list(DEFAULT_CSV_COLUMNS)[-1] == "status"
    columns = parse_columns("VIN=vin, Availability=status")
    rows = list(csv.reader(io.StringIO(written(CsvWriter(columns), [vehicle(status="pending")]))))
    assert rows == [["VIN", "Availability"], ["1HGCM82633A004352", "pending"]]
