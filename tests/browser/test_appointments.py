"""The advisor's board on a phone (mark a visit shown), and a customer self-scheduling a slot."""

from __future__ import annotations

import re

import pytest
from appointments.helpers import EVERY_DAY, TORONTO, FakeMail, begun, local, next_weekday
from builders import ingest
from playwright.sync_api import Page, expect

from dealer_leads.admin.models import Dealership
from dealer_leads.appointments import notify, services
from dealer_leads.appointments.models import Appointment
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _showroom(make_user):
    db.session.add(
        Dealership(
            name="Maple Ridge Motors",
            street="1200 Lakeshore Blvd W",
            city="Toronto",
            region="ON",
            timezone="America/Toronto",
            business_hours={**EVERY_DAY, "sun": None},
            department_emails={},
            holidays=[],
        )
    )
    ensure_default_plans()
    db.session.commit()
    advisor = make_user("advisor", name="Ana Lindqvist")
    lead = db.session.get(Lead, ingest().lead_id)
    lead.assigned_to_id = advisor.id
    db.session.commit()
    return advisor, lead


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill("password123")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(?!login).*"))


def _fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_advisor_marks_a_visit_shown_on_a_phone(
    app, open_page, make_user, browser_problems, artifacts_dir
):
    advisor, lead = _showroom(make_user)
    day = next_weekday(days=1)
    booking = services.Booking(advisor.id, local(day, 10, 30), 60, "test_drive")
    appointment = services.book_appointment(None, lead.id, booking, mailer=FakeMail())
    day = begun(appointment)  # the customer is in: "Shown" is offered from an hour before
    clock = appointment.starts_at.astimezone(TORONTO).strftime("%H:%M")
    customer, email, appointment_id = lead.customer.name, advisor.email, appointment.id
    db.session.commit()
    db.session.close()  # SQLite: the live server writes

    page = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    _sign_in(page, email)
    page.goto(f"/appointments?day={day.isoformat()}")
    card = page.locator(f"#appointment-{appointment_id}")
    expect(card).to_contain_text(customer)
    expect(card).to_contain_text(clock)
    expect(card.get_by_role("link", name="Call")).to_have_attribute("href", re.compile(r"^tel:\+1"))
    expect(card.get_by_role("link", name="Text")).to_have_attribute("href", re.compile(r"^sms:"))
    assert _fits_the_screen(page)
    shown = card.get_by_role("button", name="Shown")
    box = shown.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a thumb can hit it
    page.screenshot(path=artifacts_dir / "appointments-board-phone.png", full_page=True)
    shown.tap()
    expect(page.locator(".flash-success")).to_contain_text("Marked shown")
    card = page.locator(f"#appointment-{appointment_id}")
    expect(card).to_have_attribute("data-status", "shown")
    expect(card.locator(".appt-status")).to_have_text("shown")
    assert _fits_the_screen(page)
    assert browser_problems == []
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).status == "shown"


def test_customer_books_a_slot_from_the_link(
    app, open_page, make_user, browser_problems, artifacts_dir
):
    advisor, lead = _showroom(make_user)
    link = re.sub(r"^https?://[^/]+", "", notify.booking_url(lead.id, now_utc()))
    db.session.commit()
    db.session.close()

    page = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Choose a time")
    expect(page.locator("body")).to_contain_text("Ana Lindqvist")
    assert _fits_the_screen(page)
    page.locator("select[name=kind]").select_option("appraisal")
    slot = page.locator("button[data-slot]").nth(2)
    chosen, label = slot.get_attribute("data-slot"), slot.inner_text()
    page.screenshot(path=artifacts_dir / "appointments-choose-phone.png", full_page=True)
    slot.tap()
    expect(page.locator("#booked")).to_contain_text(label)
    expect(page.locator("#booked")).to_contain_text("Ana Lindqvist")
    assert browser_problems == []
    with app.app_context():
        made = db.session.scalar(db.select(Appointment))
        assert made.starts_at.isoformat() == chosen and made.kind == "appraisal"
        assert made.booked_via == "customer"
