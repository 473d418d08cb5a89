"""The customer database: search, history, and the export that leaves out opted-out channels."""

from __future__ import annotations

import csv
import io
import re

from support import login

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.extensions import db
from dealer_leads.leads.models import LeadVehicle
from dealer_leads.messaging.models import Suppression
from dealer_leads.templating import NAVIGATION


def _export(client) -> dict[str, dict[str, str]]:
    response = client.get("/customers/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    return {f"{r['first name']} {r['last name']}": r for r in rows}


def test_search_by_name_email_or_phone(client, fixed_data):
    fixed_data["L3"].customer.phone = "+14165550142"
    db.session.commit()
    login(client, fixed_data["boss"])
    html = client.get("/customers", query_string={"q": "tia"}).get_data(as_text=True)
    assert "Tia Three" in html and "Olga One" not in html
    html = client.get("/customers", query_string={"q": "olga@example"}).get_data(as_text=True)
    assert "Olga One" in html and "Tia Three" not in html
    html = client.get("/customers", query_string={"q": "555-0142"}).get_data(as_text=True)
    assert "Tia Three" in html and "Olga One" not in html
    html = client.get("/customers").get_data(as_text=True)
    assert len(re.findall(r'href="/customers/\d+"', html)) == 9  # L1-L9: a customer each
    assert client.get("/customers", query_string={"q": "x" * 101}).status_code == 400
    assert client.get("/customers", query_string={"page": "0"}).status_code == 400


def test_history_shows_leads_appointments_and_purchases(client, fixed_data):
    lead = fixed_data["L2"]
    db.session.add(LeadVehicle(lead_id=lead.id, year=2025, make="Honda", model="CR-V"))
    db.session.commit()
    login(client, fixed_data["boss"])
    html = client.get(f"/customers/{lead.customer_id}").get_data(as_text=True)
    assert "Tom Two" in html and "Purchases (1)" in html and "2025 Honda CR-V" in html
    assert "Appointments (1)" in html and "Leads (1)" in html and "sold Jun 05, 2026" in html
    assert client.get("/customers/999999").status_code == 404


def test_export_leaves_out_opted_out_channels(client, fixed_data):
    tia, olga = fixed_data["L3"].customer, fixed_data["L1"].customer
    tia.phone, olga.phone = "+14165550142", "+14165550199"
    db.session.add_all(
        [
            Suppression(channel="email", address="tia@example.com"),
            Suppression(channel="sms", address="+14165550199"),
        ]
    )
    db.session.commit()
    login(client, fixed_data["boss"])
    rows = _export(client)
    assert len(rows) == 8  # nine customers, two of them named Finn Five
    assert (rows["Tia Three"]["email"], rows["Tia Three"]["phone"]) == ("", "+14165550142")
    assert rows["Tia Three"]["opted out of"] == "email"
    assert (rows["Olga One"]["email"], rows["Olga One"]["phone"]) == ("olga@example.com", "")
    assert rows["Olga One"]["opted out of"] == "phone"
    assert (rows["Tom Two"]["leads"], rows["Tom Two"]["purchases"]) == ("1", "1")
    assert rows["Fay Four"]["email"] == "fay@example.com"


def test_everything_opt_out_blanks_both(client, fixed_data):
    fay = fixed_data["L4"].customer
    fay.phone = "+14165550100"
    db.session.add_all(
        [
            Suppression(channel="all", address="fay@example.com"),
            Suppression(channel="all", address="+14165550100"),
        ]
    )
    db.session.commit()
    login(client, fixed_data["boss"])
    row = _export(client)["Fay Four"]
    assert (row["email"], row["phone"], row["opted out of"]) == ("", "", "email phone")


def test_customers_are_for_the_supervisor(client, fixed_data):
    login(client, fixed_data["ana"])
    for url in (
        "/customers",
        "/customers/export.csv",
        f"/customers/{fixed_data['L1'].customer_id}",
    ):
        assert client.get(url).status_code == 403


def test_the_menu_links_the_customers_for_everyone_who_may_open_them(client, make_user):
    linked = {
        role for role, items in NAVIGATION.items() if ("customers.index", "Customers") in items
    }
    assert linked == set(SUPERVISING_ROLES) == {"supervisor", "admin"}
    login(client, make_user("admin", name="Ada Admin"))
    page = client.get("/customers")
    assert page.status_code == 200
    nav = page.get_data(as_text=True).split('<nav class="nav">', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/customers" aria-current="page">Customers</a>' in nav


def test_merged_customers_are_left_out_and_search_is_escaped(client, fixed_data):
    finn_twice = fixed_data["L6"].customer
    finn_twice.merged_into_id = fixed_data["L5"].customer_id
    db.session.commit()
    login(client, fixed_data["boss"])
    html = client.get("/customers", query_string={"q": "finn"}).get_data(as_text=True)
    assert len(re.findall(r'href="/customers/\d+"', html)) == 1
    assert client.get(f"/customers/{finn_twice.id}").status_code == 404
    exported = client.get("/customers/export.csv").get_data(as_text=True)
    ids = [row["customer id"] for row in csv.DictReader(io.StringIO(exported))]
    assert len(ids) == 8 and str(finn_twice.id) not in ids
    hostile = "<script>alert(1)</script>"
    html = client.get("/customers", query_string={"q": hostile}).get_data(as_text=True)
    assert hostile not in html and "&lt;script&gt;" in html
