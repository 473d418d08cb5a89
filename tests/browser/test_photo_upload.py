"""A supervisor on the lot uploads photos from a phone, sees them processed, and reorders them."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.photo_jobs import process_pending_photos
from dealer_leads.inventory.photo_services import list_photos

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in CSS pixels


@pytest.fixture
def app(app_factory, tmp_path):
    """The served app keeps its photos in a folder of this test's own."""
    app = app_factory(PHOTOS_DIR=str(tmp_path / "photos"))
    with app.app_context():
        yield app


def lot_photo(color: tuple[int, int, int]) -> bytes:
    """A 1200x900 JPEG with a gradient, like a (very plain) phone photo."""
    image = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", image.size, color), 0.6)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill("password123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def gallery_ids(page: Page) -> list[int]:
    ids = page.locator("#gallery [data-photo-id]").evaluate_all(
        "items => items.map(item => item.dataset.photoId)"
    )
    return [int(value) for value in ids]


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_supervisor_uploads_processes_and_reorders_from_a_phone(
    open_page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor").email
    vehicle = Vehicle(
        vin="JTMW1RFV5KD012345",
        stock_number="P4412",
        year=2019,
        make="Toyota",
        model="RAV4",
        status="available",
        in_stock_on=date(2025, 3, 1),
    )
    db.session.add(vehicle)
    db.session.commit()
    vehicle_id = vehicle.id
    db.session.close()  # hold no SQLite lock while the server writes

    phone = open_page(viewport=PHONE, has_touch=True)
    sign_in(phone, supervisor)
    phone.goto(f"/inventory/{vehicle_id}/photos")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("2019 Toyota RAV4")
    expect(phone.locator("input[type=file][capture=environment]")).to_have_attribute(
        "accept", "image/*"
    )

    colors = [(220, 40, 40), (40, 160, 60), (40, 80, 220)]
    phone.locator("input[type=file]:not([capture])").set_input_files(
        [
            {"name": f"IMG_10{n}.jpg", "mimeType": "image/jpeg", "buffer": lot_photo(color)}
            for n, color in enumerate(colors)
        ]
    )

    progress = phone.locator("progress.upload-progress")
    expect(progress).to_be_visible()
    expect(phone.locator(".upload-status")).to_contain_text("Uploaded 3 of 3 photo(s).")
    assert progress.evaluate("bar => bar.value") == 100
    cards = phone.locator("#gallery [data-photo-id]")
    expect(cards).to_have_count(3)
    expect(phone.locator("#gallery [data-status=pending]")).to_have_count(3)
    expect(phone.locator("#gallery img")).to_have_count(0)
    uploaded = gallery_ids(phone)

    assert process_pending_photos() == 3  # the worker's job, run here on the same database
    db.session.close()

    expect(phone.locator("#gallery [data-status=ready]")).to_have_count(3)  # the page polls
    images = phone.locator("#gallery img")
    expect(images).to_have_count(3)
    for image in images.all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    expect(cards.first.locator(".badge", has_text="Hero")).to_be_visible()
    phone.screenshot(path=artifacts_dir / "photos-phone.png", full_page=True)

    first, second, third = uploaded
    cards.first.get_by_role("button", name="Move photo 1 down").click()
    expect(phone.locator(f"#photo-{first} .photo-number")).to_have_text("2")
    assert gallery_ids(phone) == [second, first, third]
    phone.locator(f"#photo-{third}").get_by_role("button", name="Make hero").click()
    expect(phone.locator(".flash-success")).to_contain_text("leads the listing")
    assert gallery_ids(phone) == [third, second, first]

    phone.reload()
    assert gallery_ids(phone) == [third, second, first]
    assert [photo.id for photo in list_photos(vehicle_id)] == [third, second, first]
    db.session.close()
    assert overflow(phone) <= 0, "the photos page is wider than a 390 px phone"
    assert browser_problems == []


def test_drag_and_drop_reorders_on_a_desktop(page, make_user, browser_problems):
    from dealer_leads.inventory.photo_services import add_photos

    supervisor = make_user("supervisor").email
    vehicle = Vehicle(vin="JTMW1RFV5KD054321", make="Toyota", model="RAV4", status="available")
    db.session.add(vehicle)
    db.session.commit()
    vehicle_id = vehicle.id
    files = [(f"{n}.jpg", lot_photo(color)) for n, color in enumerate([(9, 9, 9), (90, 9, 9)])]
    first, second = [photo.id for photo in add_photos(vehicle_id, files, None).stored]
    process_pending_photos()
    db.session.close()

    sign_in(page, supervisor)
    page.goto(f"/inventory/{vehicle_id}/photos")
    page.locator(f"#photo-{second}").drag_to(
        page.locator(f"#photo-{first}"), target_position={"x": 5, "y": 50}
    )

    expect(page.locator(f"#photo-{second} .photo-number")).to_have_text("1")
    assert gallery_ids(page) == [second, first]
    assert [photo.id for photo in list_photos(vehicle_id)] == [second, first]
    db.session.close()
    assert browser_problems == []


# --- a finger on a phone -----------------------------------------------------------------------


def vehicle_with_photos(
    colors, extra: tuple[str, bytes] | None = None, process: bool = True
) -> tuple[int, list[int]]:
    """A vehicle on the lot with photos (one per colour, then `extra`), processed unless told
    otherwise; the vehicle's id and the photo ids."""
    from dealer_leads.inventory.photo_services import add_photos

    vehicle = Vehicle(vin="JTMW1RFV5KD067890", make="Toyota", model="RAV4", status="available")
    db.session.add(vehicle)
    db.session.commit()
    files = [(f"lot-{n}.jpg", lot_photo(color)) for n, color in enumerate(colors)]
    if extra:
        files.append(extra)
    ids = [photo.id for photo in add_photos(vehicle.id, files, None).stored]
    if process:
        process_pending_photos()
    vehicle_id = vehicle.id
    db.session.close()
    return vehicle_id, ids


class Finger:
    """Touches the screen through Chromium's input pipeline (CDP), as a phone's touchscreen does:
    the page gets real touch and pointer events (pointerType "touch"), and the browser itself
    decides whether the gesture scrolls the page."""

    def __init__(self, page: Page):
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def _touch(self, kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "radiusX": 6, "radiusY": 6}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 15) -> None:
        self._touch("touchStart", *start)
        self.page.wait_for_timeout(80)
        for step in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * step / steps
            y = start[1] + (end[1] - start[1]) * step / steps
            self._touch("touchMove", x, y)
            self.page.wait_for_timeout(16)
        self._touch("touchEnd", *end)


