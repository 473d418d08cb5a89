"""POST /api/v1/vehicles/<vin>/photos: photo apps and the DMS upload with a bearer key."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from dealer_leads.api.services import create_api_key
from dealer_leads.extensions import db
from dealer_leads.inventory import photo_jobs, photo_publishing
from dealer_leads.inventory import photo_services as services
from dealer_leads.inventory.models import Vehicle

VIN = "2T3P1RFV8MW123456"


@pytest.fixture
def app(app_factory, tmp_path):
    app = app_factory(PHOTOS_DIR=str(tmp_path / "photos"), MAX_PHOTO_UPLOAD_BYTES=400_000)
    with app.app_context():
        yield app


@pytest.fixture
def vehicle(app) -> Vehicle:
    vehicle = Vehicle(vin=VIN, stock_number="T1234", make="Toyota", model="RAV4")
    db.session.add(vehicle)
    db.session.commit()
    return vehicle


@pytest.fixture
def key(app) -> str:
    return create_api_key("Lot photo app", ["inventory"])[1]


def jpeg(color=(0, 90, 180), size=(640, 480), noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, color)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def post_photos(client, key: str | None, files, vin: str = VIN):
    values = MultiDict([("photos", FileStorage(io.BytesIO(data), name)) for name, data in files])
    boundary, body = encode_multipart(values)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(
        f"/api/v1/vehicles/{vin}/photos",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def test_upload_many_photos_at_once(client, key, vehicle, app):
    files = [("front.jpg", jpeg((200, 0, 0))), ("rear.jpg", jpeg((0, 200, 0)))]

    response = post_photos(client, key, files)

    assert response.status_code == 201
    body = response.get_json()
    assert body["vin"] == VIN and body["errors"] == []
    ids = [photo["id"] for photo in body["stored"]]
    assert [p.id for p in services.list_photos(vehicle.id)] == ids
    assert all(p.status == "pending" and p.uploaded_by_id is None for p in vehicle.photos)
    root = Path(app.config["PHOTOS_DIR"])
    assert len(list((root / "originals").rglob("*.jpg"))) == 2


def test_good_files_are_stored_and_bad_ones_reported(client, key, vehicle):
    files = [
        ("front.jpg", jpeg()),
        ("../../../etc/cron.d/evil.jpg", b"#!/bin/sh\nrm -rf /\n"),
        ("rear.jpg", jpeg((9, 9, 9))),
    ]

    response = post_photos(client, key, files)

    assert response.status_code == 201
    body = response.get_json()
    assert [photo["filename"] for photo in body["stored"]] == ["front.jpg", "rear.jpg"]
    [error] = body["errors"]
    assert (error["index"], error["filename"]) == (1, "evil.jpg")
    assert "not a photo" in error["message"]
    assert len(services.list_photos(vehicle.id)) == 2


def test_nothing_storable_is_a_422_naming_each_file(client, key, vehicle):
    response = post_photos(client, key, [("a.jpg", b"GIF89a"), ("b.jpg", b"")])

    assert response.status_code == 422 and error_code(response) == "invalid_photos"
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"photos[0]", "photos[1]"} and "empty" in fields["photos[1]"]
    assert services.list_photos(vehicle.id) == []


def test_sending_the_same_photo_again_stores_nothing_new(client, key, vehicle):
    first = post_photos(client, key, [("a.jpg", jpeg())]).get_json()
    again = post_photos(client, key, [("a.jpg", jpeg())])

    assert again.status_code == 200
    assert again.get_json()["duplicates"] == [
        {"index": 0, "filename": "a.jpg", "id": first["stored"][0]["id"]}
    ]
    assert len(services.list_photos(vehicle.id)) == 1


def test_unknown_vin_is_a_json_404(client, key, vehicle):
    response = post_photos(client, key, [("a.jpg", jpeg())], vin="1HGCM82633A004352")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert "1HGCM82633A004352" in response.get_json()["error"]["message"]


def test_the_vin_is_matched_in_any_case(client, key, vehicle):
    assert post_photos(client, key, [("a.jpg", jpeg())], vin=VIN.lower()).status_code == 201


def test_json_instead_of_multipart_is_a_415(client, key, vehicle):
    response = client.post(
        f"/api/v1/vehicles/{VIN}/photos",
        json={"photos": ["https://example.com/a.jpg"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"


def test_no_photos_field_is_a_400(client, key, vehicle):
    boundary, body = encode_multipart(MultiDict([("pictures", "nothing")]))
    response = client.post(
        f"/api/v1/vehicles/{VIN}/photos",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 400 and "photos" in response.get_json()["error"]["fields"]


def test_an_oversized_request_is_a_413_and_stores_nothing(client, key, vehicle, app):
    files = [(f"{n}.jpg", jpeg(size=(500, 400), noise=True)) for n in range(3)]
    assert sum(len(data) for _, data in files) > app.config["MAX_PHOTO_UPLOAD_BYTES"]

    response = post_photos(client, key, files)

    assert response.status_code == 413 and error_code(response) == "payload_too_large"
    assert services.list_photos(vehicle.id) == []
    assert not Path(app.config["PHOTOS_DIR"]).exists()


def test_a_request_over_the_app_wide_limit_but_within_the_photo_limit_is_accepted(
    client, key, vehicle, app
):
    big = jpeg(size=(700, 500), noise=True)
    app.config["MAX_CONTENT_LENGTH"] = len(big) // 2
    assert post_photos(client, key, [("big.jpg", big)]).status_code == 201


@pytest.mark.parametrize(
    "scopes, status, code",
    [(None, 401, "missing_api_key"), (["leads"], 403, "insufficient_scope")],
)
def test_the_key_needs_the_inventory_scope(client, vehicle, scopes, status, code):
    key = create_api_key("Cars.com", scopes)[1] if scopes else None

    response = post_photos(client, key, [("a.jpg", jpeg())])

    assert response.status_code == status and error_code(response) == code
    assert services.list_photos(vehicle.id) == []


def test_api_uploads_are_processed_like_any_other(client, key, vehicle):
    post_photos(client, key, [("a.jpg", jpeg(size=(1200, 900)))])
    photo_jobs.process_pending_photos()

    [entry] = photo_publishing.photo_urls(vehicle)
    assert list(entry["sizes"]) == ["thumb", "medium", "listing", "large"]  # by width
    url = entry["sizes"]["medium"]["jpeg"]
    with client.get(url.removeprefix(client.application.config["PUBLIC_BASE_URL"])) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
