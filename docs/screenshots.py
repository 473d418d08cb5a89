"""Screenshots of the demo dealership: `.venv/bin/python docs/screenshots.py`.

Builds a throw-away SQLite database, runs the migrations, seeds the demo through the real
services, serves the app on a loopback port and photographs the main pages with Debian's
headless Chromium (the `chromium` on PATH) into docs/screenshots/.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # config.py lives at the top of the repository

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from config import Config  # noqa: E402
from dealer_leads import create_app  # noqa: E402
from dealer_leads.extensions import db  # noqa: E402
from dealer_leads.leads.models import Lead, LeadEvent  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SUPERVISOR = "supervisor@demo.dealer"
ADVISOR = "advisor1@demo.dealer"
WEBMASTER = "webmaster@demo.dealer"
MAX_TIMELINE = 14  # a rich timeline that still fits one screenshot


def load_seed(attempts: int = 30, pause: float = 10.0):
    """dealer_leads.demo.seed.seed_demo, waiting while a colleague is still writing it."""
    for attempt in range(1, attempts + 1):
        try:
            return importlib.import_module("dealer_leads.demo.seed").seed_demo
        except (ImportError, AttributeError, SyntaxError) as error:
            if attempt == attempts:
                raise
            print(f"demo seed not importable yet ({error}); retrying in {pause:.0f} s")
            sys.modules.pop("dealer_leads.demo.seed", None)
            time.sleep(pause)
    raise AssertionError("unreachable")


def build_demo(database_url: str) -> tuple[Flask, int]:
    """A migrated, seeded app, and the lead whose timeline shows the most kinds of event."""
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        upgrade()
        load_seed()(echo=print)
        lead_id = db.session.scalar(
            select(LeadEvent.lead_id)
            .join(Lead, Lead.id == LeadEvent.lead_id)
            .where(Lead.merged_into_id.is_(None))
            .group_by(LeadEvent.lead_id)
            .having(func.count() <= MAX_TIMELINE)
            .order_by(func.count(func.distinct(LeadEvent.kind)).desc(), func.count().desc())
            .limit(1)
        )
        db.session.remove()
    return app, lead_id


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free loopback port in a daemon thread; yields its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def new_page(browser, base_url: str, problems: list[str], **options):
    """A page in a fresh context that notes console errors and requests to other origins."""
    context = browser.new_context(base_url=base_url, **{"viewport": DESKTOP, **options})
    page = context.new_page()
    page.on(
        "console",
        lambda m: m.type == "error" and problems.append(f"{page.url}: console: {m.text}"),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: uncaught: {error}"))
    page.on(
        "request",
        lambda r: r.url.startswith(base_url + "/") or problems.append(f"{page.url}: {r.url}"),
    )
    return page


def sign_in(page, email: str = SUPERVISOR) -> None:
    from dealer_leads.demo.seed import DEMO_PASSWORD

    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shoot(page, path: str, name: str, full_page: bool = False) -> None:
    page.goto(path)
    page.screenshot(path=OUT / name, full_page=full_page)
    print(f"docs/screenshots/{name}  ({path})")


def take_screenshots(browser, base_url: str, lead_id: int) -> list[str]:
    """Every screenshot, each page from a fresh context; returns what looked wrong."""
    problems: list[str] = []
    visitor = new_page(browser, base_url, problems)
    shoot(visitor, "/login", "login.png")
    shoot(visitor, "/inquiry", "inquiry.png", full_page=True)

    desk = new_page(browser, base_url, problems)
    sign_in(desk)
    shoot(desk, "/dashboard", "dashboard.png")
    shoot(desk, "/leads/", "queue.png")
    shoot(desk, f"/leads/{lead_id}", "lead.png", full_page=True)
    shoot(desk, "/leads/review", "review.png")
    shoot(desk, "/tasks", "tasks.png")
    shoot(desk, "/plans", "plans.png")
    shoot(desk, "/inventory/", "inventory.png")
    shoot(desk, "/appointments?span=week", "appointments.png")
    shoot(desk, "/mailbox", "mailbox.png")
    shoot(desk, "/customers", "customers.png")

    webmaster = new_page(browser, base_url, problems)
    sign_in(webmaster, WEBMASTER)
    webmaster.goto("/inventory/feeds")
    webmaster.get_by_role("button", name="Build now").click()  # the report comes with a build
    webmaster.wait_for_load_state()
    shoot(webmaster, "/inventory/feeds", "feeds.png")

    phone = new_page(browser, base_url, problems, viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(phone)
    shoot(phone, "/leads/", "queue-phone.png")

    advisor = new_page(browser, base_url, problems, viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(advisor, ADVISOR)
    shoot(advisor, "/appointments", "board-phone.png")
    return problems


def main() -> int:
    chromium = shutil.which("chromium")
    if not chromium:
        print("chromium not on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app, lead_id = build_demo(f"sqlite:///{Path(tmp) / 'demo.sqlite3'}")
        with serve(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            problems = take_screenshots(browser, base_url, lead_id)
            browser.close()
        with app.app_context():
            db.engine.dispose()
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
