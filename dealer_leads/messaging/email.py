"""Building outbound e-mails (pure: values in, an EmailMessage out; nothing is sent here).

Every e-mail has both parts (plain text and HTML), its own Message-ID, a Reply-To with a
plus-address token that brings the customer's reply back to the lead, List-Unsubscribe with
RFC 8058 one-click, and a footer with the dealership's postal address and an unsubscribe link.
These are personal sales e-mails, not automatic replies, so there is no Auto-Submitted header;
X-Auto-Response-Suppress asks Exchange and Outlook not to answer them with out-of-office notes.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any, Protocol

from markupsafe import escape

REPLY_TOKEN = re.compile(r"^[a-z2-7]{8,40}$")
HTML_PAGE = (
    '<!doctype html>\n<html><head><meta charset="utf-8"></head>\n'
    '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;'
    'color:#222">\n{body}\n{footer}\n</body></html>\n'
)


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, but each header's class is made once: the standard one
    makes a new class every time a header is set or written, a third of the cost of building
    and sending an e-mail."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


class _MailPolicy(EmailPolicy):
    """policy.default, except that a header set from a short one-line text reuses the header
    object made for the same name and text before (the last 512 kept).

    Setting a header parses its value into an immutable header object; most of what an e-mail
    sets is the same every time (its sender, the parts' Content-Type and -Transfer-Encoding,
    MIME-Version, the List-Unsubscribe-Post and X-Auto-Response-Suppress lines), and parsing
    those was half the cost of building one (measured). Values with line breaks are still
    refused, and long ones (from a forwarded message, say) are parsed each time and not kept."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        # The standard check: more than one line is refused (by the call below).
        if type(value) is str and len(value) <= 200 and len(value.splitlines()) <= 1:
            return name, _header_object(self.header_factory, name, value)
        return super().header_store_parse(name, value)


@functools.lru_cache(maxsize=512)
def _header_object(factory: HeaderRegistry, name: str, value: str) -> BaseHeader:
    return factory(name, value)


# policy.default with the above: every e-mail built, parsed or forwarded here uses it.
MAIL_POLICY = _MailPolicy(header_factory=_HeaderClasses())


class RenderedLike(Protocol):
    subject: str
    text: str
    html: str


def reply_token() -> str:
    """80 random bits in lower-case base32 (16 characters): safe in an address's local part,
    unchanged by servers that lower-case addresses, and not guessable."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def reply_address(sender: str, token: str) -> str:
    """`leads+<token>@domain` from the sender (its display name kept): replies reach the lead."""
    name, address = parseaddr(sender)
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError(f"not an e-mail address: {sender!r}")
    plussed = f"{local.split('+', 1)[0]}+{token}@{domain}"
    return formataddr((name, plussed)) if name else plussed


def token_from_address(address: str) -> str | None:
    """The reply token of `leads+<token>@domain` (as written by reply_address), or None."""
    local = parseaddr(address)[1].rpartition("@")[0]
    _, plus, token = local.partition("+")
    token = token.lower()
    return token if plus and REPLY_TOKEN.match(token) else None


def sender_domain(sender: str) -> str:
    """The domain of the sender's address, for Message-IDs ('localhost' when there is none)."""
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    return domain.strip("<> ") if at and domain.strip("<> ") else "localhost"


def dealership_footer(dealership: Any) -> tuple[str, str]:
    """(text, html) footer lines: the dealership's name, postal address and phone."""
    address = ", ".join(
        p
        for p in (
            dealership.street,
            dealership.city,
            " ".join(p for p in (dealership.region, dealership.postal_code) if p),
        )
        if p
    )
    parts = [p for p in (dealership.name, address, dealership.phone) if p]
    return " · ".join(parts), " &middot; ".join(str(escape(p)) for p in parts)


def build_email(
    *,
    rendered: RenderedLike,
    to: str,
    from_addr: str,
    reply_to: str,
    message_id_domain: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None = None,
    dealership_footer_text: str,
    dealership_footer_html: str,
    now: datetime | None = None,
) -> EmailMessage:
    """A ready-to-send e-mail: headers, text and HTML parts, footer with the unsubscribe link.

    `dealership_footer_html` is inserted as HTML (escape it, as dealership_footer does)."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = rendered.subject
    message["From"] = from_addr
    message["To"] = _recipient(to)
    message["Reply-To"] = reply_to
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=message_id_domain.strip("<> ") or "localhost")
    message["List-Unsubscribe"] = _list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message.set_content(text_with_footer(rendered.text, dealership_footer_text, unsubscribe_url))
    if rendered.html.strip():
        html = html_with_footer(rendered.html, dealership_footer_html, unsubscribe_url)
        message.add_alternative(html, subtype="html")
    return message


def _recipient(to: str) -> str:
    """One plain address; a display name or a second address is refused, not sent."""
    return Address(addr_spec=to.strip()).addr_spec


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    if not url.startswith("https://") and not url.startswith("http://"):
        raise ValueError("List-Unsubscribe needs an http(s) URL for one-click (RFC 8058)")
    links = [f"<{url}>"]
    if mailto:
        links.append(f"<{mailto if mailto.startswith('mailto:') else 'mailto:' + mailto}>")
    return ", ".join(links)


def text_with_footer(text: str, footer: str, unsubscribe_url: str) -> str:
    """The plain-text part as sent: the body, then the footer and the unsubscribe link."""
    # "-- " is the signature delimiter: mail clients grey the footer and leave it out of quotes.
    return f"{text.rstrip()}\n\n-- \n{footer}\nUnsubscribe: {unsubscribe_url}\n"


def html_with_footer(html: str, footer_html: str, unsubscribe_url: str) -> str:
    """The HTML part as sent: a whole document, the footer at the end of its body."""
    footer = (
        '<p style="margin-top:32px;font-size:12px;color:#777">'
        f'{footer_html}<br>\n<a href="{escape(unsubscribe_url)}" style="color:#777">'
        "Unsubscribe</a> from these e-mails.</p>"
    )
    closing = re.search(r"</body\s*>", html, re.IGNORECASE)
    if closing:  # a whole document: the footer goes inside its body
        return html[: closing.start()] + footer + "\n" + html[closing.start() :]
    return HTML_PAGE.format(body=html.strip(), footer=footer)
