"""Pure normalisers and routing rules."""

import pytest

from dealer_leads.leads.normalize import (
    ContactIn,
    LeadIn,
    VehicleIn,
    may_receive_texts,
    normalize_contact,
    normalize_email,
    normalize_phone,
    normalize_vin,
    route_department,
    split_name,
)


@pytest.mark.parametrize(
    "full, expected",
    [
        ("John Smith", ("John", "Smith")),
        ("John Q. Smith", ("John Q.", "Smith")),
        ("Smith, John", ("John", "Smith")),
        ("  Cher  ", ("Cher", "")),
        ("", ("", "")),
    ],
)
def test_split_name(full, expected):
    assert split_name(full) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Jane.Doe@Example.COM", ("jane.doe@example.com", True)),
        ("emailaddress", ("emailaddress", False)),
        ("a@b", ("a@b", False)),
        ("", ("", True)),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("(416) 555-2671", "CA", ("+14165552671", True)),
        ("(555)-444-3333", "US", ("(555)-444-3333", False)),
        ("+44 20 7946 0018", "CA", ("+442079460018", True)),
        ("(000) 000-0000", "CA", ("(000) 000-0000", False)),
        ("call me", "CA", ("call me", False)),
    ],
)
def test_normalize_phone(raw, region, expected):
    assert normalize_phone(raw, region) == expected


def test_contact_prefers_mobile_and_splits_full_name():
    contact = ContactIn(
        full_name="Ana Lopez", phones=[("home", "416 555 2671"), ("cellphone", "647 555 0199")]
    )
    normal = normalize_contact(contact, "CA")
    assert (normal.first_name, normal.last_name, normal.phone) == ("Ana", "Lopez", "+16475550199")


def test_vin_upper_cased_and_cleaned():
    assert normalize_vin(" 1hgcm8-2633a 004352 ") == "1HGCM82633A004352"


@pytest.mark.parametrize(
    "lead, department",
    [
        (LeadIn(comments="Need an oil change"), "service"),
        (LeadIn(comments="Do you have floor mats (part number 123)?"), "parts"),
        (LeadIn(comments="Credit application for pre-approval"), "finance"),
        (LeadIn(comments="financing on this one?", vehicles=[VehicleIn(interest="buy")]), "sales"),
        (LeadIn(comments="service", department="sales"), "sales"),
        (LeadIn(comments="hello"), "sales"),
    ],
)
def test_route_department(lead, department):
    assert route_department(lead)[0] == department


@pytest.mark.parametrize(
    "phone, textable",
    [
        ("+14165552671", True),  # North America: a mobile or a landline, not told apart
        ("+33612345678", True),  # a French mobile
        ("+33142685300", False),  # a Paris landline
        ("+18005550199", False),  # toll-free
        ("416 555 2671", False),  # not in E.164
        ("", False),
    ],
)
def test_may_receive_texts(phone, textable):
    assert may_receive_texts(phone) is textable
