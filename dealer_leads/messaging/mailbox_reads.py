"""What the mailbox pages show: received e-mails with what each became (reads only)."""

from __future__ import annotations

from dataclasses import dataclass

from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload
from dealer_leads.messaging.mail_in import InMail, header_block, read_headers, read_mail
from dealer_leads.messaging.models import MailboxState

KINDS = (
    "adf",
    "inquiry",
    "reply",
    "bounce",
    "auto_reply",
    "notice",
    "needs_review",
    "too_large",
)


class MailNotFound(LookupError):
    """No received e-mail with that id."""


@dataclass
class MailRow:
    """One received e-mail as listed: the stored payload and its headers."""

    inbound: InboundPayload
    mail: InMail

    @property
    def kind(self) -> str:
        return (self.inbound.response or {}).get("kind") or self.inbound.status

    @property
    def lead_ids(self) -> list[int]:
        return list((self.inbound.response or {}).get("lead_ids") or [])


def list_mail(kind: str = "", limit: int = 100) -> list[MailRow]:
    """The most recent received e-mails, newest first, optionally of one kind."""
    query = db.select(InboundPayload).where(InboundPayload.channel == "email")
    if kind in ("needs_review", "too_large"):
        query = query.where(InboundPayload.status == "failed")  # what waits for a person
    elif kind:
        query = query.where(InboundPayload.status != "failed")
    # JSON path filters differ per engine; the kind is checked here, on a bounded window.
    rows = db.session.scalars(query.order_by(InboundPayload.id.desc()).limit(limit * 5))
    found = [MailRow(p, read_headers(header_block(p.raw))) for p in rows]
    if kind and kind != "needs_review":
        found = [row for row in found if row.kind == kind]
    return found[:limit]


def get_mail(inbound_id: int) -> MailRow:
    """One received e-mail, read whole."""
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is None or inbound.channel != "email":
        raise MailNotFound(f"there is no received e-mail #{inbound_id}")
    return MailRow(inbound, read_mail(inbound.raw))


def mailbox_states() -> list[MailboxState]:
    """Every folder polled, with how far it was read."""
    return list(db.session.scalars(db.select(MailboxState).order_by(MailboxState.mailbox)))
