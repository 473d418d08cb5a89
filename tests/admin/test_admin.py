"""The admin's pages: settings that drive intake, users and their state."""

from builders import ingest, lead_json

from dealer_leads.admin.models import Dealership
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

SETTINGS = {
    "name": "Lakeshore Auto",
    "street": "1 Main St",
    "city": "Leeds",
    "region": "",
    "postal_code": "LS1 1AA",
    "country": "gb",
    "phone": "",
    "email": "",
    "website": "",
    "timezone": "Europe/London",
    "duplicate_window_days": "7",
    "auto_assign": "",
    "service_email": "service@lakeshore.example",
    "parts_email": "",
    "finance_email": "",
    "compliance_regime": "CA",
    "quiet_start": "09:00",
    "quiet_end": "20:00",
    "holidays": "2026-12-25\n2026-12-26",
    **{f"hours_{day}": "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    "hours_sun": "closed",
}


def test_settings_saved_and_used_by_intake(client, login_as, make_user):
    login_as("admin")
    make_user("advisor")
    response = client.post("/admin/settings", data=SETTINGS)
    assert response.status_code == 303
    saved = db.session.scalar(db.select(Dealership))
    assert (saved.country, saved.timezone, saved.auto_assign) == ("GB", "Europe/London", False)
    assert saved.department_emails["service"] == "service@lakeshore.example"
    assert saved.business_hours["mon"] == ["09:00", "18:00"] and saved.business_hours["sun"] is None
    assert saved.holidays == ["2026-12-25", "2026-12-26"]
    lead = db.session.get(
        Lead, ingest(lead_json(customer={"first_name": "Al", "phone": "020 7946 0018"})).lead_id
    )
    assert lead.customer.phone == "+442079460018"  # read as a UK number
    assert lead.assigned_to_id is None  # round robin switched off


def test_bad_settings_are_refused_by_field(client, login_as):
    login_as("admin")
    response = client.post(
        "/admin/settings",
        data={**SETTINGS, "timezone": "Mars/Olympus", "duplicate_window_days": "900"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "not a known time zone" in page and "between 0 and 365" in page
    hours = client.post(
        "/admin/settings", data={**SETTINGS, "hours_mon": "9am-late", "holidays": "Christmas"}
    )
    assert hours.status_code == 422
    assert "write 09:00-21:00, or closed" in hours.get_data(as_text=True)
    assert "2026-12-25" in hours.get_data(as_text=True)
    assert db.session.scalar(db.select(Dealership)) is None


def test_admin_creates_and_switches_users(client, login_as):
    login_as("admin")
    created = client.post(
        "/admin/users",
        data={
            "email": "new@example.com",
            "name": "New One",
            "role": "advisor",
            "phone": "",
            "password": "long enough",
        },
    )
    assert created.status_code == 303
    user = db.session.scalar(db.select(User).where(User.email == "new@example.com"))
    changed = client.post(f"/admin/users/{user.id}", data={"role": "advisor", "active": "y"})
    assert changed.status_code == 303
    db.session.refresh(user)
    assert user.active and not user.on_shift
    bad = client.post(f"/admin/users/{user.id}", data={"role": "emperor"})
    assert bad.status_code == 400
    duplicate = client.post(
        "/admin/users",
        data={
            "email": "new@example.com",
            "name": "Again",
            "role": "advisor",
            "password": "long enough",
        },
    )
    assert duplicate.status_code == 422 and "exists already" in duplicate.get_data(as_text=True)
