"""Building outbound e-mails: headers, both parts, footer, List-Unsubscribe, Reply-To tokens."""

import email
import email.policy
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from dealer_leads.messaging.email import (
    MAIL_POLICY,
    build_email,
    dealership_footer,
    reply_address,
    reply_token,
    sender_domain,
    token_from_address,
)
from dealer_leads.messaging.templates import Rendered

UNSUBSCRIBE = "https://dealer.example/unsubscribe/abc.DEF"
DEALERSHIP = SimpleNamespace(
    name="Smith & Sons Motors",
    street="100 King St W",
    city="Toronto",
    region="ON",
    postal_code="M5X 1A9",
    phone="(416) 555-0100",
)
RENDERED = Rendered(
    subject="Your inquiry about the 2025 Honda CR-V",
    text="Hi Dana,\n\nThe CR-V is here.\n\nAlex\n",
    html="<p>Hi Dana,</p>\n<p>The CR-V is here.</p>",
)


def build(rendered=RENDERED, **overrides):
    text, html = dealership_footer(DEALERSHIP)
    values = {
        "rendered": rendered,
        "to": "dana@example.com",
        "from_addr": "Maple Ridge Motors <leads@dealer.example>",
        "reply_to": reply_address("Maple Ridge Motors <leads@dealer.example>", "abcdefgh23456789"),
        "message_id_domain": "dealer.example",
        "unsubscribe_url": UNSUBSCRIBE,
        "unsubscribe_mailto": "unsubscribe@dealer.example?subject=unsubscribe",
        "dealership_footer_text": text,
        "dealership_footer_html": html,
        "now": datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC),
    }
    return build_email(**(values | overrides))


def reparsed(message):
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_headers():
    message = reparsed(build())
    assert message["Subject"] == "Your inquiry about the 2025 Honda CR-V"
    assert message["From"] == "Maple Ridge Motors <leads@dealer.example>"
    assert message["To"] == "dana@example.com"
    assert message["Reply-To"] == "Maple Ridge Motors <leads+abcdefgh23456789@dealer.example>"
    assert message["Date"] == "Mon, 02 Mar 2026 15:04:05 +0000"
    assert re.fullmatch(r"<[^<>@\s]+@dealer\.example>", message["Message-ID"])
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message["Auto-Submitted"] is None  # personal e-mails, not automatic replies


