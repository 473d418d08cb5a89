"""Browser fixtures: the real app on a loopback port, driven by Debian's headless Chromium.

Playwright's own browser download does not work here, so the tests launch the `chromium` found
on PATH. Without it they skip visibly, unless REQUIRE_BROWSER=1 (CI) turns the skip into a
failure.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dealer_leads import PROJECT_ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Note a failed test, so that open_page can photograph its pages before closing them."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; skip without it, or fail when REQUIRE_BROWSER=1."""
    path = shutil.which("chromium")
    if path:
        return path
    message = "chromium not on PATH (apt-get install chromium): browser tests need it"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}, and REQUIRE_BROWSER=1 is set", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser(chromium_path):
    """One headless Chromium per test module.

    Not per session on purpose: between two sync calls Playwright leaves its event loop
    marked as running in the main thread, so while it is alive any other test calling
    asyncio.run() would fail. Stopping it at the end of the module keeps later tests clean.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app served by a threaded Werkzeug server on a free loopback port; its URL.

    Built on the `app` fixture, so the test shares its database (and make_user) and the tables
    are emptied afterwards. On SQLite a transaction in the test thread takes the write lock
    (BEGIN IMMEDIATE): call db.session.close() after setting up data, before the browser acts.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def browser_problems() -> list[str]:
    """What the test's pages did that a healthy page never does; tests assert it stays empty."""
    return []


@pytest.fixture
def open_page(request, browser, live_server, browser_problems, artifacts_dir) -> Iterator[Callable]:
    """open_page(viewport={"width": 390, "height": 844}, ...): a Page in a fresh context.

    Each context has its own cookies. Every page reports console errors, uncaught exceptions
    and requests that leave the live server's origin to `browser_problems`. Contexts close
    before the server stops; when the test failed, each page is saved as
    test-artifacts/FAILED-<test>-<n>.png first.
    """
    contexts = []

    def open_(*, viewport: dict | None = None, **options):
        context = browser.new_context(base_url=live_server, viewport=viewport or DESKTOP, **options)
        contexts.append(context)
        page = context.new_page()
        _watch(page, live_server, browser_problems)
        return page

    yield open_
    failed = request.node.stash.get(FAILED, False)
    for number, context in enumerate(contexts, start=1):
        if failed:
            for page in context.pages:
                page.screenshot(path=artifacts_dir / f"FAILED-{request.node.name}-{number}.png")
        context.close()


def _watch(page, base_url: str, problems: list[str]) -> None:
    def on_console(message) -> None:
        if message.type == "error":
            problems.append(f"console error on {page.url}: {message.text}")

    def on_request(request) -> None:
        if not request.url.startswith(base_url + "/"):
            problems.append(f"request to another origin from {page.url}: {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught error on {page.url}: {error}"))
    page.on("request", on_request)


@pytest.fixture
def page(open_page):
    """A desktop-sized page (1280x900) in a fresh browser context."""
    return open_page()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (git-ignored): screenshots for people to look at."""
    path = PROJECT_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
