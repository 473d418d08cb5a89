"""Reading one received e-mail (pure: bytes in, values out; nothing is stored or sent here).

`read_mail` parses the raw message with the standard library's `email` package and pulls out
what the mailbox service decides on: the sender, the ids it refers to, the plain text, ADF
documents (in a text body, as escaped XML in an HTML body, or in an attachment), whether it
is an automatic message (RFC 3834) and, for a delivery-status notification (RFC 3464), which
addresses failed. Malformed MIME, unknown charsets and messages with thousands of parts are
read as far as they go, with warnings, never with an exception.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr
from functools import lru_cache
from html.parser import HTMLParser

from dealer_leads.messaging.email import MAIL_POLICY

MAX_PARTS = 500
MAX_DEPTH = 20
MAX_TEXT = 200_000
XML_TYPES = ("application/xml", "text/xml", "application/x-adf+xml", "application/adf+xml")
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
_ADF = re.compile(r"(?:<\?adf[^>]*\?>\s*)?<adf\b.*?</adf\s*>", re.IGNORECASE | re.DOTALL)
_XML_DECL = re.compile(r"<\?xml[^>]*\?>", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
_OUT_OF_OFFICE = re.compile(
    r"\b(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (the |my )?(office|desk)|on vacation|on holiday|on leave|"
    r"abwesenheit|r[ée]ponse automatique|absent du bureau|respuesta autom[áa]tica|"
    r"fuera de la oficina)\b",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon")
_GMAIL_WROTE = re.compile(
    r"^\s*(On|Le|Am|El|Op)\b.{0,300}(wrote|a écrit|schrieb|escribió|schreef)\s*:\s*$",
    re.IGNORECASE,
)
_OUTLOOK_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Message d'origine)\s*-{2,}|_{10,})"
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|De|Von)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Envoyé|Gesendet|To|À|An)\s*:", re.IGNORECASE)


@dataclass
class Failure:
    """One recipient a delivery-status notification reports on."""

    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass
class InMail:
    """What the mailbox needs from one message."""

    message_id: str = ""
    refers_to: list[str] = field(default_factory=list)  # In-Reply-To, then References
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    date: str = ""
    text: str = ""
    adf_documents: list[bytes] = field(default_factory=list)
    auto_submitted: str = ""  # RFC 3834 value, or the header that marked it automatic
    auto_reply: bool = False  # an out-of-office or other automatic answer
    report: bool = False  # multipart/report; report-type=delivery-status
    failures: list[Failure] = field(default_factory=list)
    original_ids: list[str] = field(default_factory=list)  # Message-IDs in a bounce
    parts: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def automatic(self) -> bool:
        """Sent by a program: never answer it, never start a follow-up plan at its sender."""
        daemon = self.from_address.split("@")[0].lower() in _DAEMONS
        return bool(self.auto_submitted or self.auto_reply or self.report or daemon)

    @property
    def bounced(self) -> list[Failure]:
        """The recipients that failed for good (not the delayed or delivered ones)."""
        return [f for f in self.failures if f.action == "failed"]


def read_mail(raw: bytes) -> InMail:
    """Parse a raw RFC 822 message; never raises on bad input (problems become warnings)."""
    mail = InMail()
    try:
        message = BytesParser(policy=MAIL_POLICY).parsebytes(raw)
    except Exception as error:  # the parser can still fail on pathological nesting
        mail.warnings.append(f"the MIME structure could not be read ({type(error).__name__})")
        message = BytesHeaderParser(policy=MAIL_POLICY).parsebytes(raw)
        _read_headers(message, mail)
        return mail
    _read_headers(message, mail)
    if message.defects:
        mail.warnings.append(f"MIME defects: {', '.join(_defect_names(message))}")
    try:
        _read_body(message, mail)
    except RecursionError:
        mail.warnings.append("the message nests parts too deeply; read as far as possible")
    return mail


@lru_cache(maxsize=2)
def read_mail_once(raw: bytes) -> InMail:
    """`read_mail`, remembered for the message being handled: the mailbox service and the
    intake parser read the same bytes one after the other. Treat the result as read-only."""
    return read_mail(raw)


def read_headers(raw: bytes) -> InMail:
    """Only the header fields (for lists and for a message too large to read whole)."""
    mail = InMail()
    _read_headers(BytesHeaderParser(policy=MAIL_POLICY).parsebytes(raw), mail)
    return mail


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message, up to and including the blank line."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end != -1:
            return raw[: end + len(separator)]
    return raw[:65536]


def _defect_names(message: Message) -> list[str]:
    return sorted({type(defect).__name__ for defect in message.defects})


def header(message: Message, name: str) -> str:
    """A header's value as text; a malformed one is read raw rather than dropped."""
    try:
        value = message.get(name)
        return "" if value is None else str(value).strip()
    except Exception:  # the header parser raises on some malformed values
        for key, raw_value in message.raw_items():
            if key.lower() == name.lower():
                return str(raw_value).strip()
        return ""


