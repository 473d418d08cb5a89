"""Photo pages: who may do what, the upload answer, the gallery actions, the public files."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path

import pytest
from PIL import Image
from support import login, shared_path
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from dealer_leads.auth.services import create_user
from dealer_leads.extensions import db
from dealer_leads.inventory import photo_jobs, photo_publishing
from dealer_leads.inventory import photo_services as services
from dealer_leads.inventory.models import Vehicle, VehiclePhoto

IMMUTABLE = "public, max-age=31536000, immutable"
JSON = {"Accept": "application/json"}
_numbers = count(1)


@pytest.fixture
def app(app_factory, tmp_path):
    """The app with its photos in a folder of this test's own, and a small app-wide body limit
    (photo uploads must get their own, larger one)."""
    app = app_factory(PHOTOS_DIR=str(tmp_path / "photos"), MAX_CONTENT_LENGTH=64 * 1024)
    with app.app_context():
        yield app


@pytest.fixture
def root(app) -> Path:
    return Path(app.config["PHOTOS_DIR"])


@pytest.fixture
def vehicle(app) -> Vehicle:
    return make_vehicle()


def make_vehicle(**values) -> Vehicle:
    n = next(_numbers)
    values = {
        "vin": f"VIEWVIN{n:010d}",
        "stock_number": f"V{n:04d}",
        "year": 2021,
        "make": "Honda",
        "model": "Civic",
        "status": "available",
        "in_stock_on": date(2025, 1, 15),
        **values,
    }
    vehicle = Vehicle(**values)
    db.session.add(vehicle)
    db.session.commit()
    return vehicle


def jpeg(color=(30, 120, 200), size=(640, 480), noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, color)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload(client, vehicle_id: int, files, headers=None, **fields):
    """POST files as the page's form does (encoded in memory: no temporary files to leak)."""
    values = MultiDict([("photos", FileStorage(io.BytesIO(data), name)) for name, data in files])
    values.update(fields)
    boundary, body = encode_multipart(values)
    return client.post(
        f"/inventory/{vehicle_id}/photos",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers or {},
    )


def photos_of(vehicle_id: int) -> list[VehiclePhoto]:
    return services.list_photos(vehicle_id)


# --- who may do what ---------------------------------------------------------------------------

ROLES = [None, "supervisor", "advisor", "webmaster", "admin"]
# fmt: off
PAGES = [
    # url                                   anon  supervisor  advisor  webmaster  admin
    ("/inventory/{vehicle}/photos",         302,  200,        200,     200,       200),
    ("/inventory/{vehicle}/photos/status",  302,  200,        200,     200,       200),
    ("/inventory/photos-needed",            302,  200,        403,     200,       200),
    ("/inventory/999999/photos",            302,  404,        404,     404,       404),
]
# fmt: on


@pytest.mark.parametrize("role_index, role", list(enumerate(ROLES)))
def test_role_table(client, login_as, vehicle, role_index, role):
    if role:
        login_as(role)
    for row in PAGES:
        url = row[0].format(vehicle=vehicle.id)
        assert client.get(url).status_code == row[1 + role_index], f"{role} {url}"


def test_advisors_see_the_gallery_but_cannot_change_it(client, login_as, vehicle):
    [photo] = services.add_photos(vehicle.id, [("a.jpg", jpeg())], None).stored
    photo_id = photo.id
    login_as("advisor")

    page = client.get(f"/inventory/{vehicle.id}/photos").get_data(as_text=True)
    assert "a.jpg" in page and 'type="file"' not in page and "Delete" not in page

    base = f"/inventory/{vehicle.id}/photos"
    for url in (base, f"{base}/order", *(f"{base}/{photo_id}/{a}" for a in ("move", "hero"))):
        assert client.post(url, data={"direction": "up"}).status_code == 403, url
    for action in ("placeholder", "delete"):
        assert client.post(f"{base}/{photo_id}/{action}").status_code == 403
    assert len(photos_of(vehicle.id)) == 1


