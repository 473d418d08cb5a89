"""Vehicles: the VIN policy on the form, decoding through a loopback vPIC, the list, statuses."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select
from support import login, serve, sql_statements

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.services import create_user
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory import services, vpic
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.vehicle_values import InvalidVehicle
from dealer_leads.inventory.vin import check_digit

ACCORD = "1HGCM82633A004352"  # 2003 Honda Accord, clean check digit
TYPO = "1HGCM82633A004353"  # the same with a wrong check digit
LADA = "XTAGFK330JY144213"  # a Russian maker: no check digit, a warning a person may override
DEAD_VPIC = "http://127.0.0.1:9"  # nothing listens on the discard port: vPIC "down"


def vin_for(serial: int, prefix: str = "2HKRW2H8", year_code: str = "R") -> str:
    """A valid VIN: maker prefix (8), check digit, model year, plant, serial."""
    draft = f"{prefix}0{year_code}H{serial:06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


@pytest.fixture(autouse=True)
def no_real_vpic(app):
    """No test reaches the real NHTSA: vPIC is down unless a test serves one."""
    app.config["VPIC_BASE_URL"] = DEAD_VPIC
    app.config["VPIC_TIMEOUT_SECONDS"] = 0.5
    vpic.clear_cache()


def form(**overrides) -> dict:
    values = {
        "vin": ACCORD,
        "stock_number": "A1001",
        "year": "2003",
        "make": "Honda",
        "model": "Accord",
        "trim": "EX-V6",
        "body_style": "Coupe",
        "condition": "used",
        "odometer": "182,400",
        "odometer_unit": "km",
        "drivetrain": "FWD",
        "fuel": "Gasoline",
        "transmission": "Automatic",
        "price": "4995",
        "status": "available",
        "in_stock_on": "2026-01-05",
        "options": "Sunroof\nLeather",
        "description": "One owner.",
    }
    return values | overrides


def make_vehicle(n: int, **values) -> Vehicle:
    base = {
        "vin": vin_for(n),
        "stock_number": f"S{n:05d}",
        "year": 2024,
        "make": "Honda",
        "model": "CR-V",
        "in_stock_on": date(2026, 1, 1) + timedelta(days=n % 300),
    }
    return services.save_vehicle(base | values)


# --- the form and the VIN policy -------------------------------------------------------------


def test_a_vehicle_is_created_from_the_form(client, login_as):
    login_as("supervisor")
    response = client.post("/inventory/new", data=form())
    assert response.status_code == 303, response.get_data(as_text=True)
    vehicle = services.get_vehicle_by_vin(ACCORD.lower())
    assert response.headers["Location"].endswith(f"/inventory/{vehicle.id}")
    assert (vehicle.odometer, vehicle.price, vehicle.options) == (
        182400,
        Decimal("4995.00"),
        ["Sunroof", "Leather"],
    )
    assert vehicle.in_stock_on == date(2026, 1, 5) and vehicle.condition == "used"
    assert vehicle.decode_state == ""  # every decodable field was typed: vPIC not asked


@pytest.mark.parametrize(
    "vin, problem",
    [
        (TYPO, "Check digit (position 9) is '3'"),
        ("1HGCM82633A00435", "A VIN has 17 characters; this one has 16"),
        ("1HGCM82633I004352", "cannot contain 'I'"),
        ("", "is required"),
    ],
)
def test_an_invalid_vin_is_refused_with_a_field_error(client, login_as, vin, problem):
    login_as("supervisor")
    response = client.post("/inventory/new", data=form(vin=vin))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="field invalid"' in page and problem in page.replace("&#39;", "'")
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0


def test_a_vin_without_check_digit_needs_the_override(client, login_as):
    login_as("webmaster")
    refused = client.post("/inventory/new", data=form(vin=LADA, year="2018", make="Lada"))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "may not use a check digit" in page and 'name="override_vin"' in page
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0

    saved = client.post("/inventory/new", data=form(vin=LADA, make="Lada", override_vin="y"))
    assert saved.status_code == 303
    vehicle = services.get_vehicle_by_vin(LADA)
    assert vehicle.vin_override is True
    # once confirmed, editing the same vehicle does not ask again
    again = client.post(f"/inventory/{vehicle.id}/edit", data=form(vin=LADA, price="5995"))
    assert again.status_code == 303
    assert services.get_vehicle_by_vin(LADA).price == Decimal("5995.00")


def test_the_service_refuses_a_warning_without_override(app):
    with pytest.raises(InvalidVehicle) as refused:
        services.save_vehicle({"vin": LADA})
    assert refused.value.needs_override and "vin" in refused.value.fields
    assert services.save_vehicle({"vin": LADA}, override_vin=True).vin_override


def test_a_north_american_vin_without_a_year_code_is_an_error_even_with_override(app):
    vin = "1HGCM82630A004352"
    draft = vin[:8] + check_digit(vin) + vin[9:]  # check digit right, position 10 is '0'
    with pytest.raises(InvalidVehicle, match="not valid"):
        services.save_vehicle({"vin": draft}, override_vin=True)


def test_new_page_refuses_a_vin_in_stock_and_edit_refuses_another_vehicles_vin(client, login_as):
    login_as("supervisor")
    first, second = make_vehicle(1), make_vehicle(2)
    response = client.post("/inventory/new", data=form(vin=first.vin))
    assert response.status_code == 422 and f"is vehicle #{first.id}" in response.get_data(
        as_text=True
    )
    response = client.post(f"/inventory/{second.id}/edit", data=form(vin=first.vin))
    assert response.status_code == 422
    assert f"belongs to vehicle #{first.id}" in response.get_data(as_text=True)


def test_bad_values_are_refused_field_by_field(client, login_as):
    login_as("supervisor")
    response = client.post(
        "/inventory/new", data=form(year="20x3", price="-5", in_stock_on="Jan 5", odometer="9e9")
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for problem in ("must be a whole number", "must be an amount", "must be a date like"):
        assert problem in page
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0


def test_edit_form_shows_the_vehicle_and_saves_changes(client, login_as):
    login_as("admin")
    vehicle = make_vehicle(3, price=Decimal("31995"), options=["Heated seats"])
    page = client.get(f"/inventory/{vehicle.id}/edit").get_data(as_text=True)
    assert 'value="31995.00"' in page and "Heated seats" in page
    response = client.post(f"/inventory/{vehicle.id}/edit", data=form(vin=vehicle.vin, trim=""))
    assert response.status_code == 303
    db.session.expire_all()
    assert vehicle.trim == "" and vehicle.model == "Accord"


def test_description_is_shown_escaped(client, login_as):
    login_as("advisor")
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    vehicle = make_vehicle(4, description=script, make="<b>Evil</b>")
    for url in (f"/inventory/{vehicle.id}", "/inventory/?q=evil"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>Evil" not in page
    assert "&lt;script&gt;" in client.get(f"/inventory/{vehicle.id}").get_data(as_text=True)


# --- decoding through vPIC -------------------------------------------------------------------


def fake_vpic(answers: dict[str, dict]) -> Flask:
    """A loopback server answering DecodeVinValues in vPIC's shape (strings, '' for unknown)."""
    fake = Flask("fake_vpic")
    fake.calls = []

    @fake.get("/api/vehicles/DecodeVinValues/<vin>")
    def decode(vin: str):
        fake.calls.append(vin)
        result = dict.fromkeys(("ModelYear", "Make", "Model", "Trim", "BodyClass"), "")
        result |= {"VIN": vin, "ErrorCode": "0", "ErrorText": "0 - VIN decoded clean."}
        result |= answers.get(vin, {})
        return json.dumps(
            {"Count": 1, "Message": "Results returned successfully", "Results": [result]}
        )

    return fake


