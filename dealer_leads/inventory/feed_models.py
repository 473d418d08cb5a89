"""Feed consumers (pull-URL tokens), feed exports (snapshots for the change report), promotions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db


class FeedConsumer(db.Model):
    """A site that pulls the feeds with its own secret token (only the token's hash is kept)."""

    __tablename__ = "feed_consumers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(
        String(8), default=""
    )  # first characters, to tell apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeedExport(db.Model):
    """One published build: what each feed listed, and what changed since the build before."""

    __tablename__ = "feed_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    status: Mapped[str] = mapped_column(String(12), default="published")  # or "held"
    note: Mapped[str] = mapped_column(Text, default="")
    listed: Mapped[dict] = mapped_column(JSON, default=dict)  # {"google": 812, …}
    # {vin: [stock, title, price, sale price, photo signature]} of the vehicles listed anywhere
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    # {"added": [...], "removed": [...], "price": [...], "photos": [...]} (capped lists)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    added: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    price_changed: Mapped[int] = mapped_column(default=0)
    photos_changed: Mapped[int] = mapped_column(default=0)


class Promotion(db.Model):
    """A time-boxed offer on the vehicles a filter selects (an empty filter field matches all)."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text, default="")  # shown in the feeds and e-mails
    discount_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    make: Mapped[str] = mapped_column(String(50), default="")
    model: Mapped[str] = mapped_column(String(50), default="")
    year_from: Mapped[int | None]
    year_to: Mapped[int | None]
    condition: Mapped[str] = mapped_column(String(20), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
