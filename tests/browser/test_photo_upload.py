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
