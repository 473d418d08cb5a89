"""The demo's leads mailbox: a morning's messages, read through the real mailbox service.

A provider's ADF e-mail, a form mailer, a person writing in, a customer's reply, an out-of-office
and a bounce, so that the *Mailbox* page and the timelines show what each kind becomes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

from sqlalchemy import select

from dealer_leads.admin.services import get_dealership
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead
from dealer_leads.messaging.mailbox_services import receive_email
from dealer_leads.messaging.senders import LogSender

MAILBOX = "leads@demo.dealer"


def _message(subject: str, sender: str, at: datetime, text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, MAILBOX, subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain="mail.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def _adf(at: datetime) -> EmailMessage:
    adf = f"""<?xml version="1.0"?>
<?adf version="1.0"?>
<adf><prospect><requestdate>{at.isoformat()}</requestdate>
<id source="CarGurus">CG-DEMO-MAIL-1</id>
<vehicle interest="buy" status="used"><year>2021</year><make>Toyota</make>
<model>RAV4</model></vehicle>
<customer><contact><name part="first">Noor</name><name part="last">Haddad</name>
<email>noor.haddad@example.com</email><phone>416-555-0148</phone></contact>
<comments>Is it still available? Could I see it Saturday?</comments></customer>
<provider><name>CarGurus</name></provider></prospect></adf>
"""
    return _message("New lead from CarGurus", "CarGurus <leads@cargurus.example>", at, adf)


def _demo_messages(rng: random.Random, now: datetime) -> list[bytes]:
    """Raw messages received over the last morning, oldest first."""
    customers = db.session.scalars(
        select(Customer)
        .join(Lead, Lead.customer_id == Customer.id)
        .where(Lead.status.in_(("contacted", "engaged")), Customer.email != "")
        .order_by(Customer.id)
        .limit(10)
    ).all()
    at = iter(now - timedelta(hours=5, minutes=10 * n) for n in range(10, 0, -1))
    messages = [
        _adf(next(at)),
        _message(
            "Question about a used Tacoma",
            "Pat Lee <pat.lee@example.com>",
            next(at),
            "Hello,\n\nDo you still have the grey Tacoma on your site? Could I trade in my "
            "2015 Corolla?\n\nThanks,\nPat\n",
        ),
    ]
    if len(customers) >= 3:
        reply_to, away, gone = rng.sample(list(customers), 3)
        messages += [
            _message(
                "Re: Your inquiry",
                f"{reply_to.first_name} {reply_to.last_name} <{reply_to.email}>",
                next(at),
                "Saturday at 10 works for me. Does it have winter tires?\n\n"
                f"On Mon, {MAILBOX} wrote:\n> Would you like to come and see it this week?\n",
            ),
            _message(
                "Out of Office: Your inquiry",
                f"{away.first_name} {away.last_name} <{away.email}>",
                next(at),
                "I am away until Monday and will answer when I am back.\n",
                Auto_Submitted="auto-replied",
            ),
            _bounce(gone.email, next(at)),
        ]
    return [m if isinstance(m, bytes) else bytes(m) for m in messages]


def _bounce(recipient: str, at: datetime) -> bytes:
    """An RFC 3464 delivery-status notification for a message we sent."""
    text = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: {MAILBOX}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(at)}
Message-ID: {make_msgid(domain="mx.example")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"

--REPORT
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to one or more recipients.

--REPORT
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: user unknown

--REPORT--
"""
    return text.replace("\n", "\r\n").encode()


def seed_mail(rng: random.Random, now: datetime) -> None:
    """Read the demo morning's messages through the mailbox service (nothing is sent)."""
    get_dealership()
    for message in _demo_messages(rng, now):
        received = BytesParser().parsebytes(message, headersonly=True)["Date"]
        receive_email(message, parsedate_to_datetime(received), sender=LogSender())