HONDA_ANSWER = {
    ACCORD: {
        "ModelYear": "2003",
        "Make": "HONDA",
        "Model": "Accord",
        "Trim": "EX-V6",
        "BodyClass": "Coupe",
        "DriveType": "FWD/Front-Wheel Drive",
        "FuelTypePrimary": "Gasoline",
        "TransmissionStyle": "Automatic",
    }
}


@pytest.fixture
def vpic_app(app_factory):
    """An app whose VPIC_BASE_URL is a loopback vPIC answering for the Accord; yields
    (app, signed-in webmaster client, the fake server's record of calls)."""
    fake = fake_vpic(HONDA_ANSWER)
    with serve(fake) as base:
        app = app_factory(VPIC_BASE_URL=f"{base}/api")
        vpic.clear_cache()
        client = app.test_client()
        with app.app_context():
            login(client, create_user("w@example.com", "webmaster", "Web", "password123"))
            yield app, client, fake.calls


def test_save_prefills_empty_fields_from_vpic(vpic_app):
    _, client, calls = vpic_app
    empty = dict.fromkeys(services.DECODED_FIELDS, "")
    response = client.post("/inventory/new", data=form(**(empty | {"trim": "Special"})))
    assert response.status_code == 303
    vehicle = services.get_vehicle_by_vin(ACCORD)
    assert (vehicle.year, vehicle.make, vehicle.model) == (2003, "Honda", "Accord")
    assert vehicle.trim == "Special"  # typed by a person: kept
    assert vehicle.drivetrain == "FWD/Front-Wheel Drive" and vehicle.body_style == "Coupe"
    assert vehicle.decode_state == "decoded" and vehicle.decode_data["source"] == "vpic"
    assert calls == [ACCORD]