def centre(page: Page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_a_finger_drags_a_photo_by_its_handle_to_a_new_place(
    open_page, make_user, browser_problems, artifacts_dir
):
    supervisor = make_user("supervisor").email
    vehicle_id, (first, second, third) = vehicle_with_photos(
        [(200, 30, 30), (30, 160, 60), (30, 60, 200)]
    )
    phone = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    sign_in(phone, supervisor)
    phone.goto(f"/inventory/{vehicle_id}/photos")
    expect(phone.locator("#gallery .drag-handle")).to_have_count(3)
    expect(phone.locator(f"#photo-{third} .drag-handle")).to_be_visible()
    assert phone.evaluate("matchMedia('(pointer: coarse)').matches")  # a touch screen

    # The first row's top just below the top of the screen: the third photo's handle, at the
    # top of the second row, is then on the screen too.
    top = phone.locator(f"#photo-{first}").bounding_box()["y"]
    phone.evaluate(f"window.scrollBy(0, {top - 120})")
    handle = centre(phone, f"#photo-{third} .drag-handle")
    first_box = phone.locator(f"#photo-{first}").bounding_box()
    onto_first = (first_box["x"] + 20, first_box["y"] + 100)  # its left half
    assert handle[1] < PHONE["height"] - 60, "the handle is off the screen or at its edge"

    Finger(phone).drag(handle, onto_first)

    expect(phone.locator(f"#photo-{third} .photo-number")).to_have_text("1")  # saved, re-drawn
    expect(phone.locator(f"#photo-{third} .badge", has_text="Hero")).to_be_visible()
    assert gallery_ids(phone) == [third, first, second]
    assert [photo.id for photo in list_photos(vehicle_id)] == [third, first, second]
    db.session.close()
    expect(phone.locator(".photo-card.lifted")).to_have_count(0)
    phone.screenshot(path=artifacts_dir / "photos-phone-dragged.png", full_page=True)
    assert browser_problems == []


def test_a_finger_elsewhere_on_a_photo_scrolls_the_page_and_moves_nothing(
    open_page, make_user, browser_problems
):
    supervisor = make_user("supervisor").email
    colors = [(20 * n, 90, 90) for n in range(6)]
    vehicle_id, ids = vehicle_with_photos(colors)
    phone = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    sign_in(phone, supervisor)
    phone.goto(f"/inventory/{vehicle_id}/photos")
    phone.locator(f"#photo-{ids[2]}").scroll_into_view_if_needed()
    before = phone.evaluate("window.scrollY")
    x, y = centre(phone, f"#photo-{ids[2]} .photo-frame")

    Finger(phone).drag((x, y), (x, y - 250))

    phone.wait_for_function(f"window.scrollY > {before + 100}")
    phone.wait_for_timeout(300)  # long enough for a wrongly saved order to reach the server
    assert [photo.id for photo in list_photos(vehicle_id)] == ids
    db.session.close()
    assert gallery_ids(phone) == ids
    assert browser_problems == []


def test_a_damaged_photo_says_why_and_is_removed_with_one_tap(
    open_page, make_user, browser_problems
):
    supervisor = make_user("supervisor").email
    truncated = ("cut.jpg", lot_photo((5, 5, 5))[:2000])
    vehicle_id, (good, damaged) = vehicle_with_photos(
        [(200, 30, 30)], extra=truncated, process=False
    )
    phone = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    sign_in(phone, supervisor)
    phone.goto(f"/inventory/{vehicle_id}/photos")
    expect(phone.locator("#gallery [data-status=pending]")).to_have_count(2)
    expect(phone.locator("#gallery-failures [role=alert]")).to_have_count(0)

    assert process_pending_photos() == 2  # the header passed; the worker finds the damage
    db.session.close()

    card = phone.locator(f"#photo-{damaged}")  # the page polls, and shows the failure
    expect(card).to_contain_text("Could not be processed")
    expect(card.locator(".photo-error")).to_contain_text("truncated")
    expect(phone.locator("#gallery-failures [role=alert]")).to_contain_text(
        "1 photo could not be processed"
    )
    expect(card.locator(".drag-handle")).to_have_count(0)
    expect(phone.locator(f"#photo-{good} .badge", has_text="Hero")).to_be_visible()

    card.get_by_role("button", name=re.compile("Remove photo 2")).tap()  # no dialog to confirm

    expect(phone.locator(".flash-success")).to_contain_text("Photo deleted")
    expect(phone.locator(f"#photo-{damaged}")).to_have_count(0)
    expect(phone.locator("#gallery-failures [role=alert]")).to_have_count(0)
    assert [photo.id for photo in list_photos(vehicle_id)] == [good]
    db.session.close()
    assert browser_problems == []


@pytest.mark.parametrize("pointer", ["mouse", "pen"])
def test_a_mouse_or_pen_drags_a_photo_by_its_handle(
    open_page, make_user, browser_problems, pointer
):
    supervisor = make_user("supervisor").email
    vehicle_id, (first, second, third) = vehicle_with_photos([(9, 9, 9), (90, 9, 9), (9, 90, 9)])
    page = open_page()
    sign_in(page, supervisor)
    page.goto(f"/inventory/{vehicle_id}/photos")
    cdp = page.context.new_cdp_session(page)
    start = centre(page, f"#photo-{first} .drag-handle")
    box = page.locator(f"#photo-{third}").bounding_box()
    end = (box["x"] + box["width"] - 10, box["y"] + 60)  # the right half of the last photo

    def mouse(kind: str, x: float, y: float, buttons: int) -> None:
        event = {"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons}
        cdp.send("Input.dispatchMouseEvent", event | {"pointerType": pointer, "clickCount": 1})

    mouse("mouseMoved", *start, 0)
    mouse("mousePressed", *start, 1)
    for step in range(1, 11):
        x = start[0] + (end[0] - start[0]) * step / 10
        mouse("mouseMoved", x, start[1] + (end[1] - start[1]) * step / 10, 1)
        page.wait_for_timeout(16)
    mouse("mouseReleased", *end, 0)

    expect(page.locator(f"#photo-{first} .photo-number")).to_have_text("3")
    assert gallery_ids(page) == [second, third, first]
    assert [photo.id for photo in list_photos(vehicle_id)] == [second, third, first]
    db.session.close()
    assert browser_problems == []
