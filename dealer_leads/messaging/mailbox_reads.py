"""What the mailbox pages show: received e-mails with what each became (reads only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import LargeBinary, func
from sqlalchemy.orm import defer

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
PER_PAGE_MAX = 200
HEAD_BYTES = 65536  # as much as header_block reads of a message with no blank line


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


@dataclass
class MailPage:
    """One page of received e-mails, newest first. `older` and `newer` are the ids to page from
    (`before=older`, `after=newer`), None at either end."""

    rows: list[MailRow]
    older: int | None = None
    newer: int | None = None


def _of_kind(kind: str) -> list:
    """The conditions for one kind: what waits for a person is the failed payloads (too large
    among them); the other kinds are read from the stored outcome, in the query."""
    conditions = [InboundPayload.channel == "email"]
    if kind == "needs_review":
        conditions.append(InboundPayload.status == "failed")
    elif kind:
        failed = kind == "too_large"
        conditions += [
            (InboundPayload.status == "failed") if failed else (InboundPayload.status != "failed"),
            InboundPayload.response["kind"].as_string() == kind,
        ]
    return conditions


def list_mail(
    kind: str = "", *, before: int | None = None, after: int | None = None, per_page: int = 50
) -> MailPage:
    """Received e-mails, newest first, optionally of one kind: the page just older than id
    `before`, or just newer than id `after`, or the newest. Keyset paging: any page costs the
    same, however far back it is."""
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    # Only the start of each message is read: the headers are all a list shows.
    head = func.substr(InboundPayload.raw, 1, HEAD_BYTES, type_=LargeBinary)
    query = (
        db.select(InboundPayload, head).where(*_of_kind(kind)).options(defer(InboundPayload.raw))
    )
    if after is not None:
        query = query.where(InboundPayload.id > after).order_by(InboundPayload.id.asc())
    else:
        if before is not None:
            query = query.where(InboundPayload.id < before)
        query = query.order_by(InboundPayload.id.desc())
    found = list(db.session.execute(query.limit(per_page + 1)))
    more = len(found) > per_page
    found = found[:per_page]
    if after is not None:
        found.reverse()
    rows = [MailRow(inbound, read_headers(header_block(start))) for inbound, start in found]
    if not rows:
        return MailPage(rows)
    first, last = rows[0].inbound.id, rows[-1].inbound.id
    if after is None:  # newer rows exist when we paged back; older ones when more came back
        newer = first if before is not None else None
        return MailPage(rows, older=last if more else None, newer=newer)
    return MailPage(rows, older=last, newer=first if more else None)


def get_mail(inbound_id: int) -> MailRow:
    """One received e-mail, read whole."""
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is None or inbound.channel != "email":
        raise MailNotFound(f"there is no received e-mail #{inbound_id}")
    return MailRow(inbound, read_mail(inbound.raw))


def mailbox_states() -> list[MailboxState]:
    """Every folder polled, with how far it was read."""
    return list(db.session.scalars(db.select(MailboxState).order_by(MailboxState.mailbox)))