def test_decode_button_answers_json(vpic_app):
    _, client, _ = vpic_app
    answer = client.get(f"/inventory/decode?vin={ACCORD.lower()}").get_json()
    assert answer["valid"] and answer["source"] == "vpic" and not answer["pending"]
    assert answer["fields"]["make"] == "Honda" and answer["fields"]["trim"] == "EX-V6"
    bad = client.get(f"/inventory/decode?vin={TYPO}").get_json()
    assert not bad["valid"] and "Check digit" in bad["errors"][0] and bad["fields"] == {}
    page = client.get("/inventory/new").get_data(as_text=True)
    assert "data-decode-url=" in page and "inventory.js" in page


def test_vpic_down_saves_with_decode_pending(client, login_as):
    login_as("supervisor")
    empty = dict.fromkeys(services.DECODED_FIELDS, "")
    response = client.post("/inventory/new", data=form(**empty), follow_redirects=True)
    assert response.status_code == 200
    assert "decode pending" in response.get_data(as_text=True)
    vehicle = services.get_vehicle_by_vin(ACCORD)
    assert vehicle.decode_state == "pending"
    assert (vehicle.year, vehicle.make) == (2003, "Honda")  # what the VIN itself tells
    answer = client.get(f"/inventory/decode?vin={ACCORD}").get_json()
    assert answer["pending"] and answer["source"] == "offline" and answer["fields"]["year"] == 2003


# --- list, search, paging, statuses ----------------------------------------------------------


def test_list_filters_and_search(app):
    honda = make_vehicle(10, make="Honda", model="Civic", year=2022, condition="used")
    toyota = make_vehicle(11, make="Toyota", model="RAV4", year=2025, condition="new")
    sold = make_vehicle(12, make="Toyota", model="Corolla", status="sold")
    hidden = make_vehicle(13, make="Mazda", model="CX-5", status="hidden")

    def ids(**filters) -> set[int]:
        found = services.list_vehicles(services.VehicleFilters(**filters))
        return {vehicle.id for vehicle in found.items}

    assert ids() == {honda.id, toyota.id}  # in stock by default
    assert ids(status="all") == {honda.id, toyota.id, sold.id, hidden.id}
    assert ids(status="sold") == {sold.id}
    assert ids(condition="used") == {honda.id}
    assert ids(make="toyota", status="all") == {toyota.id, sold.id}
    assert ids(year_from=2023) == {toyota.id}
    assert ids(year_to=2023) == {honda.id}
    assert ids(search="rav") == {toyota.id}
    assert ids(search=toyota.stock_number.lower()) == {toyota.id}
    assert ids(search=honda.vin[-8:]) == {honda.id}
    assert ids(search="100%_") == set()


def test_search_matches_every_word_against_any_field(app):
    def ids(search: str) -> set[int]:
        found = services.list_vehicles(services.VehicleFilters(search=search))
        return {vehicle.id for vehicle in found.items}

    civic = make_vehicle(60, make="Honda", model="Civic", trim="EX", year=2019)
    sport = make_vehicle(61, make="Honda", model="Civic", trim="Sport", year=2022)
    accord = make_vehicle(62, make="Honda", model="Accord", year=2019, stock_number="U24-117")
    corolla = make_vehicle(63, make="Toyota", model="Corolla", year=2019)

    assert ids("Honda Civic") == {civic.id, sport.id}
    assert ids("2019 Civic") == ids("civic 2019") == {civic.id}
    assert ids("  civic   SPORT ") == {sport.id}
    assert ids("2019") == {civic.id, accord.id, corolla.id}
    assert ids("Toyota Civic") == set()  # every word must match
    assert ids("24-1") == ids("honda u24") == {accord.id}  # part of a stock number
    assert ids(corolla.vin[5:11].lower()) == {corolla.id}  # part of a VIN
    assert ids(f"{sport.vin[:8]}-{sport.vin[8:]}".lower()) == {sport.id}  # the whole VIN, typed
    assert ids(f"honda {accord.vin[-6:]}") == {accord.id}


