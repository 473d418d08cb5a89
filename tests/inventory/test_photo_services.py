"""Photo storage and processing: what is stored, what is refused, and what is published."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from PIL import Image
from support import shared_path

from dealer_leads.extensions import db
from dealer_leads.inventory import photo_jobs, photo_publishing
from dealer_leads.inventory import photo_services as services
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.inventory.services import VehicleNotFound

NOW = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
_numbers = count(1)


@pytest.fixture
def app(app_factory, tmp_path):
    """The app with its photos in a folder of this test's own."""
    app = app_factory(PHOTOS_DIR=str(tmp_path / "photos"), PUBLIC_BASE_URL="https://cars.example")
    with app.app_context():
        yield app


@pytest.fixture
def root(app) -> Path:
    return Path(app.config["PHOTOS_DIR"])


def make_vehicle(**values) -> Vehicle:
    n = next(_numbers)
    values = {
        "vin": f"TESTVIN{n:010d}",
        "stock_number": f"S{n:04d}",
        "year": 2022,
        "make": "Toyota",
        "model": "RAV4",
        "status": "available",
        "in_stock_on": date(2025, 3, 1),
        **values,
    }
    vehicle = Vehicle(**values)
    db.session.add(vehicle)
    db.session.commit()
    return vehicle


def jpeg(color=(200, 30, 30), size=(800, 600), exif: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=85, exif=exif)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height`: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def animated(kind: str) -> bytes:
    frames = [Image.new("RGB", (64, 64), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, kind, save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def stored_rows() -> list[VehiclePhoto]:
    return list(db.session.scalars(db.select(VehiclePhoto).order_by(VehiclePhoto.id)))


# --- upload ------------------------------------------------------------------------------------


def test_upload_stores_the_original_untouched_and_queues_it(app, root, make_user):
    user = make_user("supervisor")
    vehicle = make_vehicle()
    data = jpeg()

    result = services.add_photos(vehicle.id, [("IMG_0001.JPG", data)], user.id)

    assert result.errors == [] and len(result.stored) == 1
    photo = result.stored[0]
    sha = hashlib.sha256(data).hexdigest()
    assert photo.original_path == f"originals/{sha[:2]}/{sha}.jpg"
    assert (root / photo.original_path).read_bytes() == data
    assert (photo.status, photo.position, photo.uploaded_by_id) == ("pending", 0, user.id)
    assert (photo.original_name, photo.width, photo.height) == ("IMG_0001.jpg", 800, 600)
    assert files_under(root / "public") == []  # nothing published before processing


def test_partial_upload_keeps_the_good_files_and_reports_the_bad(app, root):
    vehicle = make_vehicle()
    good = [jpeg((10 * n, 90, 90)) for n in range(4)]
    files = [
        ("front.jpg", good[0]),
        ("rear.jpg", good[1]),
        ("invoice.jpg", b"%PDF-1.7\n1 0 obj << >> endobj\n"),
        ("side.jpg", good[2]),
        ("dash.jpg", good[3]),
    ]

    result = services.add_photos(vehicle.id, files, None)

    assert [p.original_name for p in result.stored] == [
        "front.jpg",
        "rear.jpg",
        "side.jpg",
        "dash.jpg",
    ]
    assert [p.position for p in result.stored] == [0, 1, 2, 3]
    [error] = result.errors
    assert (error.index, error.filename) == (2, "invoice.jpg")
    assert "PDF" in error.message
    assert len(files_under(root / "originals")) == 4
    assert len(stored_rows()) == 4


BAD_FILES = [
    (
        "web page named .jpg",
        "photo.jpg",
        b"<!DOCTYPE html><html><body>hi</body></html>",
        "web page",
    ),
    ("zip named .jpg", "photo.jpg", b"PK\x03\x04" + b"\0" * 100, "zip"),
    ("text", "notes.txt", b"just some text, not a picture", "not a photo"),
    ("empty", "empty.jpg", b"", "empty"),
    ("damaged JPEG header", "x.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 40, "JPEG"),
    ("decompression bomb", "bomb.png", png_claiming(60_000, 60_000), "too"),
    ("too many pixels", "huge.png", png_claiming(9_000, 9_000), "megapixels"),
    ("too long a side", "strip.png", png_claiming(25_000, 10), "px a side"),
    ("animated", "anim.webp", animated("WEBP"), "animated"),
    ("gif", "anim.gif", animated("GIF"), "GIF image"),
]


@pytest.mark.parametrize(
    "name, data, expected", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_are_refused_with_a_reason_and_nothing_stored(app, root, name, data, expected):
    vehicle = make_vehicle()

    result = services.add_photos(vehicle.id, [(name, data)], None)

    assert result.stored == []
    [error] = result.errors
    assert expected.lower() in error.message.lower()
    assert files_under(root) == []
    assert stored_rows() == []


def test_a_png_named_jpg_is_stored_as_png_with_a_warning(app, root):
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), "navy").save(buffer, "PNG")

    result = services.add_photos(make_vehicle().id, [("car.jpg", buffer.getvalue())], None)

    [photo] = result.stored
    assert photo.original_path.endswith(".png") and photo.content_type == "image/png"
    assert any("PNG" in note.message for note in result.warnings)


@pytest.mark.parametrize(
    "given, stored_as",
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
        ("/var/www/html/x.jpg", "x.jpg"),
        ("C:\\Users\\me\\DCIM\\IMG 0042 (1).jpg", "IMG-0042-1.jpg"),
        ("ph\x00oto<script>.jpg", "ph-oto-script.jpg"),
        ("", "photo.jpg"),
    ],
)
def test_file_names_with_paths_or_odd_characters_are_made_safe(app, root, given, stored_as):
    result = services.add_photos(make_vehicle().id, [(given, jpeg())], None)

    [photo] = result.stored
    assert photo.original_name == stored_as
    [original] = files_under(root)
    assert original.startswith("originals/") and "passwd" not in original
    assert not (root.parent / "etc").exists()


def test_files_over_the_size_limit_are_refused(app_factory, tmp_path):
    app = app_factory(PHOTOS_DIR=str(tmp_path), MAX_PHOTO_BYTES=10_000)
    with app.app_context():
        big = jpeg((1, 2, 3), size=(1600, 1200))
        result = services.add_photos(make_vehicle().id, [("big.jpg", big)], None)
        assert result.stored == [] and "limit" in result.errors[0].message
        assert files_under(tmp_path) == []


def test_the_same_photo_twice_is_stored_once(app, root):
    vehicle = make_vehicle()
    data = jpeg()
    first = services.add_photos(vehicle.id, [("a.jpg", data), ("a-copy.jpg", data)], None)
    again = services.add_photos(vehicle.id, [("a.jpg", data)], None)

    [photo] = first.stored
    assert [d.photo_id for d in first.duplicates + again.duplicates] == [photo.id, photo.id]
    assert again.stored == [] and len(stored_rows()) == 1


def test_no_vehicle_no_upload(app, root):
    with pytest.raises(VehicleNotFound):
        services.add_photos(999_999, [("a.jpg", jpeg())], None)
    assert files_under(root) == []


def test_an_interrupted_write_leaves_no_file(app, root, monkeypatch):
    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services.os, "replace", crash)
    result = services.add_photos(make_vehicle().id, [("a.jpg", jpeg())], None)

    assert result.stored == [] and "No space left" in result.errors[0].message
    assert files_under(root) == []  # the temporary file is gone too
    assert stored_rows() == []


# --- processing --------------------------------------------------------------------------------


def test_processing_publishes_the_sizes_and_notes_the_first_photo(app, root):
    vehicle = make_vehicle()
    services.add_photos(vehicle.id, [("a.jpg", jpeg(size=(2000, 1500)))], None)

    assert photo_jobs.process_pending_photos(now=NOW) == 1

    [photo] = stored_rows()
    assert (photo.status, photo.error, photo.processed_at) == ("ready", "", NOW)
    assert set(photo.derivatives) == {
        f"{kind}.{fmt}"
        for kind in ("large", "medium", "thumb", "listing")
        for fmt in ("jpeg", "webp")
    }
    assert photo.derivatives["large.jpeg"]["width"] == 1600
    published = {entry["file"] for entry in photo.derivatives.values()}
    assert set(files_under(root / "public")) == published
    assert vehicle.first_photo_at == NOW
    assert photo_jobs.process_pending_photos(now=NOW) == 0


def test_a_truncated_photo_fails_with_the_reason(app, root):
    data = jpeg(size=(1200, 900))
    services.add_photos(make_vehicle().id, [("cut.jpg", data[: len(data) // 2])], None)

    photo_jobs.process_pending_photos(now=NOW)

    [photo] = stored_rows()
    assert photo.status == "failed"
    assert "truncated" in photo.error
    assert files_under(root / "public") == []
    assert photo.vehicle.first_photo_at is None


def test_an_unexpected_decoder_error_fails_that_photo_only(app, monkeypatch):
    services.add_photos(make_vehicle().id, [("a.jpg", jpeg((1, 1, 1))), ("b.jpg", jpeg())], None)
    real = photo_jobs.make_derivatives
    calls = iter([MemoryError("decoder ran out of memory"), None])

    def flaky(data):
        problem = next(calls)
        if problem:
            raise problem
        return real(data)

    monkeypatch.setattr(photo_jobs, "make_derivatives", flaky)
    assert photo_jobs.process_pending_photos(now=NOW) == 2

    first, second = stored_rows()
    assert first.status == "failed" and "MemoryError" in first.error
    assert second.status == "ready"


def test_a_photo_being_processed_is_not_taken_again_until_its_claim_is_stale(app):
    services.add_photos(make_vehicle().id, [("a.jpg", jpeg())], None)
    [photo] = stored_rows()
    photo.status, photo.processed_at = "processing", NOW
    db.session.commit()

    assert photo_jobs.process_pending_photos(now=NOW + timedelta(minutes=1)) == 0
    assert photo_jobs.process_pending_photos(now=NOW + timedelta(hours=1)) == 1
    assert stored_rows()[0].status == "ready"


def test_concurrent_workers_never_process_a_photo_twice(app, monkeypatch):
    vehicle = make_vehicle()
    photos = [(f"p{n}.jpg", jpeg((n * 20, 40, 200), size=(480, 360))) for n in range(12)]
    services.add_photos(vehicle.id, photos, None)
    db.session.close()  # the workers need the SQLite write lock
    processed: Counter[str] = Counter()
    lock = threading.Lock()
    real = photo_jobs.make_derivatives

    def counting(data):
        with lock:
            processed[hashlib.sha256(data).hexdigest()] += 1
        return real(data)

    monkeypatch.setattr(photo_jobs, "make_derivatives", counting)
    start, errors = threading.Barrier(4), []

    def worker():
        try:
            with app.app_context():
                start.wait()
                while photo_jobs.process_pending_photos(limit=2):
                    pass
                db.session.remove()
        except Exception as error:  # reported to the test thread below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(processed.values()) == [1] * 12
    assert {photo.status for photo in stored_rows()} == {"ready"}


# --- order, hero, placeholder, delete ----------------------------------------------------------


def _three(vehicle: Vehicle) -> list[int]:
    files = [(f"{n}.jpg", jpeg((n * 60, 10, 10), size=(480, 360))) for n in range(3)]
    return [p.id for p in services.add_photos(vehicle.id, files, None).stored]


def _order(vehicle: Vehicle) -> list[int]:
    return [photo.id for photo in services.list_photos(vehicle.id)]


def test_reorder_move_and_hero(app):
    vehicle = make_vehicle()
    a, b, c = _three(vehicle)

    services.reorder_photos(vehicle.id, [c, a])
    assert _order(vehicle) == [c, a, b]
    services.move_photo(c, +1)
    assert _order(vehicle) == [a, c, b]
    services.move_photo(a, -1)  # already first: stays
    assert _order(vehicle) == [a, c, b]
    services.set_hero(b)
    assert _order(vehicle) == [b, a, c]
    assert [p.position for p in services.list_photos(vehicle.id)] == [0, 1, 2]


def test_reorder_refuses_photos_of_another_vehicle(app):
    vehicle, other = make_vehicle(), make_vehicle()
    mine, theirs = _three(vehicle), _three(other)
    with pytest.raises(services.InvalidOrder):
        services.reorder_photos(vehicle.id, [theirs[0], mine[0]])
    assert _order(vehicle) == mine


def test_delete_removes_files_no_other_photo_uses_and_keeps_the_original(app, root):
    vehicle, other = make_vehicle(), make_vehicle()
    data = jpeg((5, 5, 5), size=(480, 360))
    [first] = services.add_photos(vehicle.id, [("a.jpg", data)], None).stored
    [shared] = services.add_photos(other.id, [("a.jpg", data)], None).stored
    photo_jobs.process_pending_photos(now=NOW)
    first_id, shared_id = first.id, shared.id
    published = set(files_under(root / "public"))
    assert published

    services.delete_photo(first_id)
    assert set(files_under(root / "public")) == published  # the other vehicle still uses them
    services.delete_photo(shared_id)
    assert files_under(root / "public") == []
    assert len(files_under(root / "originals")) == 1  # originals are kept
    with pytest.raises(services.PhotoNotFound):
        services.delete_photo(shared_id)


def test_delete_renumbers_the_rest(app):
    vehicle = make_vehicle()
    a, b, c = _three(vehicle)
    services.delete_photo(a)
    assert [(p.id, p.position) for p in services.list_photos(vehicle.id)] == [(b, 0), (c, 1)]


def test_placeholder_photos_do_not_start_the_photo_clock(app):
    vehicle = make_vehicle()
    [photo] = services.add_photos(vehicle.id, [("stock.jpg", jpeg())], None).stored
    photo_id = photo.id
    services.set_placeholder(photo_id, True)
    photo_jobs.process_pending_photos(now=NOW)
    db.session.expire_all()
    assert vehicle.first_photo_at is None

    services.set_placeholder(photo_id, False)
    assert vehicle.first_photo_at == NOW


def test_the_photo_clock_restarts_once_no_real_photo_is_left(app):
    vehicle = make_vehicle()
    files = [(f"{n}.jpg", jpeg((n * 60, 10, 10), size=(480, 360))) for n in range(2)]
    a, b = (p.id for p in services.add_photos(vehicle.id, files, None).stored)
    photo_jobs.process_pending_photos(now=NOW)
    [stock] = services.add_photos(vehicle.id, [("stock.jpg", jpeg((1, 1, 1)))], None).stored
    services.set_placeholder(stock.id, True)  # a stock image, and not processed yet
    db.session.expire_all()
    assert vehicle.first_photo_at == NOW

    services.delete_photo(a)
    db.session.expire_all()
    assert vehicle.first_photo_at == NOW  # photo b is still a real one

    services.set_placeholder(b, True)
    db.session.expire_all()
    assert vehicle.first_photo_at is None
    [line] = [
        r for r in photo_publishing.list_photos_needed(4, date(2025, 3, 20)) if r.vehicle is vehicle
    ]
    assert (line.real_photos, line.days_to_photo) == (0, None)

    services.set_placeholder(b, False)
    assert vehicle.first_photo_at == NOW
    services.delete_photo(b)
    db.session.expire_all()
    assert vehicle.first_photo_at is None


def test_photos_needed_leaves_out_vehicles_in_transit(app):
    today = date(2025, 3, 20)
    lot = make_vehicle(in_stock_on=date(2025, 3, 10))
    on_hold = make_vehicle(in_stock_on=date(2025, 3, 12), status="pending")
    make_vehicle(in_stock_on=None, status="in_transit")
    make_vehicle(in_stock_on=date(2025, 3, 1), status="hidden")

    rows = photo_publishing.list_photos_needed(1, today)

    assert [row.vehicle.id for row in rows] == [lot.id, on_hold.id]


# --- published URLs and the report -------------------------------------------------------------


def test_photo_urls_lists_ready_photos_in_order_with_absolute_urls(app):
    vehicle = make_vehicle()
    a, b, c = _three(vehicle)
    photo_jobs.process_pending_photos(now=NOW)
    services.add_photos(vehicle.id, [("late.jpg", jpeg((9, 9, 9)))], None)  # still pending
    services.set_hero(c)
    services.set_placeholder(b, True)

    urls = photo_publishing.photo_urls(vehicle)

    assert [(u["id"], u["position"], u["placeholder"]) for u in urls] == [
        (c, 0, False),
        (a, 1, False),
        (b, 2, True),
    ]
    thumb = urls[0]["sizes"]["thumb"]
    assert thumb["jpeg"].startswith("https://cars.example/photos/") and thumb["jpeg"].endswith(
        ".jpg"
    )
    assert thumb["webp"].endswith(".webp") and (thumb["width"], thumb["height"]) == (320, 240)
    # a 480 px photo: a thumb and a "medium" at its own size, no "large"
    assert list(urls[0]["sizes"]) == ["thumb", "medium", "listing"]
    medium = urls[0]["sizes"]["medium"]
    assert (medium["width"], medium["height"]) == (480, 360)


def test_photos_needed_lists_short_vehicles_oldest_first(app):
    today = date(2025, 3, 20)
    old = make_vehicle(in_stock_on=date(2025, 1, 10))
    new = make_vehicle(in_stock_on=date(2025, 3, 18))
    done = make_vehicle(in_stock_on=date(2025, 2, 1))
    make_vehicle(in_stock_on=date(2024, 12, 1), status="sold")
    placeholder_only = make_vehicle(in_stock_on=date(2025, 2, 20))
    for vehicle in (old, done, placeholder_only):
        _three(vehicle)
    photo_jobs.process_pending_photos(now=datetime(2025, 2, 3, 15, 0, tzinfo=UTC), limit=100)
    for photo in services.list_photos(placeholder_only.id):
        services.set_placeholder(photo.id, True)
    services.add_photos(done.id, [("more.jpg", jpeg((1, 2, 3)))], None)
    photo_jobs.process_pending_photos(now=NOW)

    rows = photo_publishing.list_photos_needed(4, today)

    assert [row.vehicle.id for row in rows] == [old.id, placeholder_only.id, new.id]
    by_id = {row.vehicle.id: row for row in rows}
    assert (by_id[old.id].real_photos, by_id[old.id].days_in_stock) == (3, 69)
    assert by_id[old.id].days_to_photo == 24  # Jan 10 -> Feb 3
    assert (by_id[new.id].real_photos, by_id[new.id].days_to_photo) == (0, None)
    assert by_id[placeholder_only.id].real_photos == 0
    assert photo_publishing.list_photos_needed(3, today) == [
        by_id[placeholder_only.id],
        by_id[new.id],
    ]


# --- real camera photos (../shared/corpus/photos) ----------------------------------------------


def _process_corpus_file(name: str) -> VehiclePhoto:
    data = (shared_path("corpus", "photos") / name).read_bytes()
    [photo] = services.add_photos(make_vehicle().id, [(name, data)], None).stored
    photo_jobs.process_pending_photos(now=NOW)
    db.session.refresh(photo)
    return photo


@pytest.mark.parametrize("name", ["orientation-landscape_6.jpg", "gps-DSCN0010.jpg"])
def test_published_sizes_are_upright_and_carry_no_metadata(app, root, name):
    photo = _process_corpus_file(name)

    assert photo.status == "ready", photo.error
    for key, entry in photo.derivatives.items():
        with Image.open(root / "public" / entry["file"]) as published:
            assert published.getexif() == {}, key
            assert not {"exif", "xmp", "icc_profile", "comment"} & set(published.info), key
            if key == "medium.jpeg":
                assert published.size == (600, 450) if "landscape" in name else (640, 480)
    assert (root / photo.original_path).read_bytes() == (
        shared_path("corpus", "photos") / name
    ).read_bytes()  # the original keeps everything, privately


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("invalid-image00971.jpg", "636x227"),
        ("invalid-image01088.jpg", "425x120"),
        ("Canon_40D.jpg", "100x68"),
    ],
)
def test_corpus_files_too_small_to_list_are_refused_and_nothing_is_stored(app, root, name, size):
    vehicle = make_vehicle()
    data = (shared_path("corpus", "photos") / name).read_bytes()

    result = services.add_photos(vehicle.id, [(name, data)], None)

    assert result.stored == []
    [error] = result.errors
    assert error.message.startswith(f"only {size}: too small to list")
    assert stored_rows() == []
    assert files_under(root) == []


@pytest.mark.parametrize("name", ["gps-DSCN0010.jpg", "gps-DSCN0021.jpg"])
def test_corpus_files_cut_short_or_damaged_are_refused_or_fail_with_a_reason(app, root, name):
    data = (shared_path("corpus", "photos") / name).read_bytes()
    vehicle = make_vehicle()
    damaged = data[:2] + b"\x00" * 64 + data[66:]  # the header is gone
    refused = services.add_photos(vehicle.id, [("damaged.jpg", damaged)], None)
    assert refused.stored == [] and "not a photo" in refused.errors[0].message

    [photo] = services.add_photos(vehicle.id, [(name, data[: len(data) // 3])], None).stored
    photo_jobs.process_pending_photos(now=NOW)
    db.session.refresh(photo)
    assert photo.status == "failed" and "truncated or damaged" in photo.error
    assert files_under(root / "public") == []


def test_the_worker_runs_processing_every_few_seconds_under_a_fixed_id(app_factory, tmp_path):
    from apscheduler.triggers.interval import IntervalTrigger

    from dealer_leads.worker import build_scheduler

    app = app_factory(PHOTOS_DIR=str(tmp_path), WORKER_PHOTOS_SECONDS=3)
    job = build_scheduler(app).get_job("photos")

    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=3)
    with app.app_context():
        [photo] = services.add_photos(make_vehicle().id, [("a.jpg", jpeg())], None).stored
        photo_id = photo.id
        db.session.remove()
    job.func()  # brings its own app context, as in the worker's thread
    with app.app_context():
        assert db.session.get(VehiclePhoto, photo_id).status == "ready"
