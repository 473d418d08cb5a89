"""Message templates: checks at save time, the sandbox, escaping, merge fields, shipped copy."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from builders import ingest, lead_json
from jinja2.exceptions import SecurityError, UndefinedError

from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.merge_fields import format_price
from dealer_leads.messaging.templates import (
    ALLOWED_VARIABLES,
    DEFAULT_TEMPLATES,
    SAMPLE_CONTEXT,
    build_context,
    render_template,
    template_warnings,
    validate_template,
)

SHIPPED_KEYS = [
    "auto_response",
    "auto_response_after_hours",
    "text_intro",
    "day2_email",
    "similar_vehicles",
    "day10_email",
    "manager_email",
    "checkin_21",
    "checkin_30",
    "nurture_monthly",
    "trade_in_response",
    "appointment_confirmation",
    "appointment_reminder",
    "appointment_reminder_sms",
    "noshow_rebook",
    "thank_you_sale",
    "week_checkin",
    "review_request",
    "first_service_reminder",
]


def email_problems(body: str, subject: str = "Hello", html: str = "") -> list[str]:
    return validate_template("email", subject, body, html)


def tpl(subject: str = "", text: str = "", html: str = "") -> SimpleNamespace:
    return SimpleNamespace(subject=subject, body_text=text, body_html=html)


# --- checks ----------------------------------------------------------------------------------


def test_a_good_template_passes():
    assert email_problems("Hi {{ customer.first_name }},\n{{ advisor.signature }}") == []


def test_syntax_error_is_refused_with_its_line():
    problems = email_problems("Hi,\n\n{% if vehicle.price %}Price: {{ vehicle.price }}")
    assert len(problems) == 1
    assert problems[0].startswith("Text body, line 3:")
    assert "endif" in problems[0]


def test_unknown_variable_is_refused():
    problems = email_problems("Hi {{ custmer.first_name }}")
    assert problems == [p for p in problems if "'custmer'" in p] and problems


def test_unknown_field_is_refused_even_in_a_branch_the_sample_skips():
    problems = email_problems("{% if not vehicle.known %}{{ customer.frist_name }}{% endif %}")
    assert any("customer.frist_name is not a known field" in p for p in problems)


def test_subject_and_html_are_checked_too():
    problems = email_problems("ok", subject="{{ nope }}", html="<p>{{ vehicle.pric }}</p>")
    assert any(p.startswith("Subject:") and "'nope'" in p for p in problems)
    assert any(p.startswith("HTML body") and "vehicle.pric" in p for p in problems)


def test_email_needs_a_subject_and_a_text_body():
    problems = validate_template("email", "", "", "<p>Hi</p>")
    assert "An e-mail needs a subject." in problems
    assert any("plain-text body" in p for p in problems)
    assert validate_template("sms", "", " ", "") == ["A text message needs a body."]
    assert validate_template("fax", "a", "b", "") == ["Unknown channel 'fax': email or sms."]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ customer.__class__ }}",
        "{{ customer['__class__'] }}",
        "{{ vehicle.title.__class__.__base__.__subclasses__() }}",
        "{{ customer.first_name.format.__globals__ }}",
        "{% for v in similar_vehicles %}{{ v.__init__.__globals__ }}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_refused_at_save(source):
    problems = email_problems(source)
    assert problems
    assert all("not allowed" in p or "_" in p for p in problems)


def test_sandbox_blocks_escapes_at_render_too():
    with pytest.raises(SecurityError):
        render_template(tpl(text="{{ ''.__class__.__mro__ }}"), SAMPLE_CONTEXT)


@pytest.mark.parametrize("name", ["range", "lipsum", "cycler", "namespace", "dict", "config"])
def test_jinja_globals_do_not_exist(name):
    problems = email_problems("{{ " + name + " }}")
    assert any(f"unknown variable '{name}'" in p for p in problems)


def test_dict_methods_are_not_fields():
    assert any("customer.items" in p for p in email_problems("{{ customer.items() }}"))
    with pytest.raises(UndefinedError):
        render_template(tpl(text="{{ customer.items }}"), SAMPLE_CONTEXT)


def test_a_template_that_fails_with_sample_values_is_refused():
    problems = email_problems("{{ lead.id / 0 }}")
    assert problems == ["Text body: ZeroDivisionError: division by zero"]


def test_long_text_message_is_a_warning_not_a_problem():
    body = "Hi {{ customer.first_name }}, " + "word " * 100
    assert validate_template("sms", "", body, "") == []
    warnings = template_warnings("sms", body)
    assert len(warnings) == 1 and "over 480" in warnings[0]
    short = "Hi {{ customer.first_name }}, " + "{{ vehicle.title }} " * 100
    assert template_warnings("sms", short) == []  # merge fields do not count
    assert template_warnings("email", body) == []


# --- rendering -------------------------------------------------------------------------------


def test_html_escapes_merge_fields_and_text_keeps_them():
    context = {**SAMPLE_CONTEXT, "customer": {**SAMPLE_CONTEXT["customer"]}}
    context["customer"]["first_name"] = "<script>alert(1)</script>"
    rendered = render_template(
        tpl(
            "Hi {{ customer.first_name }}",
            "Hi {{ customer.first_name }}",
            "<p>Hi {{ customer.first_name }}</p>",
        ),
        context,
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert rendered.text == "Hi <script>alert(1)</script>\n"


def test_subject_is_one_line_and_text_is_tidied():
    context = {**SAMPLE_CONTEXT, "customer": {**SAMPLE_CONTEXT["customer"], "first_name": "A\r\nB"}}
    rendered = render_template(
        tpl("Hi {{ customer.first_name }}\n!", "One  \n\n\n\n{% if false %}x{% endif %}\n\nTwo"),
        context,
    )
    assert rendered.subject == "Hi A B !"
    assert rendered.text == "One\n\nTwo\n"
    assert rendered.html == ""


def test_signature_lines_become_line_breaks_in_html():
    rendered = render_template(
        tpl("s", "t", "<p>{{ advisor.signature|nl2br }}</p>"), SAMPLE_CONTEXT
    )
    assert "Alex Martin<br>\nSales Advisor, Maple Ridge Motors<br>" in rendered.html


def test_format_price():
    assert format_price(Decimal("34995.00")) == "$34,995"
    assert format_price(Decimal("34995.5")) == "$34,995.50"
    assert format_price(None) == ""


# --- the shipped templates -------------------------------------------------------------------


def test_every_shipped_template_is_there_once():
    keys = [t["key"] for t in DEFAULT_TEMPLATES]
    assert keys == SHIPPED_KEYS
    channels = {t["key"]: t["channel"] for t in DEFAULT_TEMPLATES}
    assert {k for k, c in channels.items() if c == "sms"} == {
        "text_intro",
        "appointment_reminder_sms",
    }


@pytest.mark.parametrize("entry", DEFAULT_TEMPLATES, ids=lambda t: t["key"])
def test_shipped_template_is_valid_and_reads_well(entry):
    assert (
        validate_template(
            entry["channel"], entry["subject"], entry["body_text"], entry["body_html"]
        )
        == []
    )
    assert template_warnings(entry["channel"], entry["body_text"]) == []
    rendered = render_template(
        tpl(entry["subject"], entry["body_text"], entry["body_html"]), SAMPLE_CONTEXT
    )
    assert "Dana" in rendered.text
    for spammy in ("!!", "FREE", "ACT NOW", "act now", "guaranteed", "click here", "None", "  "):
        assert spammy not in rendered.text + rendered.subject, spammy
    if entry["channel"] == "sms":
        assert "STOP" in rendered.text and len(rendered.text) <= 200
    else:
        signer = "Sam Lee" if entry["key"] == "manager_email" else "Alex Martin"
        assert rendered.subject and f"\n\n{signer}\n" in rendered.text
        assert rendered.html.count("<p") >= 2 and f"{signer}<br>" in rendered.html


# --- merge fields from the database -----------------------------------------------------------


@pytest.fixture
def lead_with_stock(app, make_user):
    """A lead for a 2024 Honda CR-V linked to stock, with a trade-in, assigned to an advisor."""
    advisor = make_user("advisor", name="Alex Martin")
    advisor.phone = "+14165550123"
    stock = Vehicle(
        vin="7FARS6H80SE012345",
        stock_number="H2519",
        year=2024,
        make="Honda",
        model="CR-V",
        trim="EX-L",
        price=Decimal("41995.00"),
        odometer=18250,
        odometer_unit="km",
        exterior_color="Grey",
        condition="used",
        status="available",
    )
    similar = Vehicle(
        vin="2T3P1RFV8PW000001",
        year=2023,
        make="Toyota",
        model="RAV4",
        price=Decimal("35900.50"),
        status="available",
    )
    db.session.add_all([stock, similar])
    body = lead_json(
        vehicles=[
            {"interest": "trade-in", "year": 2016, "make": "Mazda", "model": "3"},
            {
                "interest": "buy",
                "status": "used",
                "year": 2024,
                "make": "Honda",
                "model": "CR-V",
                "vin": stock.vin,
            },
        ]
    )
    body["customer"]["first_name"] = "Dana"
    lead = db.session.get(Lead, ingest(body).lead_id)
    wanted = lead.vehicles[1]
    wanted.vehicle_id = stock.id
    lead.assigned_to_id = advisor.id
    db.session.commit()
    return lead, advisor, similar


def dealership() -> Dealership:
    return Dealership(
        name="Maple Ridge Motors",
        street="100 King St W",
        city="Toronto",
        region="ON",
        postal_code="M5X 1A9",
        phone="+14165550100",
        email="sales@example.com",
        website="www.example.com",
        timezone="America/Toronto",
    )


def plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or isinstance(value, str | int | bool)


def test_build_context_gives_plain_values_for_every_documented_field(lead_with_stock):
    lead, advisor, similar = lead_with_stock
    context = build_context(
        lead,
        advisor=advisor,
        dealership=dealership(),
        similar_vehicles=[similar],
        unsubscribe_url="https://dealer.example/unsubscribe/x",
        photo_lookup=lambda vehicle: f"https://cdn.example/{vehicle.vin}.jpg",
    )
    assert plain(context)
    assert set(context) == set(ALLOWED_VARIABLES)
    for name, fields in ALLOWED_VARIABLES.items():
        if fields:
            assert set(context[name]) == set(fields), name
    vehicle = context["vehicle"]
    assert vehicle["title"] == "2024 Honda CR-V EX-L"  # from stock, trim included
    assert (vehicle["price"], vehicle["odometer"], vehicle["stock"]) == (
        "$41,995",
        "18,250 km",
        "H2519",
    )
    assert vehicle["photo_url"] == "https://cdn.example/7FARS6H80SE012345.jpg"
    assert vehicle["in_stock"] is True
    assert context["similar_vehicles"][0]["price"] == "$35,900.50"
    assert context["lead"]["trade_in"] == "2016 Mazda 3"
    assert context["advisor"]["phone"] == "(416) 555-0123"
    assert context["advisor"]["signature"].splitlines()[:2] == [
        "Alex Martin",
        "Sales Advisor, Maple Ridge Motors",
    ]
    assert context["dealership"]["address"] == "100 King St W, Toronto, ON M5X 1A9"
    assert context["customer"]["first_name"] == "Dana"


def test_build_context_without_advisor_vehicle_or_photos(app):
    lead = db.session.get(Lead, ingest(lead_json(vehicles=[])).lead_id)
    context = build_context(
        lead,
        advisor=None,
        dealership=dealership(),
        similar_vehicles=[],
        unsubscribe_url="https://dealer.example/u/x",
    )
    assert context["vehicle"]["known"] is False and context["vehicle"]["title"] == ""
    assert context["advisor"]["assigned"] is False
    assert context["advisor"]["signature"].startswith("The sales team\nMaple Ridge Motors")
    assert context["advisor"]["phone"] == "(416) 555-0100"
    assert context["appointment"]["when"] == ""


def test_appointment_shown_in_the_dealership_zone(app):
    from datetime import UTC, datetime

    lead = db.session.get(Lead, ingest().lead_id)
    context = build_context(
        lead,
        advisor=None,
        dealership=dealership(),
        similar_vehicles=[],
        unsubscribe_url="u",
        appointment={"starts_at": datetime(2026, 3, 14, 14, 30, tzinfo=UTC), "kind": "test_drive"},
    )
    assert context["appointment"] == {
        "when": "Saturday, March 14 at 10:30 AM",
        "date": "Saturday, March 14",
        "time": "10:30 AM",
        "kind": "test drive",
    }


@pytest.mark.parametrize("entry", DEFAULT_TEMPLATES, ids=lambda t: t["key"])
def test_shipped_template_renders_with_a_real_lead(lead_with_stock, entry):
    lead, advisor, similar = lead_with_stock
    context = build_context(
        lead,
        advisor=advisor,
        dealership=dealership(),
        similar_vehicles=[similar],
        unsubscribe_url="https://dealer.example/unsubscribe/x",
        photo_url="https://cdn.example/p.jpg",
        booking_url="https://dealer.example/book",
    )
    rendered = render_template(
        tpl(entry["subject"], entry["body_text"], entry["body_html"]), context
    )
    assert "Dana" in rendered.text
    if "vehicle." in entry["body_html"] and "vehicle.known" in entry["body_html"]:
        assert 'src="https://cdn.example/p.jpg"' in rendered.html
        assert "$41,995" in rendered.html
