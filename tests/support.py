"""Helpers shared by the tests (imported as `from support import …`)."""

from __future__ import annotations

import os
import re
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
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
