"""Messages the leads mailbox receives, built as mail clients, providers and servers send them."""

from __future__ import annotations

import quopri
from email.message import EmailMessage
from email.utils import make_msgid
from itertools import count

DEALER = "leads@dealer.example"
_numbers = count(1)


def adf_document(
    first: str = "John", last: str = "Doe", email: str = "john.doe@example.com", lead_id: str = ""
) -> str:
    """One ADF prospect: a new Civic, from Autotrader."""
    n = next(_numbers)
    lead_id = lead_id or f"AT-{n:06d}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<?adf version="1.0"?>
<adf>
  <prospect status="new">
    <id sequence="1" source="Autotrader">{lead_id}</id>
    <requestdate>2026-03-10T09:30:00-05:00</requestdate>
    <vehicle interest="buy" status="new">
      <year>2025</year><make>Honda</make><model>Civic</model>
    </vehicle>
    <customer>
      <contact>
        <name part="first">{first}</name><name part="last">{last}</name>
        <email>{email}</email><phone type="voice">416-555-{n % 10000:04d}</phone>
      </contact>
      <comments>Is the blue one still there?</comments>
    </customer>
    <vendor><vendorname>Maple Ridge Motors</vendorname></vendor>
    <provider><name part="full">Autotrader</name></provider>
  </prospect>
</adf>
"""


def _base(subject: str, sender: str = "Autotrader <leads@autotrader.example>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = DEALER
    message["Subject"] = subject
    message["Date"] = "Tue, 10 Mar 2026 09:31:00 -0500"
    message["Message-ID"] = make_msgid(domain="sender.example")
    return message


def adf_as_text(cte: str | None = None, **kwargs) -> bytes:
    message = _base("New lead from Autotrader")
    message.set_content(adf_document(**kwargs), cte=cte)
    return bytes(message)


def adf_as_html(**kwargs) -> bytes:
    """The XML escaped inside an HTML body, as some providers' mailers do."""
    escaped = adf_document(**kwargs).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    message = _base("New lead (HTML)")
    message.set_content(f"<html><body><p>New lead:</p><pre>{escaped}</pre></body></html>", "html")
    return bytes(message)


def adf_as_attachment(**kwargs) -> bytes:
    message = _base("New lead attached")
    message.set_content("A new lead is attached.\n")
    message.add_attachment(
        adf_document(**kwargs).encode(), maintype="application", subtype="xml", filename="lead.xml"
    )
    return bytes(message)


def adf_quoted_printable_latin1() -> bytes:
    """Hélène Côté's lead in ISO-8859-1, quoted-printable, written out by hand."""
    text = adf_document("Hélène", "Côté", "helene@example.com").replace("UTF-8", "ISO-8859-1")
    body = quopri.encodestring(text.encode("iso-8859-1"))
    head = (
        "From: leads@cars.example\r\nTo: leads@dealer.example\r\nSubject: Lead\r\n"
        f"Message-ID: {make_msgid(domain='cars.example')}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=ISO-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode() + body.replace(b"\n", b"\r\n")


def bounce(recipient: str, original_id: str, action: str = "failed") -> bytes:
    """An RFC 3464 delivery-status notification returning our message's headers."""
    text = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: {DEALER}
Subject: Undelivered Mail Returned to Sender
Date: Tue, 10 Mar 2026 09:31:00 -0500
Message-ID: {make_msgid(domain="mx.example")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
Arrival-Date: Tue, 10 Mar 2026 09:30:58 -0500

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: user unknown

--BOUNDARY
Content-Type: text/rfc822-headers

From: {DEALER}
To: {recipient}
Subject: Your inquiry
Message-ID: {original_id}

--BOUNDARY--
"""
    return text.replace("\n", "\r\n").encode()


def out_of_office(to: str, in_reply_to: str = "", sender: str = "dana@example.com") -> bytes:
    message = _base("Out of Office: Your inquiry", f"Dana <{sender}>")
    message.replace_header("To", to)
    message["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message.set_content("I am away until Monday and will answer when I am back.\n")
    return bytes(message)


def gmail_reply(to: str, in_reply_to: str = "", sender: str = "dana@example.com") -> bytes:
    message = _base("Re: Your inquiry about the CR-V", f"Dana Tremblay <{sender}>")
    message.replace_header("To", to)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(
        "Yes, Saturday at 10 works for me.\n\nDana\n\n"
        "On Tue, Mar 10, 2026 at 9:00 AM Maple Ridge Motors <leads@dealer.example>\nwrote:\n\n"
        "> Hi Dana,\n>\n> Would you like to see the CR-V this week?\n"
    )
    return bytes(message)


def outlook_reply(to: str, sender: str = "dana@example.com") -> bytes:
    message = _base("RE: Your inquiry about the CR-V", f"Tremblay, Dana <{sender}>")
    message.replace_header("To", to)
    message["Thread-Index"] = "AdoTestThreadIndex=="
    message.set_content(
        "Can you send me the price with winter tires?\r\n\r\n"
        "________________________________\r\n"
        "From: Maple Ridge Motors <leads@dealer.example>\r\n"
        "Sent: Tuesday, March 10, 2026 9:00 AM\r\n"
        "To: Dana Tremblay <dana@example.com>\r\n"
        "Subject: Your inquiry about the CR-V\r\n\r\n"
        "Hi Dana, would you like to see the CR-V this week?\r\n"
    )
    message.add_alternative(
        "<html><body><p>Can you send me the price with winter tires?</p>"
        '<div style="border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> Maple Ridge Motors'
        "<br><b>Sent:</b> Tuesday, March 10, 2026 9:00 AM<br><b>To:</b> Dana</p></div>"
        "<p>Hi Dana, would you like to see the CR-V this week?</p></body></html>",
        "html",
    )
    return bytes(message)


def plain_inquiry(sender: str = "Pat Lee <pat.lee@example.com>") -> bytes:
    message = _base("Question about a used Tacoma", sender)
    message.set_content(
        "Hello,\n\nDo you still have the grey 2021 Tacoma on your site? "
        "Could I trade in my 2015 Corolla?\n\nThanks,\nPat\n"
    )
    return bytes(message)


def form_mailer(email: str = "robin@example.com") -> bytes:
    """A web-site contact form relayed by the site's mailer (automatic, the customer inside)."""
    message = _base("Website contact form", "Website <noreply@dealer-site.example>")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "A visitor filled in the contact form.\n\n"
        "Name: Robin Martin\n"
        f"Email: {email}\n"
        "Phone: 416-555-0123\n"
        "Year: 2024\nMake: Toyota\nModel: RAV4\n"
        "Message: Is financing available?\n"
    )
    return bytes(message)
