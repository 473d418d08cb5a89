"""Helpers shared by the tests (imported as `from support import …`)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, event, make_url, text
from werkzeug.serving import make_server

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a visible skip when that folder is not beside the project."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/{'/'.join(parts)} is not present")
    return path


def login(client, user, password: str = "password123"):
    """Sign in through the real form (CSRF is off in tests unless a test turns it on)."""
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def csrf_token(html: str) -> str:
    """The first form's CSRF token in a page."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def login_with_csrf(client, user, password: str = "password123"):
    """Sign in through the real form of an app that checks CSRF tokens."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": user.email, "password": password, "csrf_token": token}
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@contextmanager
def sql_statements():
    """The SQL statements the app's engine runs inside the block (BEGIN sent on the DBAPI
    connection itself, as SQLite's writers do, is not among them)."""
    from dealer_leads.extensions import db

    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


@contextmanager
def serve(app):
    """Serve `app` on a free loopback port in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _admin_engine(server_url: str):
    url = make_url(re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", server_url))
    return create_engine(url, isolation_level="AUTOCOMMIT"), url


def create_postgres_database(server_url: str) -> str:
    """A new, empty database on the server TEST_DATABASE_URL names; returns its URL."""
    engine, url = _admin_engine(server_url)
    name = f"dl_test_{os.getpid()}_{secrets.token_hex(3)}"
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, test_url: str) -> None:
    """Drop a database made by create_postgres_database, whoever is still connected."""
    engine, _ = _admin_engine(server_url)
    name = make_url(test_url).database
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CollectingSmtp:
    """An SMTP server's handler that accepts everything and keeps the envelopes."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK queued"


@contextmanager
def smtp_server(handler=None):
    """A real SMTP server (aiosmtpd) on a loopback port; yields (handler, port)."""
    handler = handler or CollectingSmtp()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@contextmanager
def app_smtp(app, **config):
    """smtp_server, with the app's mail settings pointing at it; yields the handler."""
    with smtp_server() as (handler, port):
        app.config.update(
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_USE_TLS=False,
            MAIL_DEFAULT_SENDER="Maple Ridge Motors <leads@dealer.example>",
            **config,
        )
        yield handler
