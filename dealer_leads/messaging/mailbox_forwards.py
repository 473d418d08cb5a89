"""The original inside a forwarded e-mail (pure: bytes in, values out).

When a member of staff forwards a customer's message to the leads mailbox, the customer is the
sender of the original, not the member of staff. The original is found

- attached whole (`message/rfc822`, "forward as attachment"): its own header fields are read;
- or written out inline under a forward marker ("---------- Forwarded message ---------",
  "Begin forwarded message:", Thunderbird's, and Outlook's separator when the subject says it
  is a forward), followed by a block of "From:", "Reply-To:", "Subject:" … lines.

Only an original whose "From:" (or "Reply-To:") holds an e-mail address counts: a display name
alone (as some Outlook forwards write it) cannot be answered, so that message waits for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from itertools import islice

from dealer_leads.messaging.email import MAIL_POLICY
from dealer_leads.messaging.mail_in import MAX_PARTS, InMail, read_mail

HEADER_LINES = 15  # a forwarded header block is a handful of lines; more is not one
_FORWARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*(Forwarded message|Message transf[ée]r[ée]|Weitergeleitete Nachricht|"
    r"Mensaje reenviado)\s*-{2,}|(Begin forwarded message|D[ée]but du message r[ée]exp[ée]di[ée])"
    r"\s*:)\s*$",
    re.IGNORECASE,
)
_OUTLOOK_MARKER = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Message d'origine)\s*-{2,}|_{10,})\s*$", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|tr|wg|rv)\s*:", re.IGNORECASE)
_FIELD = re.compile(
    r"^\s*\*?(From|De|Von|Reply-To|R[ée]pondre [àa]|Antwort an|Subject|Objet|Betreff|Asunto|"
    r"Date|Sent|Envoy[ée]|Gesendet|Enviado|To|[ÀA]|An|Para|Cc)\s*:\*?\s*(.*?)\s*$",
    re.IGNORECASE,
)
_NAMES = {
    "de": "from",
    "von": "from",
    "répondre à": "reply-to",
    "repondre a": "reply-to",
    "repondre à": "reply-to",
    "antwort an": "reply-to",
    "objet": "subject",
    "betreff": "subject",
    "asunto": "subject",
}
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


@dataclass
class Forwarded:
    """The forwarded original: who wrote it, what it said, and whether it was attached."""

    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    subject: str = ""
    text: str = ""
    auto_submitted: str = ""
    attached: bool = False

    @property
    def addresses(self) -> list[str]:
        """The original's own addresses (Reply-To first: that is where answers go)."""
        return [a for a in dict.fromkeys((self.reply_to, self.from_address)) if a]


def forwarded_original(raw: bytes, mail: InMail) -> Forwarded | None:
    """The original a forward carries, attached or inline; None when there is none to trust."""
    return _attached(raw) or _inline(mail.text, mail.subject)


def _attached(raw: bytes) -> Forwarded | None:
    try:
        message = BytesParser(policy=MAIL_POLICY).parsebytes(raw)
        parts = list(islice(message.walk(), MAX_PARTS))
    except Exception:  # too broken or too deep to walk: there is no attachment to read
        return None
    for part in parts[1:]:
        if part.get_content_type() != "message/rfc822":
            continue
        inner = _inner_message(part)
        if inner is None:
            return None
        original = read_mail(inner)
        sender, reply_to = (
            a if "@" in a else "" for a in (original.from_address, original.reply_to)
        )
        if not (sender or reply_to):
            return None
        automatic = original.auto_submitted or ("auto-replied" if original.auto_reply else "")
        return Forwarded(
            from_name=original.from_name,
            from_address=sender,
            reply_to=reply_to,
            subject=original.subject,
            text=original.text,
            auto_submitted=automatic,
            attached=True,
        )
    return None


def _inner_message(part: Message) -> bytes | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    try:
        return inner.as_bytes(policy=MAIL_POLICY)
    except Exception:  # a malformed header the generator cannot write back
        return None


def _inline(text: str, subject: str) -> Forwarded | None:
    lines = text.replace("\r\n", "\n").split("\n")
    outlook_too = bool(_FORWARD_SUBJECT.match(subject))
    for i, line in enumerate(lines):
        if _FORWARD_MARKER.match(line) or (outlook_too and _OUTLOOK_MARKER.match(line)):
            return _header_block(lines, i + 1)
    return None


def _header_block(lines: list[str], start: int) -> Forwarded | None:
    """The "From: … / Subject: …" lines after a marker, then the original's text."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    fields: dict[str, str] = {}
    end = start
    for end in range(start, min(len(lines), start + HEADER_LINES)):
        match = _FIELD.match(lines[end])
        if not match:
            break
        name = match.group(1).lower()
        fields.setdefault(_NAMES.get(name, name), match.group(2))
    else:
        end = min(len(lines), start + HEADER_LINES)
    name, address = _name_and_address(fields.get("from", ""))
    reply_to = _name_and_address(fields.get("reply-to", ""))[1]
    if not (address or reply_to):
        return None
    return Forwarded(
        from_name=name,
        from_address=address,
        reply_to=reply_to,
        subject=fields.get("subject", "")[:998],
        text="\n".join(lines[end:]).strip(),
    )


def _name_and_address(value: str) -> tuple[str, str]:
    """'Dana Tremblay <dana@example.com>' or 'Dana [mailto:dana@example.com]' → name, address."""
    match = _ADDRESS.search(value)
    if match is None:
        return "", ""
    name = value[: match.start()].replace("mailto:", "").strip(" \t<[\"'*")
    return name.strip(" \t\"'*")[:200], match.group(0).lower()[:254]
