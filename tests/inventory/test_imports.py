"""DMS imports: preview, apply, idempotence, complete lists, partial and failed imports, CLI."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from support import csrf_token, login, login_with_csrf

from dealer_leads.auth.services import create_user
from dealer_leads.extensions import db
from dealer_leads.inventory import imports, services
from dealer_leads.inventory.models import InventoryImport, Vehicle
from dealer_leads.inventory.vin import check_digit

LADA = "XTAGFK330JY144213"
HEADER = (
    "Stock #,VIN,Year,Make,Model,Mileage,Internet Price,Status,Date In Stock,Options,Description"
)
NO_STATUS = HEADER.replace(",Status,", ",")


def vin_for(serial: int) -> str:
    draft = f"5FNRL6H80RB{serial:06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


def line(n: int, **cells: str) -> str:
    values = {
        "stock": f"H{n:04d}",
        "vin": vin_for(n),
        "year": "2024",
        "make": "Honda",
        "model": "Odyssey",
        "km": "12,000",
        "price": "$45,995",
        "status": "In Stock",
        "date": "01/15/2026",
        "options": "Sunroof|Tow package",
        "description": f"Unit {n}",
    }
    values |= cells  # a cell given as None leaves its column out (see NO_STATUS)
    return ",".join(
        f'"{value}"' if "," in value else value for value in values.values() if value is not None
    )


def csv_file(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def count(model=Vehicle) -> int:
    return db.session.scalar(select(func.count(model.id)))


def run(raw: bytes, *, complete: bool = False, **kwargs) -> InventoryImport:
    record = imports.preview_import(raw, "stock.csv")
    return imports.apply_import(record.id, complete=complete, user=None, **kwargs)


# --- preview ---------------------------------------------------------------------------------


def test_preview_stores_the_file_and_lists_row_errors(app):
    raw = csv_file(line(1), line(2, year="20X4", price="call us"), line(3, vin="1HGCM82633A004353"))
    record = imports.preview_import(raw, "stock.csv")
    assert record.raw == raw and record.status == "previewed"
    assert record.mapping["Internet Price"] == "price" and record.mapping["Mileage"] == "odometer"
    assert (record.rows_total, record.rows_failed) == (3, 2)
    assert {(e["row"], e["field"]) for e in record.errors} == {
        (3, "year"),
        (3, "price"),
        (4, "vin"),
    }
    assert count() == 0  # a preview changes nothing
    preview = imports.get_import_preview(record.id)
    assert preview.plan.counts == {"create": 1, "error": 2}


def test_refused_files_store_nothing(app):
    for raw, message in (
        (b"PK\x03\x04rest", "spreadsheet workbook"),
        (HEADER.encode() + b"\n", "no vehicles"),
        (b"VIN,Make\n\xff\xfe\x81\x00", "binary"),
    ):
        with pytest.raises(imports.InvalidImport, match=message):
            imports.preview_import(raw, "bad.csv")
    assert count(InventoryImport) == 0


# --- apply -----------------------------------------------------------------------------------


def test_apply_creates_then_a_rerun_changes_nothing(app):
    raw = csv_file(line(1), line(2))
    first = run(raw)
    assert (first.status, first.rows_created, first.rows_updated, first.rows_failed) == (
        "applied",
        2,
        0,
        0,
    )
    vehicle = services.get_vehicle_by_vin(vin_for(1))
    assert vehicle.price == Decimal("45995.00") and vehicle.odometer == 12000
    assert vehicle.options == ["Sunroof", "Tow package"] and vehicle.in_stock_on == date(
        2026, 1, 15
    )
    stamp = vehicle.updated_at

    again = run(raw, complete=True)
    assert (again.rows_created, again.rows_updated, again.marked_sold) == (0, 0, 0)
    db.session.expire_all()
    assert services.get_vehicle_by_vin(vin_for(1)).updated_at == stamp
    assert count() == 2


def test_changed_rows_update_and_empty_cells_leave_values(app):
    run(csv_file(line(1)))
    updated = run(csv_file(line(1, price="43995", description="")))
    assert (updated.rows_created, updated.rows_updated) == (0, 1)
    vehicle = services.get_vehicle_by_vin(vin_for(1))
    assert vehicle.price == Decimal("43995.00") and vehicle.description == "Unit 1"


def test_a_complete_import_marks_missing_vehicles_sold(app):
    run(csv_file(line(1), line(2), line(3)))
    hidden = services.save_vehicle({"vin": vin_for(9), "status": "hidden"})
    record = run(csv_file(line(1), line(3)), complete=True)
    assert (record.status, record.complete, record.marked_sold) == ("applied", True, 1)
    gone = services.get_vehicle_by_vin(vin_for(2))
    assert gone.status == "sold" and gone.sold_at is not None
    assert services.get_vehicle_by_vin(vin_for(1)).status == "available"
    assert services.get_vehicle_by_vin(hidden.vin).status == "hidden"  # not in stock: untouched
    assert run(csv_file(line(1), line(3)), complete=True).marked_sold == 0  # idempotent


@pytest.mark.parametrize(
    ("header", "status"),
    [(NO_STATUS, None), (HEADER, ""), (HEADER, "In Stock")],
    ids=["no status column", "status cell empty", "status available"],
)
def test_a_vehicle_an_import_sold_is_back_in_stock_when_listed_again(app, header, status):
    run(csv_file(line(1, status=status), line(2, status=status), header=header))
    run(csv_file(line(1, status=status), header=header), complete=True)
    assert services.get_vehicle_by_vin(vin_for(2)).status == "sold"

    again = csv_file(line(1, status=status), line(2, status=status), header=header)
    preview = imports.get_import_preview(imports.preview_import(again, "stock.csv").id)
    assert [row.vehicle.vin for row in preview.plan.back_in_stock] == [vin_for(2)]
    record = imports.apply_import(preview.record.id, complete=True, user=None)

    assert (record.rows_updated, record.marked_sold) == (1, 0)
    back = services.get_vehicle_by_vin(vin_for(2))
    assert (back.status, back.sold_at) == ("available", None)
    assert services.get_vehicle_by_vin(vin_for(1)).status == "available"
    assert run(again, complete=True).rows_updated == 0  # nothing left to change


def test_a_sale_made_by_hand_stands_unless_the_file_says_in_stock(app):
    listed = [line(n, status=None) for n in (1, 2, 3)]
    run(csv_file(*listed, header=NO_STATUS))
    run(csv_file(*listed[:2], header=NO_STATUS), complete=True)  # the import sells #3
    sold = services.get_vehicle_by_vin(vin_for(1))
    services.change_status(sold.id, "sold", now=datetime(2026, 2, 1, 15, tzinfo=UTC))  # by hand

    quiet = run(csv_file(line(1, status=None), header=NO_STATUS))
    assert (quiet.rows_updated, services.get_vehicle_by_vin(vin_for(1)).status) == (0, "sold")

    said = run(csv_file(line(1, status="Available")))
    assert said.rows_updated == 1
    assert services.get_vehicle_by_vin(vin_for(1)).status == "available"
    assert services.get_vehicle_by_vin(vin_for(1)).sold_at is None


def test_a_sold_vin_listed_under_a_new_stock_number_is_back_in_stock(app):
    run(csv_file(line(1, status=None), header=NO_STATUS))
    vehicle = services.get_vehicle_by_vin(vin_for(1))
    services.change_status(vehicle.id, "sold")  # sold, then traded back in

    record = run(csv_file(line(1, stock="T0001", status=None), header=NO_STATUS))

    assert record.rows_updated == 1
    back = services.get_vehicle_by_vin(vin_for(1))
    assert (back.status, back.sold_at, back.stock_number) == ("available", None, "T0001")


def test_a_row_saying_sold_keeps_the_vehicle_sold(app):
    run(csv_file(line(1), line(2)))
    run(csv_file(line(1)), complete=True)
    record = run(csv_file(line(1), line(2, status="Sold")))
    assert record.rows_updated == 0 and services.get_vehicle_by_vin(vin_for(2)).status == "sold"


def test_new_vehicles_without_a_date_in_stock_are_in_stock_today(app):
    today = services.local_today()
    run(csv_file(line(1, date=""), line(2, date="", status="In Transit"), line(3)))
    assert services.get_vehicle_by_vin(vin_for(1)).in_stock_on == today
    assert services.get_vehicle_by_vin(vin_for(2)).in_stock_on is None  # not on the lot yet
    assert services.get_vehicle_by_vin(vin_for(3)).in_stock_on == date(2026, 1, 15)

    arrived = run(csv_file(line(2, date="", status="In Stock")))
    assert arrived.rows_updated == 1
    assert services.get_vehicle_by_vin(vin_for(2)).in_stock_on == today


def test_an_import_not_marked_complete_marks_nothing_sold(app):
    run(csv_file(line(1), line(2)))
    assert run(csv_file(line(1))).marked_sold == 0
    assert services.get_vehicle_by_vin(vin_for(2)).status == "available"


def test_a_partial_import_applies_good_rows_and_marks_nothing_sold(app):
    run(csv_file(line(1), line(2), line(3)))
    record = run(csv_file(line(1, price="41995"), line(4), line(5, year="soon")), complete=True)
    assert (record.status, record.rows_created, record.rows_updated) == ("partial", 1, 1)
    assert (record.rows_failed, record.marked_sold) == (1, 0)
    assert record.errors == [{"row": 4, "field": "year", "message": "must be a whole number"}]
    assert services.get_vehicle_by_vin(vin_for(2)).status == "available"
    assert services.get_vehicle_by_vin(vin_for(1)).price == Decimal("41995.00")
    with pytest.raises(services.VehicleNotFound):
        services.get_vehicle_by_vin(vin_for(5))


def test_a_failed_import_changes_nothing(app, monkeypatch):
    run(csv_file(line(1)))
    calls = []

    def broken(vehicle, cleaned, *, now):
        calls.append(vehicle)
        if len(calls) == 2:
            raise OperationalError("UPDATE vehicles", {}, Exception("disk I/O error"))
        return real(vehicle, cleaned, now=now)

    real = imports.apply_values
    monkeypatch.setattr(imports, "apply_values", broken)
    record = imports.preview_import(csv_file(line(1, price="1"), line(2), line(3)), "stock.csv")
    with pytest.raises(imports.ImportFailed, match="changed nothing"):
        imports.apply_import(record.id, complete=True, user=None)
    db.session.expire_all()
    assert count() == 1 and services.get_vehicle_by_vin(vin_for(1)).price == Decimal("45995.00")
    failed = db.session.get(InventoryImport, record.id)
    assert failed.status == "failed" and "disk I/O error" in failed.errors[0]["message"]


def test_rows_without_vin_match_by_stock_number(app):
    run(csv_file(line(1), line(2)))
    record = run(csv_file(line(1, vin="", price="39995"), line(7, vin="")))
    assert (record.rows_updated, record.rows_failed) == (1, 1)
    assert services.get_vehicle_by_vin(vin_for(1)).price == Decimal("39995.00")
    assert "no vehicles have stock # H0007" in record.errors[0]["message"]


def test_a_vin_twice_in_the_file_is_an_error(app):
    record = run(csv_file(line(1), line(1, stock="X1")))
    assert record.rows_created == 1 and record.errors[0] == {
        "row": 3,
        "field": "vin",
        "message": "is also on row 2",
    }


def test_formula_cells_are_stored_as_text_and_flagged(app):
    raw = csv_file(line(1, description="=cmd|' /C calc'!A0", model="@SUM(1+1)"))
    record = imports.preview_import(raw, "stock.csv")
    plan = imports.get_import_preview(record.id).plan
    assert plan.formula_cells == 2 and plan.rows[0].read.formulas["Description"].startswith("=cmd")
    imports.apply_import(record.id, complete=False, user=None)
    vehicle = services.get_vehicle_by_vin(vin_for(1))
    assert vehicle.description == "=cmd|' /C calc'!A0" and vehicle.model == "@SUM(1+1)"


def test_vins_without_check_digit_need_acceptance(app):
    raw = csv_file(line(1), line(2, vin=LADA, make="Lada"))
    refused = run(raw)
    assert (
        refused.rows_failed == 1
        and "Accept VINs without a check digit" in refused.errors[0]["message"]
    )
    accepted = run(raw, accept_vin_warnings=True)
    assert accepted.rows_created == 1 and services.get_vehicle_by_vin(LADA).vin_override
    assert run(raw).rows_failed == 0  # confirmed once: the next import takes it


def test_a_changed_mapping_is_previewed_before_it_is_applied(app):
    record = imports.preview_import(csv_file(line(1)), "stock.csv")
    mapping = dict(record.mapping) | {"Description": "", "Model": "trim"}
    with pytest.raises(imports.MappingChanged):
        imports.apply_import(record.id, complete=False, user=None, mapping=mapping)
    assert count() == 0 and db.session.get(InventoryImport, record.id).mapping == {
        k: v for k, v in mapping.items() if v
    }
    imports.apply_import(record.id, complete=False, user=None, mapping=mapping)
    vehicle = services.get_vehicle_by_vin(vin_for(1))
    assert (vehicle.trim, vehicle.model, vehicle.description) == ("Odyssey", "", "")
    with pytest.raises(imports.InvalidImport, match="applied already"):
        imports.apply_import(record.id, complete=False, user=None)


def test_a_mapping_given_by_hand_overrides_the_suggestion(app):
    record = imports.preview_import(
        csv_file(line(1)), "stock.csv", {"Mileage": "", "Model": "trim"}
    )
    assert "Mileage" not in record.mapping and record.mapping["Model"] == "trim"
    with pytest.raises(imports.InvalidImport) as refused:
        imports.preview_import(csv_file(line(1)), "stock.csv", {"Nope": "make"})
    assert "not a column" in refused.value.fields["Nope"]


# --- the pages -------------------------------------------------------------------------------


def upload(client, raw: bytes, name: str = "stock.csv"):
    return client.post(
        "/inventory/import",
        data={"file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
    )


def test_upload_preview_and_apply_through_the_pages(client, login_as):
    login_as("supervisor")
    run(csv_file(line(1), line(2)))
    response = upload(client, csv_file(line(1), line(3, price="=1+1")))
    assert response.status_code == 303
    preview_url = response.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert 'name="map:Internet Price"' in page and "Looks like a formula" in page
    assert "must be an amount" in page and "In stock, not in this file" in page
    form = {"action": "apply", "complete": "y"}
    form |= {f"map:{column}": field for column, field in _mapping(preview_url).items()}
    done = client.post(preview_url, data=form, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Rows with errors were skipped; nothing was marked sold." in page
    assert services.get_vehicle_by_vin(vin_for(2)).status == "available"


def _mapping(preview_url: str) -> dict[str, str]:
    import_id = int(preview_url.rstrip("/").rsplit("/", 1)[1])
    return dict(db.session.get(InventoryImport, import_id).mapping)


def test_remap_then_complete_import_through_the_pages(client, login_as):
    login_as("webmaster")
    run(csv_file(line(1), line(2)))
    preview_url = upload(client, csv_file(line(1))).headers["Location"]
    mapping = {f"map:{column}": field for column, field in _mapping(preview_url).items()}
    mapping["map:Description"] = ""
    remapped = client.post(preview_url, data=mapping | {"action": "remap"})
    assert remapped.status_code == 303
    assert "Description" not in _mapping(preview_url)
    done = client.post(preview_url, data=mapping | {"action": "apply", "complete": "y"})
    assert done.status_code == 303
    page = client.get(preview_url).get_data(as_text=True)
    assert "Marked sold</dt><dd>1 (complete stock list)" in page
    assert services.get_vehicle_by_vin(vin_for(2)).status == "sold"
    listing = client.get("/inventory/import").get_data(as_text=True)
    assert "stock.csv" in listing and "complete list" in listing
    relisted = upload(client, csv_file(line(1), line(2, status=""))).headers["Location"]
    assert "Sold, back in stock</dt><dd>1" in client.get(relisted).get_data(as_text=True)


def test_a_bad_upload_is_refused_on_the_page(client, login_as):
    login_as("admin")
    response = upload(client, "Stock,VIN\n".encode("utf-16") + b"\x00\xd8", "stock.xlsx")
    assert response.status_code == 422
    assert "not UTF-8, UTF-16 or Windows-1252" in response.get_data(as_text=True)
    response = client.post("/inventory/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in response.get_data(as_text=True)
    assert count(InventoryImport) == 0


def _big_file(rows: int) -> bytes:
    """About 1.6 KB a row: a DMS export with its descriptions."""
    return csv_file(*(line(n, description=f"Unit {n} " + "clean " * 260) for n in range(rows)))


def test_the_page_takes_files_over_the_request_limit_up_to_its_own(app_factory):
    app = app_factory(MAX_CONTENT_LENGTH=20_000, MAX_IMPORT_BYTES=200_000)
    client = app.test_client()
    with app.app_context():
        login(client, create_user("web@example.com", "webmaster", "Web", "password123"))
        raw = _big_file(40)
        assert 20_000 < len(raw) < 200_000

        response = upload(client, raw)

        assert response.status_code == 303, response.get_data(as_text=True)
        record = db.session.scalars(select(InventoryImport)).one()
        assert record.raw == raw and record.rows_total == 40
        assert "Up to 195.3 KiB here" in client.get("/inventory/import").get_data(as_text=True)


def test_a_file_over_the_import_limit_is_refused_and_nothing_stored(app_factory):
    app = app_factory(MAX_IMPORT_BYTES=100_000)
    client = app.test_client()
    with app.app_context():
        login(client, create_user("web@example.com", "webmaster", "Web", "password123"))

        response = upload(client, _big_file(80))

        assert response.status_code == 413
        page = response.get_data(as_text=True)
        assert "The file is over 97.7 KiB; import it with the command below." in page
        assert "flask inventory import FILE" in page
        assert count(InventoryImport) == 0


def test_the_import_page_checks_csrf_itself(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        login_with_csrf(client, create_user("sup@example.com", "supervisor", "S", "password123"))
        token = csrf_token(client.get("/inventory/import").get_data(as_text=True))

        refused = upload(client, csv_file(line(1)))
        assert refused.status_code == 400 and count(InventoryImport) == 0
        accepted = client.post(
            "/inventory/import",
            data={"file": (io.BytesIO(csv_file(line(1))), "stock.csv"), "csrf_token": token},
            content_type="multipart/form-data",
        )
        assert accepted.status_code == 303, accepted.get_data(as_text=True)
        assert count(InventoryImport) == 1


def test_advisors_cannot_import(client, login_as, app):
    record = imports.preview_import(csv_file(line(1)), "stock.csv")
    login_as("advisor")
    assert upload(client, csv_file(line(1))).status_code == 403
    assert client.get(f"/inventory/import/{record.id}").status_code == 403
    assert (
        client.post(f"/inventory/import/{record.id}", data={"action": "apply"}).status_code == 403
    )
    assert count() == 0


# --- the command line ------------------------------------------------------------------------


def test_cli_imports_a_file_and_prints_a_summary(runner, tmp_path):
    path = tmp_path / "dms.csv"
    path.write_bytes(csv_file(line(1), line(2)))
    result = runner.invoke(args=["inventory", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed" in result.output
    assert "'Internet Price' → Price" in result.output

    path.write_bytes(csv_file(line(1, price="40000")))
    result = runner.invoke(
        args=["inventory", "import", str(path), "--complete", "--map", "Description="]
    )
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output and "1 marked sold" in result.output
    assert "(complete stock list)" in result.output


def test_cli_reports_failed_rows_and_refused_files(runner, tmp_path):
    path = tmp_path / "dms.csv"
    path.write_bytes(csv_file(line(1), line(2, year="next")))
    result = runner.invoke(args=["inventory", "import", str(path), "--complete"])
    assert result.exit_code == 1
    assert (
        "Nothing was marked sold" in result.output
        and "row 3, year: must be a whole number" in result.output
    )

    path.write_bytes(b"PK\x03\x04 workbook")
    result = runner.invoke(args=["inventory", "import", str(path)])
    assert result.exit_code == 1 and "spreadsheet workbook" in result.output
    result = runner.invoke(args=["inventory", "import", str(path), "--map", "nonsense"])
    assert result.exit_code == 2 and "is not COLUMN=FIELD" in result.output


def test_cli_dry_run_changes_nothing(runner, tmp_path):
    path = tmp_path / "dms.csv"
    path.write_bytes(csv_file(line(1)))
    result = runner.invoke(args=["inventory", "import", str(path), "--dry-run"])
    assert result.exit_code == 0 and "1 rows, 0 failed" in result.output
    assert count() == 0