def test_signed_out_uploads_go_to_the_login_page(client, vehicle, root):
    response = upload(client, vehicle.id, [("a.jpg", jpeg())])
    assert response.status_code == 302 and "/login" in response.location
    assert not root.exists() or not any(root.rglob("*.jpg"))


# --- upload ------------------------------------------------------------------------------------


def test_upload_answers_at_once_with_json_and_stores_originals(client, login_as, vehicle, root):
    user = login_as("supervisor")
    files = [("front.jpg", jpeg((200, 0, 0))), ("notes.txt", b"hello"), ("rear.jpg", jpeg())]

    response = upload(client, vehicle.id, files, headers=JSON)

    assert response.status_code == 200
    body = response.get_json()
    assert [s["filename"] for s in body["stored"]] == ["front.jpg", "rear.jpg"]
    assert {s["status"] for s in body["stored"]} == {"pending"}
    assert [(e["index"], e["filename"]) for e in body["errors"]] == [(1, "notes.txt")]
    assert "not a photo" in body["errors"][0]["message"]
    photos = photos_of(vehicle.id)
    assert [p.uploaded_by_id for p in photos] == [user.id, user.id]
    assert len(list((root / "originals").rglob("*.jpg"))) == 2


def test_upload_bigger_than_the_app_wide_body_limit_is_accepted(client, login_as, vehicle, app):
    login_as("supervisor")
    big = jpeg(size=(900, 700), noise=True)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]

    response = upload(client, vehicle.id, [("big.jpg", big)], headers=JSON)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["stored"]) == 1


def test_upload_over_the_photo_request_limit_is_refused_whole(app_factory, tmp_path):
    app = app_factory(PHOTOS_DIR=str(tmp_path / "p"), MAX_PHOTO_UPLOAD_BYTES=50_000)
    client = app.test_client()
    with app.app_context():
        vehicle_id = make_vehicle().id
        login(client, create_user("sup@example.com", "supervisor", "Sup", "password123"))
    files = [(f"{n}.jpg", jpeg(size=(480, 360), noise=True)) for n in range(3)]

    response = upload(client, vehicle_id, files, headers=JSON)

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    with app.app_context():
        assert photos_of(vehicle_id) == []
    assert not (tmp_path / "p").exists()


def test_upload_with_only_bad_files_is_a_422(client, login_as, vehicle):
    login_as("webmaster")
    response = upload(client, vehicle.id, [("x.jpg", b"<html>nope</html>")], headers=JSON)
    assert response.status_code == 422
    assert "web page" in response.get_json()["errors"][0]["message"]


