"""vPIC decoding against a real loopback HTTP server answering in vPIC's shape."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from dealer_leads.extensions import db
from dealer_leads.inventory import decode_retries, services, vpic
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.vpic import decode_vin, title_make

HONDA = "1HGCM82633A004352"  # answered cleanly
FLAGGED = "1HGCM82633A004353"  # wrong check digit: vPIC decodes it and says so
BROKEN = "JTHBA1D27G5004260"  # HTTP 500
GARBAGE = "WA1A4AFY2J2008189"  # 200 with an HTML body
EMPTY = "3VWD07AJ5EM388202"  # JSON without a result
SLOW = "1FMJK2AT1KEA36140"  # answers after the client gave up
TIMEOUT = 0.3
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DEAD = "http://127.0.0.1:9/api"  # nothing listens on the discard port

VPIC_MESSAGE = (
    "Results returned successfully. NOTE: Any missing decoded values should be interpreted as "
    "NHTSA does not have data on the specific variable."
)


def vpic_body(vin: str, **fields: str) -> bytes:
    """A DecodeVinValues answer as vPIC writes it: strings everywhere, '' for unknown."""
    result = dict.fromkeys(
        ("ModelYear", "Make", "Model", "Trim", "BodyClass", "DriveType", "FuelTypePrimary"), ""
    )
    result |= dict.fromkeys(("TransmissionStyle", "Doors", "AdditionalErrorText", "Series"), "")
    result |= {"VIN": vin, "ErrorCode": "0", "ErrorText": "0 - VIN decoded clean."} | fields
    body = {
        "Count": 1,
        "Message": VPIC_MESSAGE,
        "SearchCriteria": f"VIN:{vin}",
        "Results": [result],
    }
    return json.dumps(body).encode()


ANSWERS = {
    HONDA: (
        200,
        vpic_body(
            HONDA,
            ModelYear="2003",
            Make="HONDA",
            Model="Accord",
            Trim="EX-V6",
            BodyClass="Coupe",
            DriveType="FWD/Front-Wheel Drive",
            FuelTypePrimary="Gasoline",
            TransmissionStyle="Automatic",
            Doors="2",
        ),
    ),
    FLAGGED: (
        200,
        vpic_body(
            FLAGGED,
            ModelYear="2003",
            Make="HONDA",
            Model="Accord",
            ErrorCode="1",
            ErrorText="1 - Check Digit (9th position) does not calculate properly",
        ),
    ),
    BROKEN: (500, b"Internal Server Error"),
    GARBAGE: (200, b"<html><body>Service unavailable</body></html>"),
    EMPTY: (200, b'{"Count": 0, "Message": "No data", "Results": []}'),
    SLOW: (200, vpic_body(SLOW, ModelYear="2019", Make="FORD", Model="Escape")),
}


@dataclass
class FakeVpic:
    """The server's base URL, the requests it received, and a switch to release slow answers."""

    base_url: str
    hits: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self, vin: str) -> int:
        return sum(1 for path in self.hits if path.endswith(f"/{vin}"))


