"""The declarative base, a UTC datetime column type, and SQLite connection settings."""

from __future__ import annotations

import functools
import itertools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import has_request_context, request
from sqlalchemy import DateTime, MetaData, Table, bindparam, event, insert, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import MANYTOONE, DeclarativeBase, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
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


@contextmanager
def read_apart(session: Session) -> Iterator[None]:
    """On SQLite, with no transaction open and nothing waiting to be flushed: the reads inside
    are a transaction of their own (a deferred BEGIN), ended at once, keeping what they loaded.

    For the look-ups a writing request does first (its API key, the dealership's settings):
    the write lock is then taken at the first write, and held for less. Elsewhere (a
    transaction open, PostgreSQL) the reads simply run in the current transaction.
    """
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        yield
        return
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with read_only_begin(), session.no_autoflush:
        yield
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()  # only read: nothing to expire
    finally:
        session.expire_on_commit = expire


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


def insert_as_loaded(session: Session, objects: Sequence[object], *, commit: bool = False) -> None:
    """Write new objects' rows with one prepared INSERT per table, then hand the objects to
    the session as stored, as though a query had loaded them.

    For a hot path writing a handful of rows: the unit of work's flush costs about four times
    as much as the statements it runs (measured on the intake). `objects` come parents first;
    each one's many-to-one links give its foreign keys, unset columns take their defaults, and
    the generated id is set on the object. No ORM events fire, and nothing pending is flushed
    first; the flush still writes any change made to the objects afterwards. Objects already
    in the session as pending are taken out of it first. `commit`: the session commits after
    the INSERTs, before the objects join it (so the commit does not expire them).
    """
    for instance in objects:
        state = inspect(instance)
        key = insert_row(session, state.mapper.local_table, _row_of(state))
        for column, value in zip(state.mapper.primary_key, key, strict=True):
            state.dict[state.mapper.get_property_by_column(column).key] = value
    if commit:
        session.commit()
    for instance in objects:
        if instance in session:
            session.expunge(instance)
    for instance in objects:
        make_transient_to_detached(instance)
    for instance in objects:
        if instance not in session:  # else joined already, through a link of an earlier one
            session.add(instance)


def insert_row(session: Session, table: Table, row: dict) -> tuple:
    """INSERT one row on the session's connection, with a statement built once per table (the
    values are parameters: no statement or cache key to build each time, a third of the cost
    of such small statements); returns the new primary key. Nothing pending is flushed first."""
    return session.connection().execute(_insert_for(table), row).inserted_primary_key


def update_as_loaded(session: Session, instance: object, **values) -> None:
    """Set columns of a stored object with one prepared UPDATE by primary key on the session's
    connection, and on the object as though loaded so (it stays clean for the flush). Other
    changes pending on the object are left to the flush."""
    state = inspect(instance)
    mapper = state.mapper
    columns = tuple(sorted(mapper.attrs[name].columns[0].key for name in values))
    keys = {
        f"pk_{column.key}": value
        for column, value in zip(
            mapper.primary_key, mapper.primary_key_from_instance(instance), strict=True
        )
    }
    row = {mapper.attrs[name].columns[0].key: value for name, value in values.items()}
    session.connection().execute(_update_for(mapper.local_table, columns), {**row, **keys})
    for name, value in values.items():
        set_committed_value(instance, name, value)


def _row_of(state) -> dict:
    """The column values of a new object, its links' keys and the columns' defaults filled in
    (and set on the object, so that reading them later needs no query)."""
    mapper, values = state.mapper, state.dict
    for link in mapper.relationships:
        parent = values.get(link.key)
        if link.direction is not MANYTOONE or parent is None:
            continue
        parent_mapper = inspect(parent).mapper
        for local, remote in link.local_remote_pairs:
            value = getattr(parent, parent_mapper.get_property_by_column(remote).key)
            if value is None:
                raise ValueError(
                    f"{mapper.class_.__name__}.{link.key} is not stored: list it first"
                )
            values[mapper.get_property_by_column(local).key] = value
    row = {}
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if attribute.key in values:
            row[column.key] = values[attribute.key]
        elif column.primary_key or column.server_default is not None:
            continue  # the database's to fill (read back when first used)
        else:
            row[column.key] = values[attribute.key] = column_default(column)
    return row


def column_default(column):
    """The value a column's Python-side default gives a new row (None without one)."""
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps the callable to take a context
    raise TypeError(f"{column}: a SQL default cannot be filled in before the INSERT")


@functools.cache
def _insert_for(table: Table):
    return insert(table)


@functools.cache
def _update_for(table: Table, columns: tuple[str, ...]):
    """UPDATE table SET the columns WHERE the primary key is :pk_<name>."""
    where = [column == bindparam(f"pk_{column.key}") for column in table.primary_key.columns]
    return update(table).where(*where).values({name: bindparam(name) for name in columns})
