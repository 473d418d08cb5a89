"""Reading received e-mail (pure): ADF in every wrapping, bounces, automatic replies, quoting,
inquiries, and hostile input. No database."""

from __future__ import annotations

import mail_corpus as corpus
import pytest

from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.messaging.mail_in import MAX_PARTS, read_mail, split_quoted
from dealer_leads.messaging.mail_leads import form_fields, leads_from_email


@pytest.mark.parametrize(
    "build",
    [corpus.adf_as_text, corpus.adf_as_html, corpus.adf_as_attachment],
    ids=["text", "html", "attachment"],
)
def test_adf_is_found_in_text_html_and_attachments(build):
    raw = build(first="John", last="Doe", email="john.doe@example.com")
    mail = read_mail(raw)
    assert len(mail.adf_documents) == 1
    (lead,) = leads_from_email(raw)
    assert (lead.contact.first_name, lead.contact.last_name) == ("John", "Doe")
    assert lead.contact.email == "john.doe@example.com"
    assert lead.vehicles[0].model == "Civic"
    assert lead.source == "Autotrader"


def test_adf_quoted_printable_latin1_keeps_accents():
    (lead,) = leads_from_email(corpus.adf_quoted_printable_latin1())
    assert (lead.contact.first_name, lead.contact.last_name) == ("Hélène", "Côté")


def test_adf_in_base64_utf8_body():
    raw = corpus.adf_as_text(cte="base64", first="Zoë", last="Ångström")
    assert b"Content-Transfer-Encoding: base64" in raw
    (lead,) = leads_from_email(raw)
    assert lead.contact.first_name == "Zoë"


def test_broken_adf_in_a_mail_is_refused_with_the_reason():
    raw = corpus.adf_as_text().replace(b"</prospect>", b"</prospekt>")
    with pytest.raises(InvalidPayload, match="ADF document in the e-mail refused"):
        leads_from_email(raw)


def test_bounce_names_the_failed_recipient_and_our_message():
    mail = read_mail(corpus.bounce("gone@example.com", "<abc.123@dealer.example>"))
    assert mail.report and mail.automatic
    assert [(f.recipient, f.action, f.status) for f in mail.bounced] == [
        ("gone@example.com", "failed", "5.1.1")
    ]
    assert "user unknown" in mail.bounced[0].diagnostic
    assert mail.original_ids == ["abc.123@dealer.example"]


def test_delayed_delivery_is_a_report_but_no_bounce():
    mail = read_mail(corpus.bounce("slow@example.com", "<x@dealer.example>", action="delayed"))
    assert mail.report and mail.failures and not mail.bounced


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Subject": "Automatic reply: Your inquiry"},
        {"Subject": "Out of Office: Re: CR-V"},
        {"Subject": "Réponse automatique : absent du bureau"},
        {"Precedence": "auto_reply"},
    ],
)
def test_automatic_replies_are_recognised(headers):
    subject = headers.pop("Subject", "Re: CR-V")
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    raw = f"From: a@example.com\r\nSubject: {subject}\r\n{extra}\r\nAway.\r\n".encode()
    mail = read_mail(raw)
    assert mail.auto_reply and mail.automatic


def test_a_person_s_reply_is_not_automatic():
    mail = read_mail(corpus.gmail_reply(corpus.DEALER, "<m1@dealer.example>"))
    assert not mail.automatic and not mail.auto_reply
    assert mail.refers_to == ["m1@dealer.example", "m1@dealer.example"]


def test_gmail_quoting_is_folded():
    written, quoted = split_quoted(read_mail(corpus.gmail_reply(corpus.DEALER)).text)
    assert written == "Yes, Saturday at 10 works for me.\n\nDana"
    assert quoted.startswith("On Tue, Mar 10, 2026") and "> Would you like" in quoted


def test_outlook_quoting_is_folded():
    written, quoted = split_quoted(read_mail(corpus.outlook_reply(corpus.DEALER)).text)
    assert written == "Can you send me the price with winter tires?"
    assert "From: Maple Ridge Motors" in quoted and "Sent:" in quoted


