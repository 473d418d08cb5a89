"""The supervisor edits a follow-up plan in the browser and the next lead follows the edit."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from builders import ingest, lead_json
from playwright.sync_api import Page, expect
from sqlalchemy import select

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import FollowUpPlan
from dealer_leads.extensions import db

pytestmark = pytest.mark.browser

TORONTO = ZoneInfo("America/Toronto")
TUESDAY_10AM = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)
FIRST_CALL = "First call: within 5 minutes"


def sign_in(page: Page, email: str, password: str = "password123") -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead queue")


def step_row(page: Page, title: str):
    return page.locator("tr.step").filter(has=page.locator(f'input[name=title][value="{title}"]'))


def test_supervisor_edits_a_step_and_the_next_lead_follows_it(
    page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor", name="Sam Fortier").email
    ensure_default_plans()
    db.session.close()  # hold no SQLite lock while the server writes

    sign_in(page, supervisor)
    page.goto("/plans")
    page.get_by_role("link", name="New-vehicle lead").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New-vehicle lead")
    row = step_row(page, FIRST_CALL)
    expect(row.locator("select[name=channel]")).to_have_value("call_task")
    expect(row.locator("input[name=offset]")).to_have_value("5")
    row.locator("input[name=offset]").fill("30")
    row.locator("select[name=unit]").select_option("minutes")
    page.get_by_role("button", name="Save plan").click()
    expect(page.locator(".flash-success")).to_contain_text("New-vehicle lead")
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up plans")

    lead_id = ingest(lead_json(), now=TUESDAY_10AM).lead_id  # arrives at 10:00, shop open
    db.session.close()

    page.goto(f"/leads/{lead_id}")
    call = page.locator("#follow-up li.touch", has_text=FIRST_CALL)
    expect(call.locator("time")).to_have_text("Jun 02, 10:30")
    expect(call).to_contain_text("30 min after arrival")
    expect(call).to_contain_text("Call (task)")
    page.wait_for_load_state()
    page.screenshot(path=artifacts_dir / "plan-edit-lead.png", full_page=True)
    assert browser_problems == []


def test_new_plan_rows_are_added_filtered_moved_and_removed(
    page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor").email
    ensure_default_plans()
    db.session.close()

    sign_in(page, supervisor)
    page.goto("/plans/new")
    page.locator("input[name=name]").fill("Spring event")
    rows = page.locator("#steps tbody tr.step")
    expect(rows).to_have_count(0)  # the spare row is for pages without the script
    add = page.get_by_role("button", name="Add a step")
    for _ in range(3):
        add.click()
    expect(rows).to_have_count(3)

    first = rows.nth(0)
    first.locator("select[name=channel]").select_option("auto_sms")
    templates = first.locator("select[name=template_key]")
    expect(templates.locator("option[data-channel=sms]:not([hidden])").first).to_be_attached()
    expect(templates.locator("option[data-channel=email]:not([hidden])")).to_have_count(0)
    templates.select_option("text_intro")
    first.locator("input[name=offset]").fill("2")
    first.locator("select[name=unit]").select_option("hours")

    rows.nth(1).locator("select[name=channel]").select_option("task")
    rows.nth(1).locator("input[name=title]").fill("Remove me")
    second = rows.nth(2)
    second.locator("select[name=channel]").select_option("call_task")
    expect(second.locator("select[name=template_key] option:not([hidden])")).to_have_count(1)
    second.locator("input[name=title]").fill("Call about the event")
    second.locator("input[name=business_hours]").check()
    rows.nth(1).get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name="Move up").click()
    expect(rows.nth(0).locator("[data-number]")).to_have_text("1")
    expect(rows.nth(0).locator("input[name=title]")).to_have_value("Call about the event")
    page.wait_for_load_state()
    page.screenshot(path=artifacts_dir / "plan-new.png", full_page=True)
    page.get_by_role("button", name="Save plan").click()
    expect(page.locator(".flash-success")).to_contain_text("Spring event")

    plan = db.session.scalar(select(FollowUpPlan).where(FollowUpPlan.key == "spring_event"))
    steps = [
        (s.channel, s.offset_minutes, s.template_key, s.title, s.business_hours) for s in plan.steps
    ]
    assert steps == [
        ("call_task", 0, "", "Call about the event", True),
        ("auto_sms", 120, "text_intro", "", False),
    ]
    db.session.close()
    assert browser_problems == []
