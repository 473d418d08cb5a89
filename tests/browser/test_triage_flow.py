"""A web inquiry reaches the supervisor's queue, who assigns it and logs the first call."""

from __future__ import annotations

import re
import time

import pytest
from builders import ingest, lead_json
from playwright.sync_api import Page, expect

from dealer_leads.extensions import db

pytestmark = pytest.mark.browser

CUSTOMER = "Renata Kowalczyk"
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in CSS pixels


def sign_in(page: Page, email: str, password: str = "password123") -> None:
    """Sign in through the real form and land on the queue."""
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead queue")
    page.wait_for_load_state()  # the heading can be there before the stylesheet


def send_inquiry(page: Page, min_fill_seconds: float) -> None:
    """Fill the public form as a customer would and send it."""
    page.goto("/inquiry")
    first, last = CUSTOMER.split()
    page.locator("input[name=first_name]").fill(first)
    page.locator("input[name=last_name]").fill(last)
    page.locator("input[name=email]").fill("renata.k@example.com")
    page.locator("input[name=phone]").fill("(416) 555-0142")
    page.locator("select[name=interest]").select_option(label="A test drive")
    page.locator("select[name=condition]").select_option(label="Used")
    page.locator("input[name=year]").fill("2022")
    page.locator("input[name=make]").fill("Toyota")
    page.locator("input[name=model]").fill("RAV4")
    page.locator("textarea[name=comments]").fill("Is the grey RAV4 still there? Saturday works.")
    time.sleep(min_fill_seconds)  # the form refuses posts faster than a person can type
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")


def queue_row(page: Page):
    return page.locator("table.queue tbody tr", has_text=CUSTOMER)


def test_supervisor_triages_a_web_inquiry(
    app, open_page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor", name="Sam Fortier").email
    advisors = {
        str(user.id): user.name
        for user in (make_user("advisor", name=n) for n in ("Ana Lindqvist", "Ben Okafor"))
    }
    db.session.close()  # hold no SQLite lock while the server writes

    desk = open_page()
    sign_in(desk, supervisor)
    expect(desk.get_by_text("No leads match.")).to_be_visible()

    send_inquiry(open_page(), app.config["INQUIRY_MIN_FILL_SECONDS"])

    # The new lead waits with a live clock: sixteen minutes later it reads so, in red.
    desk.clock.install()
    desk.reload()
    row = queue_row(desk)
    expect(row).to_have_class(re.compile(r"\bawaiting\b"))
    clock = row.locator(".clock[data-since]")
    expect(clock).to_have_text(re.compile(r"^\d+ min$"))
    desk.clock.fast_forward("16:00")
    expect(clock).to_have_text(re.compile(r"^1[67] min$"))
    expect(clock).to_have_class(re.compile(r"\blate\b"))
    expect(row.locator("td[data-label=Status]")).to_have_text("new")

    row.get_by_role("link", name=CUSTOMER).click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text(CUSTOMER)
    expect(desk.locator(".page-head .clock")).to_contain_text("waiting")

    # Round robin may have given the lead to one advisor already: hand it to the other.
    assign = desk.locator("form[action$='/assign']")
    current = assign.locator("select[name=advisor_id]").input_value()
    advisor_id, advisor = next((key, name) for key, name in advisors.items() if key != current)
    assign.locator("select[name=advisor_id]").select_option(advisor_id)
    assign.get_by_role("button", name="Assign").click()
    expect(desk.locator(".flash-success")).to_have_text("Assigned.")

    call = desk.locator("form[action$='/call']")
    call.locator("select[name=outcome]").select_option(label="Reached the customer")
    call.locator("textarea[name=notes]").fill("Test drive Saturday 10:00")
    call.get_by_role("button", name="Log call").click()
    expect(desk.locator(".flash-success")).to_have_text("Call logged.")

    timeline = desk.locator("ol.timeline")
    expect(timeline.locator(".event-assigned").last).to_contain_text(f"to {advisor}")
    expect(timeline.locator(".event-call")).to_contain_text(
        "Call: Reached the customer — Test drive Saturday 10:00"
    )
    expect(timeline.locator(".event-status")).to_contain_text("new → contacted")
    expect(desk.locator(".page-head .status")).to_have_text("contacted")
    expect(desk.locator(".page-head")).to_contain_text(re.compile(r"answered in \d+ min"))
    desk.wait_for_load_state()
    desk.screenshot(path=artifacts_dir / "triage-lead.png", full_page=True)

    desk.get_by_role("link", name="Queue").click()
    row = queue_row(desk)
    expect(row.locator(".answered")).to_have_text(re.compile(r"^\d+ min$"))
    expect(row.locator(".clock")).to_have_count(0)
    expect(row.locator("td[data-label=Status]")).to_have_text("contacted")
    expect(row.locator("td[data-label=Advisor]")).to_have_text(advisor)
    desk.wait_for_load_state()
    desk.screenshot(path=artifacts_dir / "triage-queue.png", full_page=True)

    assert browser_problems == []


def overflow(page: Page) -> int:
    """How many pixels the document is wider than the window (0 when nothing sticks out)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_queue_fits_a_phone_and_its_menu_opens(
    open_page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor").email
    lead_ids = [
        ingest(lead_json(comments="Looking for a long-range all-wheel-drive hybrid " * 3)).lead_id
        for _ in range(3)
    ]
    db.session.close()  # hold no SQLite lock while the server writes

    # Not is_mobile: a mobile viewport would zoom out to fit wide content and hide overflow.
    phone = open_page(viewport=PHONE, has_touch=True)
    sign_in(phone, supervisor)
    expect(phone.locator("table.queue tbody tr")).to_have_count(3)
    assert overflow(phone) <= 0, "the queue is wider than a 390 px phone"

    nav, burger = phone.locator("nav.nav"), phone.locator("label.nav-burger")
    expect(nav).to_be_hidden()
    burger.click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Needs review")).to_be_visible()
    assert overflow(phone) <= 0, "the open menu is wider than the phone"
    phone.screenshot(path=artifacts_dir / "queue-phone.png", full_page=True)
    burger.click()
    expect(nav).to_be_hidden()

    for path in (f"/leads/{lead_ids[0]}", "/leads/new", "/inquiry"):
        phone.goto(path)
        assert overflow(phone) <= 0, f"{path} is wider than a 390 px phone"

    assert browser_problems == []
