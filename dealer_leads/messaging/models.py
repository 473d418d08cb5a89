"""Message templates, consent, opt-outs, and every message sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

TEMPLATE_CHANNELS = ("email", "sms")
CONSENT_CHANNELS = ("email", "sms", "call")
CONSENT_KINDS = ("express", "implied")
SUPPRESSION_CHANNELS = ("email", "sms", "call", "all")


class MessageTemplate(db.Model):
    """A Jinja template (sandboxed) for an automatic e-mail or text, edited by the supervisor."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(250), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Consent(db.Model):
    """Permission to contact a customer on one channel: express or implied, with its expiry."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_customer_id_channel", "customer_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(200), default="")
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(db.Model):
    """An opt-out: this address (e-mail or E.164 phone) gets nothing more on that channel."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(5))
    address: Mapped[str] = mapped_column(String(254), index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(40), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class OutboundMessage(db.Model):
    """Every e-mail or text that left, with the ids that tie replies and receipts back to it."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_lead_id_sent_at", "lead_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"))
    channel: Mapped[str] = mapped_column(String(5))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    reply_token: Mapped[str] = mapped_column(String(40), default="", index=True)
    provider_id: Mapped[str] = mapped_column(String(100), default="", index=True)
    status: Mapped[str] = mapped_column(String(12), default="sent")
    error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class MailboxState(db.Model):
    """How far the leads mailbox has been read: one row per server, account and folder.

    IMAP UIDs only grow within one UIDVALIDITY; when the server changes it, every UID is new
    and the mailbox is read again from the start (Message-IDs keep that from acting twice)."""

    __tablename__ = "mailbox_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(400), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
