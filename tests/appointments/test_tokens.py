"""Signed links: they work until they expire, and a changed character breaks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dealer_leads.appointments.tokens import (
    LinkRefused,
    confirm_token,
    new_calendar_token,
    read_confirm_token,
    read_schedule_token,
    schedule_token,
)

SECRET = "test-secret"
NOW = datetime(2026, 6, 2, 14, tzinfo=UTC)


def test_a_schedule_link_round_trips_until_it_expires():
    token = schedule_token(SECRET, 42, NOW, timedelta(days=30))
    assert read_schedule_token(SECRET, token, NOW + timedelta(days=29)) == 42
    with pytest.raises(LinkRefused) as refused:
        read_schedule_token(SECRET, token, NOW + timedelta(days=31))
    assert refused.value.code == "expired"


@pytest.mark.parametrize("where", [0, 5, -1, -10])
def test_a_tampered_token_is_refused(where):
    token = schedule_token(SECRET, 42, NOW, timedelta(days=30))
    changed = token[:where] + ("A" if token[where] != "A" else "B") + token[where + 1 :]
    with pytest.raises(LinkRefused) as refused:
        read_schedule_token(SECRET, changed, NOW)
    assert refused.value.code == "invalid"


def test_a_token_signed_with_another_key_or_purpose_is_refused():
    forged = schedule_token("someone-elses-key", 42, NOW, timedelta(days=30))
    with pytest.raises(LinkRefused):
        read_schedule_token(SECRET, forged, NOW)
    confirm = confirm_token(SECRET, 42, "uid@x", NOW + timedelta(days=1))
    with pytest.raises(LinkRefused):
        read_schedule_token(SECRET, confirm, NOW)  # a confirmation link is not a booking link
    assert read_confirm_token(SECRET, confirm, NOW) == (42, "uid@x")


@pytest.mark.parametrize("junk", ["", "x", "a" * 501, "<script>alert(1)</script>", "e30.e30"])
def test_junk_is_refused_cleanly(junk):
    with pytest.raises(LinkRefused):
        read_schedule_token(SECRET, junk, NOW)


def test_calendar_tokens_are_long_and_url_safe():
    tokens = {new_calendar_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)