def test_list_unsubscribe_pair_for_one_click():
    message = reparsed(build())
    assert message["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@dealer.example?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    only_https = reparsed(build(unsubscribe_mailto=None))
    assert only_https["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    with pytest.raises(ValueError, match="RFC 8058"):
        build(unsubscribe_url="mailto:x@dealer.example")


def test_both_parts_with_the_footer():
    message = reparsed(build())
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Hi Dana,\n\nThe CR-V is here.\n\nAlex\n\n-- \n")
    assert "Smith & Sons Motors · 100 King St W, Toronto, ON M5X 1A9 · (416) 555-0100" in text
    assert f"Unsubscribe: {UNSUBSCRIBE}" in text
    assert "<p>The CR-V is here.</p>" in html
    assert "Smith &amp; Sons Motors &middot; 100 King St W, Toronto, ON M5X 1A9" in html
    assert f'<a href="{UNSUBSCRIBE}"' in html
    assert html.index("Smith &amp; Sons") > html.index("CR-V is here")
    assert html.rstrip().endswith("</html>") and html.count("<body") == 1


def test_footer_goes_inside_a_whole_html_document():
    page = Rendered("s", "t", "<html><body><p>Hi</p></body></html>")
    html = reparsed(build(page)).get_body(("html",)).get_content()
    assert html.index("Smith &amp; Sons") < html.index("</body>")
    assert html.count("<body") == 1


def test_text_only_when_the_template_has_no_html():
    message = reparsed(build(Rendered("s", "Just text\n", "")))
    assert message.get_content_type() == "text/plain"
    assert "Just text" in message.get_content() and UNSUBSCRIBE in message.get_content()


def test_message_ids_are_unique_per_touch():
    ids = {build()["Message-ID"] for _ in range(50)}
    assert len(ids) == 50


def test_long_and_non_ascii_content_survives_the_wire():
    rendered = Rendered("Café crème — Québec", "Ça roule? " * 200, "<p>" + "é" * 3000 + "</p>")
    message = reparsed(build(rendered))
    assert message["Subject"] == "Café crème — Québec"
    assert message.get_body(("plain",)).get_content().startswith("Ça roule? Ça roule?")
    assert all(len(line) <= 998 for line in build(rendered).as_bytes().splitlines())


@pytest.mark.parametrize(
    "bad", ["dana@example.com\r\nBcc: all@example.com", "a@example.com, b@example.com", "nobody"]
)
def test_one_plain_recipient_only(bad):
    with pytest.raises(ValueError):
        build(to=bad)


def test_reply_address_plus_token():
    assert reply_address("leads@dealer.example", "tok") == "leads+tok@dealer.example"
    assert reply_address("leads+old@dealer.example", "tok") == "leads+tok@dealer.example"
    assert (
        reply_address("Sales <leads@dealer.example>", "tok") == "Sales <leads+tok@dealer.example>"
    )
    with pytest.raises(ValueError):
        reply_address("not an address", "tok")


def test_reply_tokens_are_short_unguessable_and_read_back():
    tokens = {reply_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(re.fullmatch(r"[a-z2-7]{16}", token) for token in tokens)
    token = tokens.pop()
    address = reply_address("Sales <leads@dealer.example>", token)
    assert token_from_address(address) == token
    assert token_from_address(address.upper()) == token  # servers that upper-case local parts
    assert token_from_address("leads@dealer.example") is None
    assert token_from_address("leads+x@dealer.example") is None


def test_sender_domain():
    assert sender_domain("Maple Ridge <leads@dealer.example>") == "dealer.example"
    assert sender_domain("leads") == "localhost"


def test_the_mail_policy_makes_each_header_class_once_and_reads_as_the_default():
    classes = MAIL_POLICY.header_factory
    assert classes["Subject"] is classes["subject"] is classes["SUBJECT"]
    assert (
        email.policy.default.header_factory["Subject"]
        is not (email.policy.default.header_factory["Subject"])
    )  # what the standard registry does, and why ours exists
    raw = build().as_bytes()
    ours = email.message_from_bytes(raw, policy=MAIL_POLICY)
    standard = email.message_from_bytes(raw, policy=email.policy.default)
    assert ours.items() == standard.items()
    assert ours["Reply-To"].addresses[0].username == "leads+abcdefgh23456789"
    assert ours.as_bytes() == standard.as_bytes() == raw


def test_the_mail_policy_reuses_the_header_objects_of_values_set_before(monkeypatch):
    first, second = build(), build(to="lee@example.com")
    assert first["From"] is second["From"]  # parsed once, shared (header objects are immutable)
    assert first["List-Unsubscribe-Post"] is second["List-Unsubscribe-Post"]
    assert first["To"] is not second["To"] and second["To"].addresses[0].username == "lee"
    long_subject = "Your inquiry " + "about the 2025 Honda CR-V " * 10
    third = build(Rendered(long_subject, RENDERED.text, RENDERED.html))
    fourth = build(Rendered(long_subject, RENDERED.text, RENDERED.html))
    assert third["Subject"] == long_subject and third["Subject"] is not fourth["Subject"]
    for value in ("two\nlines", "two\rlines", "two\u2028lines"):  # what policy.default refuses
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            build(Rendered(value, "Hi", ""))
    # The same bytes as the standard policy writes (Message-ID and MIME boundary aside).
    monkeypatch.setattr("dealer_leads.messaging.email.MAIL_POLICY", email.policy.default)
    standard = build(Rendered("Ihre Anfrage: der Škoda für Zoë", "Grüße", "<p>Grüße</p>"))
    monkeypatch.undo()
    ours = build(Rendered("Ihre Anfrage: der Škoda für Zoë", "Grüße", "<p>Grüße</p>"))

    def normalised(message):
        raw = message.as_bytes()
        for pattern in (rb"<[0-9.]+@dealer\.example>", rb"=+[0-9]+==", rb'boundary="[^"]+"'):
            raw = re.sub(pattern, b"X", raw)
        return raw

    assert normalised(ours) == normalised(standard)
    assert b"Subject: Ihre Anfrage: der =?utf-8?q?=C5=A0koda_f=C3=BCr_Zo=C3=AB?=" in ours.as_bytes()