def test_a_vehicle_made_without_a_date_in_stock_is_in_stock_today(client, login_as, monkeypatch):
    login_as("supervisor")
    evening = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # 10 pm on Feb 28 at the dealership
    monkeypatch.setattr(services, "now_utc", lambda: evening)
    assert client.post("/inventory/new", data=form(in_stock_on="")).status_code == 303
    assert services.get_vehicle_by_vin(ACCORD).in_stock_on == date(2026, 2, 28)

    coming = services.save_vehicle({"vin": vin_for(70), "status": "in_transit"})
    assert coming.in_stock_on is None  # not on the lot yet
    services.change_status(coming.id, "available", now=datetime(2026, 3, 9, 2, 0, tzinfo=UTC))
    assert coming.in_stock_on == date(2026, 3, 8)  # arrived: the lot's date, not UTC's

    dated = services.save_vehicle({"vin": vin_for(71), "in_stock_on": "2026-01-05"})
    assert dated.in_stock_on == date(2026, 1, 5)
    edited = services.save_vehicle({"vin": dated.vin, "in_stock_on": ""}, vehicle_id=dated.id)
    assert edited.in_stock_on is None  # a person may clear it on an existing vehicle


def test_list_is_newest_in_stock_first_with_days_in_stock(client, login_as):
    login_as("advisor")
    today = now_utc().astimezone(dealership_zone()).date()  # the lot's calendar, not UTC's
    old = make_vehicle(20, in_stock_on=today - timedelta(days=40))
    fresh = make_vehicle(21, in_stock_on=today - timedelta(days=2))
    coming = make_vehicle(22, in_stock_on=None, status="in_transit")
    found = services.list_vehicles(services.VehicleFilters())
    assert [v.id for v in found.items] == [fresh.id, old.id, coming.id]
    assert services.days_in_stock(old, today) == 40
    assert services.days_in_stock(coming, today) is None
    page = client.get("/inventory/").get_data(as_text=True)
    assert '<td data-label="Days in stock">40</td>' in page
    assert "/inventory/new" not in page  # advisors only look


def test_vehicle_page_shows_days_to_photo_on_the_lots_calendar(client, login_as):
    login_as("advisor")
    photographed = make_vehicle(23, in_stock_on=date(2026, 1, 1))
    # 10 pm on Jan 4 at the dealership (Toronto), already Jan 5 in UTC
    photographed.first_photo_at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    today = now_utc().astimezone(dealership_zone()).date()
    waiting = make_vehicle(24, in_stock_on=today - timedelta(days=9))
    coming = make_vehicle(25, in_stock_on=None, status="in_transit")
    db.session.commit()

    def days_to_photo(vehicle: Vehicle) -> str:
        page = client.get(f"/inventory/{vehicle.id}").get_data(as_text=True)
        cell = re.search(r'<dd class="days-to-photo">(.*?)</dd>', page, re.S).group(1)
        return " ".join(re.sub(r"<[^>]+>", "", cell).split())

    assert days_to_photo(photographed) == "3 days first real photo Jan 04, 2026"
    assert days_to_photo(waiting) == "no photos yet, 9 days in stock"
    assert days_to_photo(coming) == "no photos yet"


def test_list_shows_days_to_photo(client, login_as):
    login_as("supervisor")
    today = now_utc().astimezone(dealership_zone()).date()
    photographed = make_vehicle(26, in_stock_on=today - timedelta(days=30))
    photographed.first_photo_at = now_utc() - timedelta(days=26)
    waiting = make_vehicle(27, in_stock_on=today - timedelta(days=5))
    coming = make_vehicle(28, in_stock_on=None, status="in_transit")
    db.session.commit()

    page = client.get("/inventory/").get_data(as_text=True)

    def cell(vehicle: Vehicle) -> str:
        row = re.search(rf'<tr data-vehicle="{vehicle.id}">(.*?)</tr>', page, re.S).group(1)
        found = re.search(r'<td data-label="Days to photo">(.*?)</td>', row, re.S).group(1)
        return re.sub(r"<[^>]+>", "", found).strip()

    assert "<th>Days to photo</th>" in page
    assert cell(photographed) == "4"
    assert cell(waiting) == "no photos yet"
    assert cell(coming) == "—"  # not on the lot: nothing to photograph yet