def _read_headers(message: Message, mail: InMail) -> None:
    own = _ids(header(message, "Message-ID"))
    mail.message_id = own[0][:250] if own else ""
    mail.refers_to = _ids(header(message, "In-Reply-To")) + _ids(header(message, "References"))
    mail.from_name, address = parseaddr(header(message, "From"))
    mail.from_address = address.strip().lower()
    mail.reply_to = parseaddr(header(message, "Reply-To"))[1].strip().lower()
    values = [header(message, name) for name in RECIPIENT_HEADERS]
    mail.recipients = [a.strip().lower() for _, a in getaddresses([v for v in values if v]) if a]
    mail.subject = header(message, "Subject")[:998]
    mail.date = header(message, "Date")[:200]
    _read_automatic(message, mail)


def _ids(value: str) -> list[str]:
    return [found.strip("<>") for found in _MSGID.findall(value)][:100]


def _read_automatic(message: Message, mail: InMail) -> None:
    """RFC 3834 Auto-Submitted, the de-facto X-Autoreply family and out-of-office subjects."""
    submitted = header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        mail.auto_submitted = submitted
    precedence = header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply") and not mail.auto_submitted:
        mail.auto_submitted = f"precedence: {precedence}"
    marked = any(header(message, name) for name in ("X-Autoreply", "X-Autorespond"))
    mail.auto_reply = (
        submitted == "auto-replied"
        or precedence == "auto_reply"
        or marked
        or bool(_OUT_OF_OFFICE.search(mail.subject))
    )
    if marked and not mail.auto_submitted:
        mail.auto_submitted = "x-autoreply"


def _leaves(part: Message, mail: InMail, depth: int = 0) -> Iterator[Message]:
    """Every non-multipart part, depth first, at most MAX_PARTS; attached messages are leaves."""
    if mail.parts >= MAX_PARTS:
        return
    mail.parts += 1
    if not part.is_multipart() or part.get_content_maintype() == "message":
        yield part
        return
    if depth >= MAX_DEPTH:
        mail.warnings.append(f"parts nested deeper than {MAX_DEPTH} levels were not read")
        return
    payload = part.get_payload()
    for child in payload if isinstance(payload, list) else []:
        yield from _leaves(child, mail, depth + 1)
        if mail.parts >= MAX_PARTS:
            mail.warnings.append(f"only the first {MAX_PARTS} MIME parts were read")
            return


def _read_body(message: Message, mail: InMail) -> None:
    mail.report = (
        message.get_content_type() == "multipart/report"
        and message.get_param("report-type", "").lower() == "delivery-status"
    )
    texts, htmls = [], []
    for part in _leaves(message, mail):
        kind = part.get_content_type()
        filename = _filename(part)
        if kind == "message/delivery-status":
            mail.failures += _delivery_status(part)
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            mail.original_ids += _original_ids(part)
        elif _may_hold_adf(kind, filename):
            data = part.get_payload(decode=True) or b""
            if b"<adf" in data[:65536].lower():
                mail.adf_documents.append(data)
        elif kind == "text/plain" and not filename:
            texts.append(_part_text(part, mail))
        elif kind == "text/html" and not filename:
            htmls.append(_part_text(part, mail))
    body = "\n\n".join(t for t in texts if t.strip())
    html_text = "\n\n".join(html_to_text(h) for h in htmls if h.strip())
    mail.text = (body or html_text)[:MAX_TEXT]
    if not mail.adf_documents:
        # The HTML's text first: an escaped document there may have <br> tags between lines.
        mail.adf_documents = _adf_in_text([body, html_text, *htmls])


