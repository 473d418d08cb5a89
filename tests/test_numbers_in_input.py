"""Numbers in query strings and form fields: a Unicode digit that is not decimal ('²'), a
thousand digits, a sign or an exponent is refused or ignored, never a 500."""

from __future__ import annotations

import pytest

from dealer_leads.leads.normalize import whole_number

THOUSAND_DIGITS = "9" * 1000


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("٣", 3),  # Arabic-Indic three: a decimal digit, read as such
        ("²", None),  # a digit to str.isdigit, not to int()
        ("1e3", None),
        ("-4", None),
        ("", None),
        (None, None),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),
        (THOUSAND_DIGITS, None),  # int() refuses over 4,300 digits
    ],
)
def test_whole_number(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/leads/?page=²&per_page=²&advisor=²", 200),
        (f"/leads/?page={THOUSAND_DIGITS}&advisor={THOUSAND_DIGITS}", 200),
        ("/inventory/?page=²&year_from=²&year_to=²&q=²²²²", 200),
        (f"/inventory/?per_page={THOUSAND_DIGITS}&q={THOUSAND_DIGITS[:40]}", 200),
        ("/tasks?advisor=²", 200),
        ("/customers?page=²", 400),
        (f"/customers?page={THOUSAND_DIGITS}", 400),
        ("/mailbox?before=²", 400),
        (f"/mailbox?after={THOUSAND_DIGITS}", 400),
    ],
)
def test_pages_never_fail_on_odd_numbers(client, login_as, url, status):
    login_as("admin")
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