def _handler(fake: FakeVpic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            fake.hits.append(url.path)
            vin = url.path.rsplit("/", 1)[-1]
            ok = url.path.startswith("/api/vehicles/DecodeVinValues/")
            ok = ok and parse_qs(url.query) == {"format": ["json"]} and vin in ANSWERS
            status, body = ANSWERS[vin] if ok else (404, b"not found")
            if vin == SLOW:
                fake.release.wait(5)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting, as it should

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake_vpic() -> Iterator[FakeVpic]:
    """A vPIC look-alike on 127.0.0.1 in a thread; the decode cache starts empty."""
    vpic.clear_cache()
    fake = FakeVpic(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_port}/api"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        vpic.clear_cache()


def decode(fake: FakeVpic, vin: str, **kwargs) -> vpic.VinDecode:
    return decode_vin(vin, base_url=fake.base_url, timeout=TIMEOUT, **kwargs)


def test_a_clean_decode_fills_the_form(fake_vpic):
    result = decode(fake_vpic, HONDA.lower())
    assert (result.source, result.pending, result.messages) == ("vpic", False, [])
    assert (result.vin, result.year, result.make, result.model) == (HONDA, 2003, "Honda", "Accord")
    assert (result.trim, result.body_style, result.doors) == ("EX-V6", "Coupe", 2)
    assert (result.drivetrain, result.fuel) == ("FWD/Front-Wheel Drive", "Gasoline")
    assert result.transmission == "Automatic"
    assert result.raw["ErrorCode"] == "0" and "Series" not in result.raw  # empty fields dropped


def test_a_second_decode_is_served_from_the_cache(fake_vpic):
    first = decode(fake_vpic, HONDA)
    first.messages.append("edited by the caller")
    second = decode(fake_vpic, HONDA)
    assert fake_vpic.count(HONDA) == 1
    assert second.source == "vpic" and second.messages == []


def test_a_session_is_used_when_given(fake_vpic):
    with requests.Session() as session:
        assert decode(fake_vpic, HONDA, session=session).make == "Honda"
    assert fake_vpic.count(HONDA) == 1


def test_a_vin_vpic_flags_is_decoded_with_its_message(fake_vpic):
    result = decode(fake_vpic, FLAGGED)
    assert (result.source, result.pending, result.make, result.year) == (
        "vpic",
        False,
        "Honda",
        2003,
    )
    assert result.messages == ["vPIC: 1 - Check Digit (9th position) does not calculate properly"]
    assert (result.trim, result.doors) == ("", None)


@pytest.mark.parametrize(
    ("vin", "year", "make", "reason"),
    [
        (BROKEN, 2016, "Lexus", "HTTP 500"),
        (GARBAGE, 2018, "Audi", "not JSON"),
        (EMPTY, 2014, "Volkswagen", "without a decode result"),
        (SLOW, 2019, "Ford", "within 0.3 s"),
    ],
)
def test_trouble_falls_back_offline_and_is_not_cached(fake_vpic, vin, year, make, reason):
    for attempt in (1, 2):
        result = decode(fake_vpic, vin)
        assert (result.source, result.pending, result.year, result.make) == (
            "offline",
            True,
            year,
            make,
        )
        assert result.model == "" and reason in result.messages[0]
        assert fake_vpic.count(vin) == attempt


def test_an_unreachable_vpic_falls_back_offline():
    vpic.clear_cache()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = decode_vin(HONDA, base_url=f"http://127.0.0.1:{port}/api", timeout=TIMEOUT)
    assert (result.source, result.pending, result.year, result.make) == (
        "offline",
        True,
        2003,
        "Honda",
    )
    assert "could not be reached" in result.messages[0]


def test_a_malformed_vin_is_not_sent(fake_vpic):
    result = decode(fake_vpic, "1HGCM82633A00435")
    assert (result.source, result.pending, result.year) == ("offline", False, None)
    assert "17 characters" in result.messages[0]
    assert fake_vpic.hits == []


def test_config_supplies_the_base_url_and_timeout(fake_vpic):
    app = Flask(__name__)
    app.config.update(VPIC_BASE_URL=fake_vpic.base_url + "/", VPIC_TIMEOUT_SECONDS=TIMEOUT)
    with app.app_context():
        assert decode_vin(HONDA).make == "Honda"
        assert decode_vin(SLOW).pending
    assert fake_vpic.count(HONDA) == 1


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("HONDA", "Honda"),
        ("BMW", "BMW"),
        ("MERCEDES-BENZ", "Mercedes-Benz"),
        ("LAND ROVER", "Land Rover"),
        ("GMC", "GMC"),
        ("MCLAREN", "McLaren"),
        ("ROLLS-ROYCE", "Rolls-Royce"),
        ("", ""),
    ],
)
def test_title_make(name, written):
    assert title_make(name) == written


# --- the worker's retry of decodes left pending ------------------------------------------------


def saved_while_vpic_was_down(app, vin: str, **values) -> int:
    """A vehicle saved through the service while vPIC could not be reached: decode pending."""
    app.config.update(VPIC_BASE_URL=DEAD, VPIC_TIMEOUT_SECONDS=TIMEOUT)
    vehicle = services.save_vehicle({"vin": vin, **values}, decoder=decode_vin)
    assert vehicle.decode_state == "pending"
    return vehicle.id


def vpic_is_back(app, fake: FakeVpic) -> None:
    app.config.update(VPIC_BASE_URL=fake.base_url, VPIC_TIMEOUT_SECONDS=TIMEOUT)
    vpic.clear_cache()


def test_pending_decodes_are_retried_and_fill_only_what_is_empty(app, fake_vpic):
    vehicle_id = saved_while_vpic_was_down(app, HONDA, model="Accord Coupe", stock_number="A7")
    vpic_is_back(app, fake_vpic)

    assert decode_retries.retry_pending_decodes(now=NOW) == 1

    vehicle = db.session.get(Vehicle, vehicle_id)
    assert (vehicle.decode_state, vehicle.decode_data["source"]) == ("decoded", "vpic")
    assert (vehicle.year, vehicle.make, vehicle.trim, vehicle.body_style) == (
        2003,
        "Honda",
        "EX-V6",
        "Coupe",
    )
    assert vehicle.model == "Accord Coupe"  # typed by a person: kept
    assert decode_retries.retry_pending_decodes(now=NOW) == 0  # nothing pending any more
    assert fake_vpic.count(HONDA) == 1