def _may_hold_adf(kind: str, filename: str) -> bool:
    """An XML part, or an attached file that could be an ADF document under another name."""
    if kind in XML_TYPES or filename.lower().endswith((".xml", ".adf")):
        return True
    return bool(filename) and kind in ("text/plain", "application/octet-stream")


def _filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:
        return ""


def _part_text(part: Message, mail: InMail) -> str:
    """A text part decoded by its charset; an unknown or wrong charset falls back, with a note."""
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return data.decode(charset)
    except LookupError:
        mail.warnings.append(f"unknown charset {charset!r}; read as Windows-1252")
    except UnicodeDecodeError:
        mail.warnings.append(f"the text is not valid {charset}; undecodable bytes replaced")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode(charset, errors="replace")
    return data.decode("cp1252", errors="replace")


def _adf_in_text(texts: list[str]) -> list[bytes]:
    """ADF documents written out in a body, literally or as escaped XML in HTML."""
    for text in texts:
        if not text or "adf" not in text.lower():
            continue
        candidates = [text, html.unescape(text)] if "&lt;" in text else [text]
        for candidate in candidates:
            found = [_XML_DECL.sub("", m.group(0)) for m in _ADF.finditer(candidate)]
            if found:
                return [f'<?xml version="1.0" encoding="UTF-8"?>\n{doc}'.encode() for doc in found]
    return []


def _delivery_status(part: Message) -> list[Failure]:
    """The per-recipient blocks of an RFC 3464 report (the parser splits them for us)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return []
    failures = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        recipient = header(block, "Final-Recipient") or header(block, "Original-Recipient")
        address = recipient.partition(";")[2].strip() if ";" in recipient else recipient
        if "@" not in address:
            continue
        failures.append(
            Failure(
                recipient=address.strip("<> ").lower()[:254],
                action=header(block, "Action").lower()[:20],
                status=header(block, "Status")[:20],
                diagnostic=header(block, "Diagnostic-Code")[:500],
            )
        )
    return failures


def _original_ids(part: Message) -> list[str]:
    """The Message-ID of the message a bounce returns (attached whole or as headers)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return _ids(header(payload[0], "Message-ID"))
    text = part.get_payload(decode=True) or b""
    found = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", text, re.IGNORECASE | re.MULTILINE)
    return [found.group(1).decode("ascii", "replace").strip("<>")] if found else []


class _TextOfHtml(HTMLParser):
    BLOCKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.chunks.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: tags dropped, entities decoded, blocks on their own lines."""
    parser = _TextOfHtml()
    try:
        parser.feed(markup[: MAX_TEXT * 2])
        parser.close()
    except Exception:  # HTMLParser is lenient; this is only a guard
        return re.sub(r"<[^>]*>", " ", markup)
    lines = [
        re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.chunks).split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def split_quoted(text: str) -> tuple[str, str]:
    """(what the sender wrote, the quoted earlier message) for Gmail and Outlook style replies."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _quote_start(lines)
    if cut is None:
        return text.strip(), ""
    return "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip()


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        joined = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        if _GMAIL_WROTE.match(line) or (line.strip()[:3] == "On " and _GMAIL_WROTE.match(joined)):
            return i
        if _OUTLOOK_SEPARATOR.match(line):
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            return i
    # A trailing block of "> " lines (blank lines allowed) with no attribution line.
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and (lines[start - 1].startswith(">") or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    return start if start < end and start > 0 else None
