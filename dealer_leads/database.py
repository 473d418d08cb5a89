"""The declarative base, a UTC datetime column type, and SQLite connection settings."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import has_request_context, request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now_utc() -> datetime:
    """The current time, time-zone aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and hands them back aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base whose constraints get predictable names (Alembic needs them)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)
_read_only: ContextVar[bool] = ContextVar("read_only", default=False)


@contextmanager
def read_only_begin() -> Iterator[None]:
    """A transaction begun inside is a plain (deferred) BEGIN on SQLite, even in a POST request.

    Only for a look-up whose transaction is ended before anything is written (the API key
    check): a deferred transaction that later writes can fail at once with 'database is
    locked' when another writer committed meanwhile, instead of waiting its turn.
    """
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def _begins_immediate() -> bool:
    """Writers take SQLite's write lock at BEGIN, so they wait in turn instead of failing."""
    if _write_intent.get():
        return True
    if _read_only.get():
        return False
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return True  # CLI commands, worker jobs and tests write


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for writing transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not _begins_immediate():
            connection.exec_driver_sql("BEGIN")
        elif not _poll_begin_immediate(connection.connection.dbapi_connection, busy_timeout_ms):
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits with the busy timeout


# SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so a writer that
# finds the lock taken mostly sleeps well past its release (measured: two gunicorn workers then
# hardly overlap). A writer polls every 0.2-2 ms for a short while first.
_POLL_PAUSES = (0.0002, 0.0005, 0.001, 0.002)
_POLL_WINDOW = 0.25  # seconds; then the busy timeout as usual


def _poll_begin_immediate(dbapi_connection, busy_timeout_ms: int) -> bool:
    """BEGIN IMMEDIATE, trying again every 0.2-2 ms while another writer holds the lock;
    False when it is still held after _POLL_WINDOW (no transaction begun then)."""
    deadline = time.monotonic() + min(_POLL_WINDOW, busy_timeout_ms / 1000)
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        for attempt in itertools.count():
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):  # SQLITE_BUSY: "database is locked"
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_PAUSES[min(attempt, len(_POLL_PAUSES) - 1)])
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return False