def test_a_failed_retry_stops_the_batch_and_backs_off(app, fake_vpic):
    broken = saved_while_vpic_was_down(app, BROKEN)
    honda = saved_while_vpic_was_down(app, HONDA)
    vpic_is_back(app, fake_vpic)

    assert decode_retries.retry_pending_decodes(now=NOW) == 0  # vPIC failed: the rest waits
    assert (fake_vpic.count(BROKEN), fake_vpic.count(HONDA)) == (1, 0)
    failed = db.session.get(Vehicle, broken)
    assert failed.decode_state == "pending" and "HTTP 500" in failed.decode_data["messages"][0]
    assert failed.decode_data["attempts"] == 1
    assert failed.decode_data["next_try_at"] == (NOW + timedelta(minutes=10)).isoformat()

    later = NOW + timedelta(minutes=5)
    assert decode_retries.retry_pending_decodes(now=later) == 1  # the Honda; BROKEN is not due yet
    assert (fake_vpic.count(BROKEN), fake_vpic.count(HONDA)) == (1, 1)
    assert db.session.get(Vehicle, honda).decode_state == "decoded"

    again = NOW + timedelta(minutes=11)
    assert decode_retries.retry_pending_decodes(now=again) == 0
    assert fake_vpic.count(BROKEN) == 2
    waits = db.session.get(Vehicle, broken).decode_data
    assert (waits["attempts"], waits["next_try_at"]) == (
        2,
        (again + timedelta(minutes=20)).isoformat(),
    )


def test_back_off_is_at_most_a_day_and_batches_are_small(app, fake_vpic):
    broken = saved_while_vpic_was_down(app, BROKEN)
    vehicle = db.session.get(Vehicle, broken)
    vehicle.decode_data = {**vehicle.decode_data, "attempts": 30}
    db.session.commit()
    clean = [saved_while_vpic_was_down(app, vin) for vin in (HONDA, SLOW)]
    vpic_is_back(app, fake_vpic)
    fake_vpic.release.set()  # the slow one answers at once now

    assert decode_retries.retry_pending_decodes(now=NOW, limit=1) == 0  # BROKEN first, by id
    waits = db.session.get(Vehicle, broken).decode_data
    assert waits["next_try_at"] == (NOW + timedelta(days=1)).isoformat()
    assert decode_retries.retry_pending_decodes(now=NOW, limit=1) == 1
    assert [db.session.get(Vehicle, n).decode_state for n in clean] == ["decoded", "pending"]
    assert decode_retries.retry_pending_decodes(now=NOW, limit=1) == 1
    assert db.session.get(Vehicle, clean[1]).model == "Escape"
    assert len(fake_vpic.hits) == 3


def test_a_vehicle_edited_during_the_retry_is_left_alone(app, fake_vpic):
    vehicle_id = saved_while_vpic_was_down(app, HONDA)
    vpic_is_back(app, fake_vpic)

    def decoder(vin: str) -> vpic.VinDecode:
        answer = decode_vin(vin)
        services.save_vehicle({"vin": SLOW, "model": "Escape"}, vehicle_id=vehicle_id)
        return answer

    assert decode_retries.retry_pending_decodes(decoder, now=NOW) == 1
    vehicle = db.session.get(Vehicle, vehicle_id)
    assert (vehicle.vin, vehicle.decode_state, vehicle.trim) == (SLOW, "", "")


def test_the_worker_retries_decodes_under_a_fixed_id(app_factory, fake_vpic):
    from apscheduler.triggers.interval import IntervalTrigger

    from dealer_leads.worker import build_scheduler

    app = app_factory(VPIC_RETRY_MINUTES=7)
    job = build_scheduler(app).get_job("vin-decodes")
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=7)
    with app.app_context():
        vehicle_id = saved_while_vpic_was_down(app, HONDA)
        db.session.remove()
    vpic_is_back(app, fake_vpic)
    job.func()  # brings its own app context, as in the worker's thread
    with app.app_context():
        assert db.session.get(Vehicle, vehicle_id).make == "Honda"
        assert db.session.get(Vehicle, vehicle_id).decode_state == "decoded"
    assert fake_vpic.count(HONDA) == 1
