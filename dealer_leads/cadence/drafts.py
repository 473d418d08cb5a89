"""The draft of an e-mail task: its step's template filled in for the lead when the task opens,
kept in the touch's outcome until the task is done (the person's notes then replace it). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

DRAFT_START = "Subject: "
PERSON_EMAIL = "email_task"


@dataclass(frozen=True)
class EmailDraft:
    """A draft to read, copy, or open in the person's own mail program."""

    subject: str
    body: str
    mailto: str


def draft_text(subject: str, body: str) -> str:
    """The draft as stored: a subject line, a blank line, the plain-text body."""
    return f"{DRAFT_START}{subject}\n\n{body.rstrip()}\n"


def email_draft(touch: Any, to: str = "") -> EmailDraft | None:
    """The draft an e-mail task carries, or None (another step, or no draft)."""
    text = touch.outcome or ""
    if touch.channel != PERSON_EMAIL or not text.startswith(DRAFT_START):
        return None
    first, _, body = text.partition("\n\n")
    subject = first.removeprefix(DRAFT_START).strip()
    return EmailDraft(subject, body, mailto_link(to, subject, body))


def mailto_link(to: str, subject: str, body: str) -> str:
    """A mailto: URL (RFC 6068) that opens a new message with the draft filled in."""
    lines = body.replace("\r\n", "\n").replace("\n", "\r\n")  # line breaks are CRLF there
    query = f"subject={quote(subject, safe='')}&body={quote(lines, safe='')}"
    return f"mailto:{quote(to, safe='@')}?{query}"
