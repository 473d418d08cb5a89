"""Inventory feeds: CSV speed at 10,000 vehicles x 20 photos, flat memory, and 304 answers.

Three parts, each beside a baseline measured in the same run:

1. The dealer CSV writer (pure, streamed in batches of 500) on 10,000 in-memory vehicles with 20
   photos each, against a bare `csv.writer` writing the same cells already joined (no column
   mapping, no formula neutralising). Claim: at most 1 s.
2. A full build from a migrated SQLite database (all four feeds and their gzip twins) at 1,000
   and 10,000 vehicles with 20 photos each: wall time and peak Python memory (tracemalloc, in a
   second run). Baseline: the same records gathered into one list before writing, the way a
   non-streamed export would. Claim: the streamed build's peak stays flat from 1,000 to 10,000.
3. A conditional GET of the 10,000-vehicle CSV through the Flask test client with a token and
   If-None-Match (304), against the full 200 answer of the same file. Claim: 304 at most 10 ms.

    .venv/bin/python -m bench.bench_feeds [--sizes 1000,10000] [--photos 20] [--requests 200]
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, text

from bench.bench_app import create_bench_app, temporary_database
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_files import build_feed_files, read_manifest
from dealer_leads.inventory.feed_services import feed_batches
from dealer_leads.inventory.feed_tokens import create_consumer
from dealer_leads.inventory.feeds import CsvWriter, FeedPhoto, FeedVehicle, stream
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.inventory.vin import check_digit

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
CSV_TARGET_S = 1.0
NOT_MODIFIED_TARGET_MS = 10.0
BATCH = 500


def _vin(serial: int) -> str:
    draft = f"2HGFE2F5XRH{serial:06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


def _records(count: int, photos: int) -> list[FeedVehicle]:
    base = "https://dealer.example/photos/"
    return [
        FeedVehicle(
            vin=_vin(n),
            stock=f"S{n:06d}",
            condition="used",
            year=2022,
            make="Honda",
            model="Civic",
            trim="EX",
            body_style="Sedan",
            exterior_color="Grey",
            odometer=40_000 + n,
            price=Decimal("24995.00"),
            in_stock_on=date(2026, 10, 1),
            options=["Heated seats", "Apple CarPlay"],
            description='One owner, "clean", serviced here.\nWinter tires included.',
            url=f"https://dealer.example/inventory/{n}",
            photos=[
                FeedPhoto({"large": f"{base}{n:06d}{p:02d}aaaaaaaaaaaaaaaaaa-large.jpg"})
                for p in range(photos)
            ],
        )
        for n in range(count)
    ]


def _baseline_csv(records: list[FeedVehicle]) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in records:
        writer.writerow(
            [r.stock, r.vin, r.condition, r.year, r.make, r.model, r.trim, r.body_style]
            + [r.exterior_color, "", r.odometer, "km", r.price, "", "", "", r.in_stock_on]
            + ["; ".join(r.options), r.description, r.url]
            + ["|".join(p.urls["large"] for p in r.photos)]
        )
    return len(buffer.getvalue())


def _feed_csv(records: list[FeedVehicle]) -> int:
    batches = (records[i : i + BATCH] for i in range(0, len(records), BATCH))
    return sum(len(chunk) for chunk in stream(CsvWriter(), batches))


def _best_of(function, *args, runs: int = 3) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - began)
    return min(times), result


def part_csv(count: int, photos: int) -> None:
    records = _records(count, photos)
    base_s, base_chars = _best_of(_baseline_csv, records)
    feed_s, feed_chars = _best_of(_feed_csv, records)
    verdict = "ok" if feed_s <= CSV_TARGET_S else "OVER"
    print(f"\n1. CSV writer, {count:,} vehicles x {photos} photos (best of 3)")
    print(f"   baseline csv.writer   {base_s * 1000:8.0f} ms  {base_chars / 1e6:6.1f} M chars")
    print(f"   feed CsvWriter        {feed_s * 1000:8.0f} ms  {feed_chars / 1e6:6.1f} M chars")
    print(f"   target <= {CSV_TARGET_S:.0f} s: {verdict}")


def fill(count: int, photos: int) -> None:
    """`count` available used vehicles with `photos` ready photos each (Core inserts)."""
    connection = db.session.connection()
    vehicles = [
        {
            "vin": _vin(n),
            "stock_number": f"S{n:06d}",
            "year": 2022,
            "make": "Honda",
            "model": "Civic",
            "trim": "EX",
            "body_style": "Sedan",
            "condition": "used",
            "odometer": 40_000 + n,
            "odometer_unit": "km",
            "price": Decimal("24995.00"),
            "status": "available",
            "options": ["Heated seats"],
            "description": "One owner, clean history.",
            "decode_state": "",
            "decode_data": {},
            "vin_override": False,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(1, count + 1)
    ]
    for start in range(0, count, 5000):
        connection.execute(insert(Vehicle.__table__), vehicles[start : start + 5000])
    ids = list(db.session.scalars(select(Vehicle.id).order_by(Vehicle.id)))
    rows = []
    for vehicle_id in ids:
        for p in range(photos):
            sha = f"{vehicle_id:08d}{p:04d}".ljust(64, "a")
            derivatives = {
                f"{kind}.jpeg": {"file": f"{sha[:20]}-{kind}.jpg", "width": 1, "height": 1}
                for kind in ("large", "listing", "medium", "thumb")
            }
            rows.append(
                {
                    "vehicle_id": vehicle_id,
                    "position": p,
                    "original_name": "",
                    "original_path": f"originals/{sha[:2]}/{sha}.jpg",
                    "original_sha256": sha,
                    "content_type": "image/jpeg",
                    "is_placeholder": False,
                    "status": "ready",
                    "error": "",
                    "derivatives": derivatives,
                    "uploaded_at": NOW,
                }
            )
        if len(rows) >= 20_000:
            connection.execute(insert(VehiclePhoto.__table__), rows)
            rows = []
    if rows:
        connection.execute(insert(VehiclePhoto.__table__), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _gathered_build() -> int:
    """Baseline: every record in one list first, then the CSV (what a non-streamed export does)."""
    records = [entry.record for batch in feed_batches(NOW) for entry in batch]
    return _feed_csv(records)


def _peak_mib(function) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def part_build(sizes: list[int], photos: int, requests: int) -> None:
    print(f"\n2. Build from SQLite, {photos} photos per vehicle (all four feeds + gzip)")
    print("   vehicles   build s   streamed peak MiB   gathered peak MiB")
    largest = None
    for count in sizes:
        with temporary_database("sqlite") as url, tempfile.TemporaryDirectory() as feeds:
            app = create_bench_app(SQLALCHEMY_DATABASE_URI=url, FEEDS_DIR=feeds)
            with app.app_context():
                fill(count, photos)
                began = time.perf_counter()
                build_feed_files(NOW)
                seconds = time.perf_counter() - began
                streamed = _peak_mib(lambda: build_feed_files(NOW))
                gathered = _peak_mib(_gathered_build)
                print(f"   {count:8,}  {seconds:8.2f}  {streamed:18.1f}  {gathered:18.1f}")
                if count == max(sizes):
                    largest = _not_modified(app, requests)
                db.session.remove()
                db.engine.dispose()
    if largest:
        part_not_modified(*largest, max(sizes))


def _not_modified(app, requests: int) -> tuple[list[float], list[float], int]:
    token = create_consumer("bench")[1]
    db.session.commit()
    size = read_manifest()["files"]["inventory.csv"]["size"]
    client, url = app.test_client(), f"/feeds/{token}/inventory.csv"
    first = client.get(url)
    etag = first.headers["ETag"]
    first.close()
    full, cached = [], []
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get(url)
        answer.get_data()
        answer.close()
        full.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        answer = client.get(url, headers={"If-None-Match": etag})
        assert answer.status_code == 304
        answer.close()
        cached.append((time.perf_counter() - began) * 1000)
    return full, cached, size


def part_not_modified(full: list[float], cached: list[float], size: int, count: int) -> None:
    def line(label: str, values: list[float]) -> str:
        p95 = statistics.quantiles(values, n=20)[-1]
        return f"   {label:22} median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms"

    verdict = "ok" if statistics.median(cached) <= NOT_MODIFIED_TARGET_MS else "OVER"
    print(f"\n3. GET inventory.csv at {count:,} vehicles ({size / 2**20:.1f} MiB), test client")
    print(line("200, whole file read", full))
    print(line("304 (If-None-Match)", cached))
    print(f"   target 304 <= {NOT_MODIFIED_TARGET_MS:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    part_csv(max(sizes), args.photos)
    part_build(sizes, args.photos, args.requests)
    print(f"\nfolder: {Path(tempfile.gettempdir())} (temporary databases and feeds, removed)")


if __name__ == "__main__":
    main()
