"""Promotions: the pure rules, the service, the page, and the merge fields e-mails use."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from inventory.feed_builders import make_vehicle

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import STOCK_ROLES
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_models import Promotion
from dealer_leads.inventory.promotions import (
    InvalidPromotion,
    PromotionNotFound,
    best_offer,
    create_promotion,
    discounted,
    end_promotion,
    matches,
    offer_for,
    update_promotion,
)
from dealer_leads.messaging.merge_fields import promotion_values
from dealer_leads.templating import NAVIGATION

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def promo(**values) -> SimpleNamespace:
    fields = {
        "id": 1,
        "name": "Year-end",
        "text": "Year-end event",
        "discount_amount": None,
        "discount_percent": None,
        "starts_at": NOW - timedelta(days=1),
        "ends_at": NOW + timedelta(days=7),
        "make": "",
        "model": "",
        "year_from": None,
        "year_to": None,
        "condition": "",
    }
    fields.update(values)
    return SimpleNamespace(**fields)


def car(**values) -> SimpleNamespace:
    fields = {"make": "Honda", "model": "CR-V", "year": 2025, "condition": "new"}
    fields.update(values)
    fields.setdefault("price", Decimal("40000.00"))
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    "filters, vehicle, expected",
    [
        ({}, car(), True),
        ({"make": "honda"}, car(), True),
        ({"make": "Toyota"}, car(), False),
        ({"model": "cr-v"}, car(), True),
        ({"year_from": 2025, "year_to": 2025}, car(), True),
        ({"year_from": 2026}, car(), False),
        ({"year_to": 2024}, car(), False),
        ({"year_from": 2020}, car(year=None), False),
        ({"condition": "new"}, car(condition="used"), False),
        ({"condition": "used"}, car(condition="certified"), True),
        ({"condition": "certified"}, car(condition="used"), False),
    ],
)
def test_filter(filters, vehicle, expected):
    assert matches(promo(**filters), vehicle) is expected


def test_discounts():
    assert discounted(Decimal("40000"), promo(discount_amount=Decimal("1500"))) == Decimal("38500")
    assert discounted(Decimal("333.33"), promo(discount_percent=Decimal("10"))) == Decimal("300.00")
    assert discounted(Decimal("1000"), promo(discount_amount=Decimal("5000"))) == Decimal("0")
    assert discounted(None, promo(discount_amount=Decimal("1"))) is None
    assert discounted(Decimal("1000"), promo()) is None  # text only


def test_best_offer_is_the_lowest_price_among_running_matching_ones():
    promotions = [
        promo(id=1, discount_amount=Decimal("1000")),
        promo(id=2, discount_percent=Decimal("5")),  # 2,000 off: the best
        promo(id=3, discount_amount=Decimal("9000"), make="Toyota"),  # does not match
        promo(id=4, discount_amount=Decimal("9000"), starts_at=NOW + timedelta(hours=1)),
        promo(id=5, discount_amount=Decimal("9000"), ends_at=NOW),  # ended (end is exclusive)
    ]
    offer = best_offer(car(), promotions, NOW)
    assert offer.promotion_id == 2 and offer.sale_price == Decimal("38000.00")
    assert best_offer(car(make="Kia"), promotions[2:3], NOW) is None


def test_text_only_promotion_gives_text_and_no_sale_price():
    offer = best_offer(car(), [promo(text="Free winter tires")], NOW)
    assert offer.text == "Free winter tires" and offer.sale_price is None


def values(**extra) -> dict:
    fields = {
        "name": "Honda days",
        "text": "Honda days: $1,000 off",
        "discount_amount": "$1,000",
        "starts_at": NOW - timedelta(days=1),
        "ends_at": NOW + timedelta(days=1),
        "make": "Honda",
    }
    fields.update(extra)
    return fields


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"name": " "}, "name"),
        ({"discount_amount": "lots"}, "discount_amount"),
        ({"discount_amount": "-5"}, "discount_amount"),
        ({"discount_percent": "120", "discount_amount": ""}, "discount_percent"),
        ({"discount_percent": "5"}, "discount_percent"),  # both an amount and a percentage
        ({"ends_at": NOW - timedelta(days=2)}, "ends_at"),
        ({"starts_at": None}, "starts_at"),
        ({"starts_at": datetime(2026, 1, 1)}, "starts_at"),  # naive
        ({"condition": "salvage"}, "condition"),
        ({"year_from": "20x5"}, "year_from"),
        ({"year_from": "2026", "year_to": "2024"}, "year_to"),
    ],
)
def test_invalid_promotions_name_the_field(app, bad, field):
    with pytest.raises(InvalidPromotion) as caught:
        create_promotion(values(**bad))
    assert field in caught.value.fields


def test_offer_for_a_stock_vehicle_and_the_merge_fields(app):
    vehicle = make_vehicle(make="Honda", price=Decimal("30000.00"))
    create_promotion(values(ends_at=datetime.now(UTC) + timedelta(days=3)))
    offer = offer_for(vehicle)
    assert offer.sale_price == Decimal("29000.00")
    fields = promotion_values(vehicle)
    assert fields["sale_price"] == "$29,000" and fields["promotion"] == "Honda days: $1,000 off"
    assert fields["promotion_ends"]
    assert promotion_values(make_vehicle(make="Kia")) == {}


@pytest.mark.parametrize(
    "status, offered", [("available", True), ("pending", True), ("in_transit", True),
                        ("sold", False), ("hidden", False)]
)  # fmt: skip
def test_no_offer_for_a_vehicle_the_feeds_do_not_list(app, status, offered):
    vehicle = make_vehicle(make="Honda", price=Decimal("30000.00"), status=status)
    create_promotion(values(ends_at=datetime.now(UTC) + timedelta(days=3)))
    assert (offer_for(vehicle) is not None) is offered
    assert bool(promotion_values(vehicle)) is offered


def test_update_promotion_by_the_same_rules(app):
    promotion = create_promotion(values())
    changed = update_promotion(
        promotion.id, values(name="Honda week", discount_amount="", discount_percent="10")
    )
    assert (changed.name, changed.discount_amount, changed.discount_percent) == (
        "Honda week",
        None,
        Decimal("10"),
    )
    with pytest.raises(InvalidPromotion) as caught:
        update_promotion(promotion.id, values(ends_at=NOW - timedelta(days=2)))
    assert "ends_at" in caught.value.fields
    db.session.expire_all()
    assert db.session.get(Promotion, promotion.id).name == "Honda week"  # nothing half-saved
    with pytest.raises(PromotionNotFound):
        update_promotion(promotion.id + 1, values())


def test_promotions_page_edits(client, login_as):
    login_as("webmaster")
    promotion = create_promotion(
        values(discount_amount="1500", ends_at=datetime.now(UTC) + timedelta(days=3))
    )
    zone = dealership_zone()
    listed = client.get("/inventory/promotions").get_data(as_text=True)
    assert f'href="/inventory/promotions/{promotion.id}/edit#promotion-form"' in listed
    page = client.get(f"/inventory/promotions/{promotion.id}/edit").get_data(as_text=True)
    assert f'action="/inventory/promotions/{promotion.id}"' in page
    assert 'name="name" value="Honda days"' in page and 'value="1500"' in page
    starts = promotion.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    assert f'name="starts_at" value="{starts}"' in page
    form = {
        "name": "Honda days, extended",
        "discount_amount": "2000",
        "starts_at": "2026-11-01T09:00",
        "ends_at": "2026-12-15T21:00",
        "make": "Honda",
    }
    assert client.post(f"/inventory/promotions/{promotion.id}", data=form).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Promotion, promotion.id)
    assert (saved.name, saved.discount_amount) == ("Honda days, extended", Decimal("2000"))
    assert saved.ends_at == datetime(2026, 12, 15, 21, 0, tzinfo=zone)
    bad = client.post(f"/inventory/promotions/{promotion.id}", data={**form, "name": ""})
    assert bad.status_code == 400 and "Name is required" in bad.get_data(as_text=True)
    assert db.session.get(Promotion, promotion.id).name == "Honda days, extended"
    assert client.get("/inventory/promotions/999999/edit").status_code == 404
    assert client.post("/inventory/promotions/999999", data=form).status_code == 404


def test_the_menu_links_promotions_for_everyone_who_may_edit_them(client, login_as):
    linked = {
        role for role, items in NAVIGATION.items() if ("promotions.index", "Promotions") in items
    }
    assert linked == set(STOCK_ROLES)
    login_as("admin")
    page = client.get("/inventory/promotions").get_data(as_text=True)
    assert '<a href="/inventory/promotions" aria-current="page">Promotions</a>' in page


def test_advisor_may_not_edit_promotions(client, login_as):
    promotion = create_promotion(values())
    login_as("advisor")
    assert client.get(f"/inventory/promotions/{promotion.id}/edit").status_code == 403
    answer = client.post(f"/inventory/promotions/{promotion.id}", data={"name": "x"})
    assert answer.status_code == 403
    db.session.expire_all()
    assert db.session.get(Promotion, promotion.id).name == "Honda days"


def test_end_promotion_now(app):
    promotion = create_promotion(values(ends_at=datetime.now(UTC) + timedelta(days=3)))
    now = datetime.now(UTC)
    ended = end_promotion(promotion.id, now)
    assert ended.ends_at == now
    upcoming = create_promotion(
        values(starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2))
    )
    assert end_promotion(upcoming.id, now).ends_at == upcoming.starts_at  # never runs


def test_promotions_page_creates_and_refuses(client, login_as):
    login_as("webmaster")
    page = client.get("/inventory/promotions")
    assert page.status_code == 200 and "New promotion" in page.get_data(as_text=True)
    form = {
        "name": "<script>alert(1)</script>",
        "discount_percent": "5",
        "starts_at": "2026-11-01T09:00",
        "ends_at": "2026-12-01T09:00",
        "condition": "new",
    }
    answer = client.post("/inventory/promotions", data=form)
    assert answer.status_code == 302
    listed = client.get("/inventory/promotions").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listed and "<script>alert" not in listed
    bad = client.post("/inventory/promotions", data={**form, "ends_at": "tomorrow"})
    assert bad.status_code == 400 and "is not a date and time" in bad.get_data(as_text=True)
    assert len(db.session.scalars(db.select(Promotion)).all()) == 1


def test_promotion_and_feed_forms_need_csrf(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        email = make_user("webmaster").email
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert signed_in.status_code == 302
    with app.app_context():
        promotion_id = create_promotion(values()).id
    urls = ("/inventory/promotions", f"/inventory/promotions/{promotion_id}")
    for url in (*urls, "/inventory/feeds/consumers", "/inventory/feeds/build"):
        answer = client.post(url, data={"name": "x"})
        assert answer.status_code == 400, url
    with app.app_context():
        assert [p.name for p in db.session.scalars(db.select(Promotion))] == ["Honda days"]


def test_advisor_may_not_open_promotions(client, login_as):
    login_as("advisor")
    assert client.get("/inventory/promotions").status_code == 403
