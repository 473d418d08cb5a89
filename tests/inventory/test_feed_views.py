"""Feed pull URLs (token, ETag, 304, gzip, streaming), the webmaster's page, and `flask feeds`."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import UTC, datetime

import pytest
from inventory.feed_builders import make_vehicle

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_files import FEED_FILES, build_feed_files
from dealer_leads.inventory.feed_models import FeedConsumer, FeedExport
from dealer_leads.inventory.feed_tokens import create_consumer, revoke_consumer


@pytest.fixture
def app(app_factory, tmp_path):
    app = app_factory(FEEDS_DIR=str(tmp_path / "feeds"), PUBLIC_BASE_URL="https://dealer.example")
    with app.app_context():
        yield app


def get(client, url: str, **headers):
    """GET, read the body and close the answer (a streamed file stays open until closed)."""
    answer = client.get(url, headers=headers)
    answer.get_data()
    answer.close()
    return answer


@pytest.fixture
def token(app) -> str:
    return create_consumer("Web site")[1]


def test_pull_every_file_with_a_live_token(client, token):
    vehicle = make_vehicle()
    build_feed_files(now_utc())
    for name in FEED_FILES:
        with client.get(f"/feeds/{token}/{name}") as streamed:
            assert streamed.is_streamed  # a file sent in chunks, never read whole into memory
        answer = get(client, f"/feeds/{token}/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["ETag"] and answer.headers["Last-Modified"]
        assert "Accept-Encoding" in answer.headers["Vary"]
        assert vehicle.vin in answer.get_data(as_text=True)
    assert get(client, f"/feeds/{token}/inventory.csv").mimetype == "text/csv"
    assert get(client, f"/feeds/{token}/inventory.json").json["vehicles"][0]["vin"] == vehicle.vin


def test_first_pull_builds_the_feeds_when_none_exist(client, token):
    vehicle = make_vehicle()
    answer = get(client, f"/feeds/{token}/inventory.csv")
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True), newline="")))
    assert [row["vin"] for row in rows] == [vehicle.vin]


def test_conditional_get_answers_304(client, token):
    make_vehicle()
    build_feed_files(now_utc())
    first = get(client, f"/feeds/{token}/google-vehicle-listings.tsv")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = get(client, f"/feeds/{token}/google-vehicle-listings.tsv", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    since = get(
        client, f"/feeds/{token}/google-vehicle-listings.tsv", **{"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    other = get(
        client, f"/feeds/{token}/google-vehicle-listings.tsv", **{"If-None-Match": '"other"'}
    )
    assert other.status_code == 200


def test_gzip_when_asked(client, token):
    make_vehicle(description="déjà vu, 日本語")
    build_feed_files(now_utc())
    plain = get(client, f"/feeds/{token}/inventory.json")
    packed = get(client, f"/feeds/{token}/inventory.json", **{"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert "Content-Encoding" not in plain.headers
    again = get(
        client,
        f"/feeds/{token}/inventory.json",
        **{"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304


def test_wrong_revoked_or_unknown_answers_404(client, token):
    make_vehicle()
    build_feed_files(now_utc())
    assert get(client, "/feeds/not-a-token/inventory.csv").status_code == 404
    assert get(client, f"/feeds/{'x' * 500}/inventory.csv").status_code == 404
    assert get(client, f"/feeds/{token}/manifest.json").status_code == 404
    assert get(client, f"/feeds/{token}/..%2Fmanifest.json").status_code == 404
    assert get(client, f"/feeds/{token}/inventory.csv").status_code == 200
    revoke_consumer(db.session.scalar(db.select(FeedConsumer.id)), now_utc())
    answer = get(client, f"/feeds/{token}/inventory.csv", **{"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"


def test_vehicle_jsonld_for_the_web_site(client, token):
    vehicle = make_vehicle()
    answer = get(client, f"/feeds/{token}/vehicles/{vehicle.vin}.jsonld")
    assert answer.status_code == 200 and answer.mimetype == "application/ld+json"
    data = json.loads(answer.get_data(as_text=True))
    assert data["@type"] == "Car" and data["vehicleIdentificationNumber"] == vehicle.vin
    assert get(client, f"/feeds/{token}/vehicles/1HGCM82633A00435X.jsonld").status_code == 404
    assert get(client, f"/feeds/wrong/vehicles/{vehicle.vin}.jsonld").status_code == 404


def test_page_shows_new_urls_once_quality_and_changes(client, login_as):
    login_as("webmaster")
    make_vehicle(price=None)
    created = client.post("/inventory/feeds/consumers", data={"name": "Google"})
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = re.search(r"https://dealer\.example/feeds/([^/]+)/", page).group(1)
    assert f"https://dealer.example/feeds/{token}/google-vehicle-listings.tsv" in page
    assert token not in client.get("/inventory/feeds").get_data(as_text=True)
    built = client.post("/inventory/feeds/build", follow_redirects=True)
    text = built.get_data(as_text=True)
    assert built.status_code == 200 and "Feeds built" in text
    assert "no price" in text and "1 added" in text
    empty = client.post("/inventory/feeds/consumers", data={"name": "  "})
    assert empty.status_code == 400 and "Name the site" in empty.get_data(as_text=True)
    assert client.post("/inventory/feeds/consumers/999/revoke").status_code == 404


def test_vehicle_page_shows_jsonld_and_what_keeps_it_out(client, login_as):
    login_as("supervisor")
    vehicle = make_vehicle(photos=0)
    page = client.get(f"/inventory/{vehicle.id}").get_data(as_text=True)
    assert "application/ld+json" in page and "no photos" in page
    assert "kept out of Google, Meta" in page


def test_cli_token_list_revoke(runner, client, app):
    make_vehicle()
    made = runner.invoke(args=["feeds", "token", "Cars.com"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert get(client, f"/feeds/{token}/meta-catalog.csv").status_code == 200
    listed = runner.invoke(args=["feeds", "list"])
    assert "Cars.com" in listed.output and token[:6] in listed.output
    assert token not in listed.output
    revoked = runner.invoke(args=["feeds", "revoke", "Cars.com"])
    assert revoked.exit_code == 0, revoked.output
    assert get(client, f"/feeds/{token}/meta-catalog.csv").status_code == 404
    missing = runner.invoke(args=["feeds", "revoke", "Nobody"])
    assert missing.exit_code != 0 and "no consumer" in missing.output


@pytest.mark.parametrize("fmt", ["csv", "json", "google", "meta"])
def test_cli_export_each_format(runner, app, tmp_path, fmt):
    vehicle = make_vehicle(description='A "quoted", multi\nline — ñ description')
    out = tmp_path / f"feed.{fmt}"
    result = runner.invoke(args=["feeds", "export", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)["vehicles"][0]["vin"] == vehicle.vin
    elif fmt == "google":
        rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
        assert rows[0]["vin"] == vehicle.vin
    else:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert rows[0]["vin"] == vehicle.vin
        assert rows[0]["description"] == 'A "quoted", multi\nline — ñ description'


def test_cli_export_refuses_unknown_format_and_bad_path(runner, app, tmp_path):
    assert runner.invoke(args=["feeds", "export", "xml", "-o", str(tmp_path / "x")]).exit_code
    bad = runner.invoke(args=["feeds", "export", "csv", "-o", str(tmp_path / "no" / "x.csv")])
    assert bad.exit_code != 0 and "cannot write" in bad.output


def test_cli_export_is_recorded_for_the_change_report(runner, app, tmp_path):
    first = make_vehicle()
    out = tmp_path / "meta.csv"
    assert runner.invoke(args=["feeds", "export", "meta", "-o", str(out)]).exit_code == 0
    [export] = db.session.scalars(db.select(FeedExport)).all()
    assert (export.status, export.listed, export.added) == ("published", {"meta-catalog.csv": 1}, 1)
    assert set(export.snapshot) == {first.vin} and "meta-catalog.csv" in export.note
    second = make_vehicle()
    result = build_feed_files(now_utc())  # compared with what the export sent out
    assert [item["vin"] for item in result.changes["added"]] == [second.vin]


def _sell_most_of_the_stock() -> list:
    stock = [make_vehicle() for _ in range(12)]
    build_feed_files(now_utc())
    for vehicle in stock[:8]:
        vehicle.status = "sold"
    db.session.commit()
    return stock


def test_cli_export_losing_most_of_the_stock_is_held_unless_forced(runner, app, tmp_path):
    stock = _sell_most_of_the_stock()
    (tmp_path / "upload").mkdir()
    out = tmp_path / "upload" / "inventory.csv"
    out.write_text("the file sent last time", encoding="utf-8")
    held = runner.invoke(args=["feeds", "export", "csv", "-o", str(out)])
    assert held.exit_code != 0
    assert "FEED_MAX_REMOVED_PERCENT" in held.output and "--force" in held.output
    assert out.read_text(encoding="utf-8") == "the file sent last time"
    assert [p.name for p in out.parent.iterdir()] == ["inventory.csv"]  # no temporary file left
    record = db.session.scalar(db.select(FeedExport).where(FeedExport.status == "held"))
    assert record.removed == 8 and "inventory.csv" in record.note
    forced = runner.invoke(args=["feeds", "export", "csv", "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert {row["vin"] for row in rows} == {vehicle.vin for vehicle in stock[8:]}
    latest = db.session.scalars(db.select(FeedExport).order_by(FeedExport.id.desc())).first()
    assert (latest.status, latest.removed) == ("published", 8)


def test_cli_export_to_stdout_writes_nothing_when_held(runner, app):
    _sell_most_of_the_stock()
    held = runner.invoke(args=["feeds", "export", "json", "-o", "-"])
    assert held.exit_code != 0 and held.stdout == ""
    forced = runner.invoke(args=["feeds", "export", "json", "-o", "-", "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(json.loads(forced.stdout)["vehicles"]) == 4


def test_cli_build(runner, app):
    make_vehicle()
    result = runner.invoke(args=["feeds", "build"])
    assert result.exit_code == 0, result.output
    assert "inventory.csv\t1 vehicles" in result.output


def test_worker_job_builds(app):
    from dealer_leads.inventory.feed_files import read_manifest
    from dealer_leads.inventory.feed_jobs import build_feeds

    make_vehicle()
    build_feeds()
    assert read_manifest()["files"]["inventory.csv"]["rows"] == 1


def test_demo_seed_adds_consumers_and_a_running_promotion(app):
    import random

    from dealer_leads.inventory.feed_demo import seed_feeds
    from dealer_leads.inventory.promotions import running_promotions

    make_vehicle(condition="new", make="Toyota")
    now = datetime.now(UTC)
    seed_feeds(random.Random(7), now)
    assert db.session.scalar(db.select(db.func.count(FeedConsumer.id))) == 3
    running = running_promotions(now)
    assert [p.make for p in running] == ["Toyota"]


def test_real_http_client_gets_gzip_and_304(app, token):
    import urllib.error
    import urllib.request

    from support import serve

    vehicle = make_vehicle(description="naïve café, “quoted”")
    build_feed_files(now_utc())
    db.session.commit()
    with serve(app) as base:
        url = f"{base}/feeds/{token}/inventory.csv"
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Content-Encoding"] == "gzip"
            etag = answer.headers["ETag"]
            text = gzip.decompress(answer.read()).decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert rows[0]["vin"] == vehicle.vin and rows[0]["description"] == "naïve café, “quoted”"
        again = urllib.request.Request(
            url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
        )
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(again, timeout=10)
        assert not_modified.value.code == 304
        not_modified.value.close()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/feeds/wrong/inventory.csv", timeout=10)
        assert missing.value.code == 404
        missing.value.close()


def test_cli_build_held_then_forced(runner, app):
    stock = [make_vehicle() for _ in range(10)]
    assert runner.invoke(args=["feeds", "build"]).exit_code == 0
    for vehicle in stock[:6]:
        vehicle.status = "sold"
    db.session.commit()
    held = runner.invoke(args=["feeds", "build"])
    assert held.exit_code != 0 and "--force" in held.output
    forced = runner.invoke(args=["feeds", "build", "--force"])
    assert forced.exit_code == 0 and "inventory.csv\t4 vehicles" in forced.output