def test_list_pages_with_a_constant_query_count(client, login_as):
    login_as("supervisor")
    for n in range(60):
        vehicle = make_vehicle(100 + n)
        if n % 2:  # half photographed: the days to photo come from the vehicle's own row
            vehicle.first_photo_at = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    db.session.commit()
    counts = []
    for size in (5, 50):
        db.session.remove()
        with sql_statements() as statements:
            response = client.get(f"/inventory/?per_page={size}&page=1")
        page = response.get_data(as_text=True)
        assert page.count("data-vehicle=") == size
        assert page.count('data-label="Days to photo"') == size
        counts.append(len(statements))
    assert counts[0] == counts[1]
    second = client.get("/inventory/?per_page=50&page=2").get_data(as_text=True)
    assert second.count("data-vehicle=") == 10 and "Page 2 of 2" in second


def test_status_change_sets_and_clears_sold_at(client, login_as):
    login_as("webmaster")
    vehicle = make_vehicle(30)
    response = client.post(f"/inventory/{vehicle.id}/status", data={"status": "sold"})
    assert response.status_code == 303
    db.session.expire_all()
    assert vehicle.status == "sold" and vehicle.sold_at is not None
    client.post(f"/inventory/{vehicle.id}/status", data={"status": "available"})
    db.session.expire_all()
    assert vehicle.status == "available" and vehicle.sold_at is None
    assert (
        client.post(f"/inventory/{vehicle.id}/status", data={"status": "gone"}).status_code == 400
    )
    assert client.post("/inventory/999999/status", data={"status": "sold"}).status_code == 404


def test_status_change_returns_to_the_list_only_on_this_site(client, login_as):
    login_as("supervisor")
    vehicle = make_vehicle(31)
    local = client.post(
        f"/inventory/{vehicle.id}/status", data={"status": "pending", "next": "/inventory/?q=x"}
    )
    assert local.headers["Location"] == "/inventory/?q=x"
    away = client.post(
        f"/inventory/{vehicle.id}/status", data={"status": "pending", "next": "https://evil.test/"}
    )
    assert away.headers["Location"] == f"/inventory/{vehicle.id}"


def test_sold_vehicle_days_stop_at_the_sale(app):
    vehicle = make_vehicle(32, in_stock_on=date(2026, 1, 1))
    services.change_status(vehicle.id, "sold", now=now_utc().replace(year=2026, month=1, day=11))
    assert services.days_in_stock(vehicle, date(2026, 6, 1)) == 10


# --- who may do what -------------------------------------------------------------------------

# fmt: off
PAGES = [
    # method, url                       anon  supervisor  advisor  webmaster  admin
    ("GET",  "/inventory/",              302,  200,        200,     200,       200),
    ("GET",  "/inventory/{vehicle}",     302,  200,        200,     200,       200),
    ("GET",  "/inventory/new",           302,  200,        403,     200,       200),
    ("GET",  "/inventory/{vehicle}/edit", 302, 200,        403,     200,       200),
    ("POST", "/inventory/{vehicle}/status", 302, 303,      403,     303,       303),
    ("GET",  "/inventory/decode?vin=x",  302,  200,        403,     200,       200),
    ("GET",  "/inventory/import",        302,  200,        403,     200,       200),
    ("GET",  "/inventory/{vehicle}/nope", 404, 404,        404,     404,       404),
]
# fmt: on
ROLES = [None, "supervisor", "advisor", "webmaster", "admin"]


@pytest.mark.parametrize("role_index, role", list(enumerate(ROLES)))
def test_role_table(client, login_as, role_index, role):
    vehicle = make_vehicle(40)
    if role:
        login_as(role)
    for method, url, *expected in PAGES:
        url = url.format(vehicle=vehicle.id)
        response = client.open(url, method=method, data={"status": "available"})
        assert response.status_code == expected[role_index], f"{role} {method} {url}"


def test_inventory_forms_need_the_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        user = create_user("boss@example.com", "supervisor", "Boss", "password123")
        vehicle = make_vehicle(50)
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        signed_in = client.post(
            "/login", data={"email": user.email, "password": "password123", "csrf_token": token}
        )
        assert signed_in.status_code == 302
        for url, data in (
            ("/inventory/new", form()),
            (f"/inventory/{vehicle.id}/status", {"status": "sold"}),
            ("/inventory/import", {}),
            ("/inventory/import/1", {"action": "apply"}),
        ):
            response = client.post(url, data=data)
            assert response.status_code == 400, url
            assert "The form expired" in response.get_data(as_text=True)
        assert services.get_vehicle(vehicle.id).status == "available"
        assert db.session.scalar(select(func.count(Vehicle.id))) == 1
