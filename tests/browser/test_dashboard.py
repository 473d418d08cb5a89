"""The supervisor opens the dashboard in a real browser: figures, date range, CSV, goals.

Screenshots are kept in test-artifacts/ (git-ignored): dashboard.png and dashboard-phone.png.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from dealer_leads.appointments.models import Appointment
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill("password123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead queue")


def _leads(advisor) -> None:
    """Three sales leads of the last days: answered in 3 and 20 minutes, and one never."""
    now = now_utc()
    rows = [
        ("Autotrader", timedelta(days=2), timedelta(minutes=3), "appointment"),
        ("Cars.com", timedelta(days=3), timedelta(minutes=20), "contacted"),
        ("Cars.com", timedelta(days=1), None, "new"),
    ]
    for n, (source, age, answered_after, status) in enumerate(rows, 1):
        received = now - age
        lead = Lead(
            customer=Customer(first_name="Client", last_name=f"Number{n}"),
            channel="api",
            source=source,
            status=status,
            assigned_to_id=advisor.id,
            received_at=received,
            last_activity_at=received,
            first_response_at=received + answered_after if answered_after else None,
        )
        db.session.add(lead)
        db.session.flush()
        if status == "appointment":
            starts = now + timedelta(days=1)
            db.session.add(
                Appointment(lead_id=lead.id, advisor_id=advisor.id, starts_at=starts,
                            ends_at=starts + timedelta(hours=1), uid=f"browser-{lead.id}")
            )  # fmt: skip
    db.session.commit()


def test_supervisor_reads_the_dashboard(open_page, make_user, browser_problems, artifacts_dir):
    supervisor = make_user("supervisor", name="Sam Fortier").email
    _leads(make_user("advisor", name="Ana Lindqvist"))
    db.session.close()  # hold no SQLite lock while the server writes

    desk = open_page()
    sign_in(desk, supervisor)
    desk.get_by_role("link", name="Dashboard").first.click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(desk.locator(".kpi-leads")).to_have_text("3")
    expect(desk.locator(".kpi-median")).to_have_text("12 min")  # (3 + 20) / 2, rounded
    expect(desk.locator(".kpi-unanswered")).to_have_text("1")
    expect(desk.locator("table.unanswered")).to_contain_text("Client Number3")
    expect(desk.locator("table.funnel-source tbody tr").first).to_contain_text("Cars.com")
    expect(desk.locator("svg.chart").first).to_be_visible()

    # The date range: a week long ago has no leads; the preset brings the last 30 days back.
    desk.locator("input[name=from]").fill("2024-01-01")
    desk.locator("input[name=to]").fill("2024-01-07")
    desk.get_by_role("button", name="Show").click()
    expect(desk.locator(".kpi-leads")).to_have_text("0")
    desk.get_by_role("link", name="Last 30 days").click()
    expect(desk.locator(".kpi-leads")).to_have_text("3")

    # A table as CSV, downloaded by the browser.
    with desk.expect_download() as download:
        desk.locator("#speed .section-head", has_text="By source").get_by_role(
            "link", name="CSV"
        ).click()
    path = download.value.path()
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][0] == "source" and [r[0] for r in rows[1:]] == ["Autotrader", "Cars.com"]

    # Goals for the month, then their progress bars on the dashboard.
    desk.get_by_role("link", name="Set goals").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Objectives for")
    desk.get_by_label("Appointments set: team").fill("4")
    desk.get_by_label("Appointments set: Ana Lindqvist").fill("2")
    desk.get_by_role("button", name="Save goals").click()
    expect(desk.locator(".flash-success")).to_contain_text("Saved 2 goals")
    desk.get_by_role("link", name="Back to the dashboard").click()
    bars = desk.locator("#objectives svg.progress")
    expect(bars).to_have_count(2)
    expect(bars.first).to_have_attribute("aria-label", re.compile(r"team: 1 of 4$"))
    desk.wait_for_load_state()
    desk.screenshot(path=artifacts_dir / "dashboard.png", full_page=True)

    phone = open_page(viewport=PHONE, has_touch=True)
    sign_in(phone, supervisor)
    phone.goto("/dashboard")
    expect(phone.locator(".kpi-leads")).to_have_text("3")
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    assert phone.evaluate(overflow) <= 0  # wide tables scroll inside their frames
    phone.wait_for_load_state()
    phone.screenshot(path=artifacts_dir / "dashboard-phone.png", full_page=True)

    assert browser_problems == []
