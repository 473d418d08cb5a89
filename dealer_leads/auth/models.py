"""Staff users and the API keys lead providers and apps use."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dealer_leads.database import UTCDateTime, now_utc
from dealer_leads.extensions import db

ROLES = ("supervisor", "advisor", "webmaster", "admin")
# Who may do what: the pages' role_required and the services' own checks read these.
SUPERVISING_ROLES = ("supervisor", "admin")  # every lead: triage, assign, merge, plans, reports
LEAD_ROLES = ("supervisor", "admin", "advisor")  # the lead pages; an advisor sees their own leads
STOCK_ROLES = ("supervisor", "admin", "webmaster")  # vehicles, photos, promotions
SITE_ROLES = ("webmaster", "admin")  # the web site's feeds and API keys
# `leads` posts leads and reads back the leads it sent; `leads:read` reads every lead (a CRM or
# reporting tool), so only an admin may grant it: the webmaster sees no customer's data.
API_SCOPES = ("leads", "leads:read", "inventory", "feeds")
ADMIN_ONLY_SCOPES = ("leads:read",)


class User(UserMixin, db.Model):
    """A member of staff who signs in; `role` decides what they may see and do."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    on_shift: Mapped[bool] = mapped_column(default=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The secret in the advisor's calendar subscription URL; reset makes the old URL stop.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def supervises(self) -> bool:
        """Sees and handles every lead (the supervisor and the admin)."""
        return self.role in SUPERVISING_ROLES

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiKey(db.Model):
    """A bearer key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split() if scope]

    @staticmethod
    def hash_key(key: str) -> str:
        """SHA-256 is enough: keys are long random strings, not passwords."""
        return hashlib.sha256(key.encode()).hexdigest()