def test_upload_without_files_says_so(client, login_as, vehicle):
    login_as("supervisor")
    response = client.post(f"/inventory/{vehicle.id}/photos", data={}, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"]["photos"]


def test_upload_without_javascript_redirects_with_messages(client, login_as, vehicle):
    login_as("supervisor")
    files = [("a.jpg", jpeg()), ("b.pdf", b"%PDF-1.4 nope")]

    response = upload(client, vehicle.id, files)

    assert response.status_code == 303
    assert response.location.endswith(f"/inventory/{vehicle.id}/photos")
    page = client.get(response.location).get_data(as_text=True)
    assert "Uploaded 1 photo(s)" in page and "b.pdf: not a photo: it looks like a PDF" in page


def test_upload_checks_csrf_itself(app_factory, tmp_path):
    app = app_factory(PHOTOS_DIR=str(tmp_path), WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        vehicle_id = make_vehicle().id
        email = create_user("sup@example.com", "supervisor", "Sup", "password123").email
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": email, "password": "password123", "csrf_token": token})

    refused = upload(client, vehicle_id, [("a.jpg", jpeg())], headers=JSON)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf"
    accepted = upload(client, vehicle_id, [("a.jpg", jpeg())], headers=JSON, csrf_token=token)
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


# --- the gallery -------------------------------------------------------------------------------


def _three(vehicle: Vehicle) -> list[int]:
    files = [(f"{n}.jpg", jpeg((n * 70, 60, 60), size=(480, 360))) for n in range(3)]
    return [p.id for p in services.add_photos(vehicle.id, files, None).stored]


def _order(vehicle: Vehicle) -> list[int]:
    return [p.id for p in photos_of(vehicle.id)]


def test_status_shows_derivatives_arriving_and_failures(client, login_as, vehicle):
    login_as("advisor")
    good = jpeg()
    cut = jpeg((1, 1, 1), size=(800, 600))[:900]
    services.add_photos(vehicle.id, [("good.jpg", good), ("cut.jpg", cut)], None)
    url = f"/inventory/{vehicle.id}/photos/status"

    before = client.get(url).get_json()
    assert before["busy"] == 2 and [p["thumb"] for p in before["photos"]] == [None, None]
    photo_jobs.process_pending_photos()
    after = client.get(url).get_json()

    assert after["busy"] == 0
    good_one, cut_one = after["photos"]
    assert good_one["status"] == "ready" and good_one["thumb"].startswith("/photos/")
    assert cut_one["status"] == "failed" and "truncated" in cut_one["error"]
    page = client.get(f"/inventory/{vehicle.id}/photos").get_data(as_text=True)
    assert "truncated or damaged" in page and good_one["thumb"] in page


def test_reorder_move_hero_placeholder_delete(client, login_as, vehicle):
    login_as("supervisor")
    a, b, c = _three(vehicle)
    base = f"/inventory/{vehicle.id}/photos"

    response = client.post(f"{base}/order", data={"photo_ids": [c, b, a]}, headers=JSON)
    assert response.get_json() == {"photo_ids": [c, b, a]} and _order(vehicle) == [c, b, a]
    assert client.post(f"{base}/{c}/move", data={"direction": "down"}).status_code == 303
    assert _order(vehicle) == [b, c, a]
    client.post(f"{base}/{a}/hero")
    assert _order(vehicle) == [a, b, c]
    client.post(f"{base}/{b}/placeholder", data={"placeholder": "1"})
    assert [p.is_placeholder for p in photos_of(vehicle.id)] == [False, True, False]
    client.post(f"{base}/{b}/placeholder", data={"placeholder": "0"})
    assert not any(p.is_placeholder for p in photos_of(vehicle.id))
    client.post(f"{base}/{a}/delete")
    assert _order(vehicle) == [b, c]


def test_gallery_actions_refuse_bad_input_and_other_vehicles_photos(client, login_as, vehicle):
    login_as("admin")
    other = make_vehicle()
    mine, theirs = _three(vehicle), _three(other)
    base = f"/inventory/{vehicle.id}/photos"

    assert client.post(f"{base}/order", data={"photo_ids": ["x"]}).status_code == 400
    assert client.post(f"{base}/order", data={"photo_ids": [theirs[0]]}).status_code == 400
    assert client.post(f"{base}/{mine[0]}/move", data={"direction": "left"}).status_code == 400
    assert client.post(f"{base}/{theirs[0]}/delete").status_code == 404
    assert client.post(f"{base}/{theirs[0]}/hero").status_code == 404
    assert _order(vehicle) == mine and _order(other) == theirs


def _card(page: str, photo_id: int) -> str:
    """The HTML of one photo's card on the photos page."""
    return re.search(rf'<li [^>]*id="photo-{photo_id}".*?</li>', page, re.S).group(0)


def _good_and_damaged(vehicle: Vehicle) -> tuple[int, int]:
    """A good photo and a truncated JPEG (its header passes the upload check), both processed."""
    cut = jpeg((1, 1, 1), size=(800, 600))[:900]
    files = [("good.jpg", jpeg()), ("cut.jpg", cut)]
    good, damaged = (p.id for p in services.add_photos(vehicle.id, files, None).stored)
    photo_jobs.process_pending_photos()
    return good, damaged


def test_a_failed_photo_says_why_and_has_a_one_tap_remove(client, login_as, vehicle):
    login_as("supervisor")
    good, damaged = _good_and_damaged(vehicle)
    url = f"/inventory/{vehicle.id}/photos"

    page = client.get(url).get_data(as_text=True)

    assert re.search(r'role="alert">\s*1 photo could not be processed', page)
    card = _card(page, damaged)
    assert "Could not be processed" in card and "truncated or damaged" in card
    remove = re.search(
        r'<form method="post" action="([^"]+)">((?!</form>).)*>Remove</button>', card, re.S
    )
    assert remove and remove.group(1) == f"{url}/{damaged}/delete"
    assert "data-confirm" not in card  # one tap: nothing of it was ever published
    assert "Move photo" not in card and "Make hero" not in card and "stock image" not in card
    assert 'draggable="true"' not in card and "drag-handle" not in card
    assert "drag-handle" in _card(page, good)
    services.reorder_photos(vehicle.id, [damaged, good])  # the hero is the first *ready* photo
    good_card = _card(client.get(url).get_data(as_text=True), good)
    assert "Hero" in good_card and "Make hero" not in good_card

    response = client.post(f"{url}/{damaged}/delete")

    assert response.status_code == 303
    assert _order(vehicle) == [good]
    page = client.get(url).get_data(as_text=True)
    assert "could not be processed" not in page.lower() and 'role="alert"' not in page


def test_advisors_see_why_a_photo_failed_but_cannot_remove_it(client, login_as, vehicle):
    login_as("advisor")
    _, damaged = _good_and_damaged(vehicle)

    page = client.get(f"/inventory/{vehicle.id}/photos").get_data(as_text=True)

    assert "1 photo could not be processed" in page and "Remove it" not in page
    card = _card(page, damaged)
    assert "truncated or damaged" in card and "<button" not in card


def test_photos_needed_does_not_count_failed_photos(client, login_as):
    one_real = make_vehicle(in_stock_on=date(2025, 1, 5))
    only_failed = make_vehicle(in_stock_on=date(2025, 1, 6))
    _good_and_damaged(one_real)
    cut = jpeg((2, 2, 2), size=(800, 600))[:900]
    services.add_photos(only_failed.id, [("cut.jpg", cut)], None)
    photo_jobs.process_pending_photos()
    login_as("supervisor")

    def row(page: str, vehicle: Vehicle) -> str:
        found = re.search(rf"<tr>(?:(?!</tr>).)*{vehicle.vin}.*?</tr>", page, re.S)
        return found.group(0) if found else ""

    page = client.get("/inventory/photos-needed?min=2").get_data(as_text=True)
    assert "1 of 2" in row(page, one_real) and "1 failed" in row(page, one_real)
    assert "processing" not in row(page, one_real)
    assert "0 of 2" in row(page, only_failed) and "1 failed" in row(page, only_failed)
    assert "none yet" in row(page, only_failed)  # a failed photo does not stop the clock

    page = client.get("/inventory/photos-needed?min=1").get_data(as_text=True)
    assert row(page, one_real) == ""  # its one real photo is enough; the failed one is no debt
    assert "0 of 1" in row(page, only_failed)
    [line] = [r for r in photo_publishing.list_photos_needed(1, date(2025, 2, 1)) if r.failed]
    assert (line.vehicle.id, line.real_photos, line.in_progress) == (only_failed.id, 0, 0)


def test_vehicle_page_counts_days_to_the_first_real_photo(client, login_as):
    photographed = make_vehicle(in_stock_on=date(2025, 1, 10))
    failed_only = make_vehicle(in_stock_on=date(2025, 1, 10))
    services.add_photos(photographed.id, [("a.jpg", jpeg())], None)
    services.add_photos(failed_only.id, [("cut.jpg", jpeg((3, 3, 3), (800, 600))[:900])], None)
    photo_jobs.process_pending_photos(now=datetime(2025, 1, 14, 16, 0, tzinfo=UTC))
    login_as("advisor")

    def days_to_photo(vehicle: Vehicle) -> str:
        page = client.get(f"/inventory/{vehicle.id}").get_data(as_text=True)
        cell = re.search(r'<dd class="days-to-photo">(.*?)</dd>', page, re.S).group(1)
        return " ".join(re.sub(r"<[^>]+>", "", cell).split())

    assert days_to_photo(photographed).startswith("4 days first real photo Jan 14, 2025")
    assert days_to_photo(failed_only).startswith("no photos yet,")


def test_photos_needed_report(client, login_as):
    short = make_vehicle(in_stock_on=date(2025, 1, 2))
    make_vehicle(status="sold")
    login_as("webmaster")

    page = client.get("/inventory/photos-needed?min=3").get_data(as_text=True)

    assert short.vin in page and "0 of 3" in page and "none yet" in page
    assert f"/inventory/{short.id}/photos" in page


# --- the public files --------------------------------------------------------------------------


@pytest.fixture
def published(vehicle, root) -> VehiclePhoto:
    [photo] = services.add_photos(vehicle.id, [("a.jpg", jpeg())], None).stored
    photo_jobs.process_pending_photos()
    db.session.refresh(photo)
    return photo


def test_derivatives_are_public_and_cached_forever(client, published, root):
    entry = published.derivatives["thumb.webp"]
    response = client.get(f"/photos/{entry['file']}")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.mimetype == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == (root / "public" / entry["file"]).read_bytes()
    response.close()
    jpeg_file = published.derivatives["medium.jpeg"]["file"]
    with client.get(f"/photos/{jpeg_file}") as response:
        assert response.mimetype == "image/jpeg"


def test_originals_are_never_served(client, published, root):
    original = published.original_path  # originals/ab/abcdef….jpg
    name = original.rsplit("/", 1)[1]
    (root / "public" / ".tmp-half").write_bytes(b"half a file")
    attempts = [
        f"/photos/{original}",
        f"/photos/../{original}",
        f"/photos/..%2F{original.replace('/', '%2F')}",
        f"/photos/%2e%2e/{original}",
        f"/photos/%2E%2E%2F{original}",
        f"/photos/..%5C{original.replace('/', '%5C')}",
        f"/photos/{name}",
        f"/photos//{root / original}",
        f"/photos/{root / original}",
        "/photos/.tmp-half",
        "/photos/",
        "/photos/nothing-here.jpg",
        f"/{original}",
    ]
    for url in attempts:
        response = client.get(url, follow_redirects=True)  # '//' is redirected to '/'
        assert response.status_code == 404, url
        assert response.data != (root / original).read_bytes()


@pytest.mark.parametrize("name", ["orientation-landscape_6.jpg", "hdr-iphone_hdr_YES.jpg"])
def test_served_sizes_of_phone_photos_carry_no_exif(client, login_as, vehicle, name):
    data = (shared_path("corpus", "photos") / name).read_bytes()
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif()  # orientation, and GPS for the iPhone photo
    login_as("supervisor")
    upload(client, vehicle.id, [(name, data)], headers=JSON)
    photo_jobs.process_pending_photos()

    [photo] = photos_of(vehicle.id)
    for key, entry in photo.derivatives.items():
        with client.get(f"/photos/{entry['file']}") as served:
            data = served.data
        with Image.open(io.BytesIO(data)) as image:
            assert image.getexif() == {} and "exif" not in image.info, key
            if key.startswith("medium") and "landscape" in name:
                assert image.size == (600, 450)  # upright: the EXIF rotation is applied