def test_outlook_html_only_reply_is_folded_too():
    raw = corpus.outlook_reply(corpus.DEALER)
    html = raw.split(b"text/html", 1)[1]
    mail = read_mail(b"From: x@example.com\r\nContent-Type: text/html" + html)
    written, quoted = split_quoted(mail.text)
    assert written == "Can you send me the price with winter tires?"
    assert quoted.startswith("From:")


def test_trailing_angle_quotes_without_attribution_are_folded():
    assert split_quoted("Sounds good.\n\n> earlier\n> text\n") == (
        "Sounds good.",
        "> earlier\n> text",
    )
    assert split_quoted("No quote here.") == ("No quote here.", "")


def test_plain_inquiry_becomes_a_lead_with_the_whole_message():
    (lead,) = leads_from_email(corpus.plain_inquiry())
    assert lead.contact.email == "pat.lee@example.com"
    assert lead.contact.full_name == "Pat Lee"
    assert lead.comments.startswith("Subject: Question about a used Tacoma")
    assert "trade in my 2015 Corolla" in lead.comments


def test_form_mailer_takes_the_customer_from_the_form():
    (lead,) = leads_from_email(corpus.form_mailer())
    assert lead.contact.email == "robin@example.com"
    assert lead.contact.full_name == "Robin Martin"
    assert lead.contact.phones == [("voice", "416-555-0123")]
    assert (lead.vehicles[0].year, lead.vehicles[0].make) == (2024, "Toyota")


def test_form_fields_ignore_unknown_labels():
    assert form_fields("Name: A\nColour: red\nE-mail: a@b.example\nName: B") == {
        "full_name": "A",
        "email": "a@b.example",
    }


def test_an_automatic_message_without_a_customer_is_not_a_lead():
    raw = b"From: noreply@x.example\r\nAuto-Submitted: auto-generated\r\nSubject: Report\r\n\r\nok"
    with pytest.raises(InvalidPayload, match="automatic"):
        leads_from_email(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a message at all",
        b"\x00\xff\xfe garbage \r\n\r\n\x00",
        b"From: <<<>>>\r\nSubject: =?bogus?Q?x?=\r\nMessage-ID: <<>>\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nno end",
        b"Content-Type: text/plain; charset=klingon-8\r\n\r\nqapla\xe9",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe utf-8",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
    ],
    ids=["empty", "no-headers", "binary", "bad-headers", "unclosed", "charset", "utf8", "b64"],
)
def test_malformed_input_is_read_without_an_exception(raw):
    mail = read_mail(raw)
    assert isinstance(mail.text, str)


def test_unknown_charset_is_noted():
    mail = read_mail(b"Content-Type: text/plain; charset=klingon-8\r\n\r\nqapla\xe9")
    assert mail.text == "qaplaé"
    assert any("unknown charset" in warning for warning in mail.warnings)


def test_thousands_of_parts_are_capped():
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n" for n in range(5000))
    raw = f"Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n".encode()
    mail = read_mail(raw)
    assert mail.parts == MAX_PARTS
    assert any(f"first {MAX_PARTS} MIME parts" in warning for warning in mail.warnings)


def test_deep_nesting_is_capped():
    raw = b""
    for depth in range(300):
        raw += f"Content-Type: multipart/mixed; boundary=b{depth}\r\n\r\n--b{depth}\r\n".encode()
    raw += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    mail = read_mail(raw)
    assert mail.warnings


def test_escaped_adf_with_line_breaks_in_html():
    escaped = corpus.adf_document(first="Ria").replace("<", "&lt;").replace(">", "&gt;")
    html = "<html><body>" + escaped.replace("\n", "<br>\n") + "</body></html>"
    raw = f"From: x@p.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}".encode()
    (lead,) = leads_from_email(raw)
    assert lead.contact.first_name == "Ria"


def test_adf_in_a_text_attachment():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "leads@provider.example"
    message.set_content("Lead attached.")
    message.add_attachment(corpus.adf_document(first="Tom"), filename="lead.txt")
    (lead,) = leads_from_email(bytes(message))
    assert lead.contact.first_name == "Tom"
