"""Fixtures: one migrated database per run (SQLite, or TEST_DATABASE_URL), emptied per test."""

from __future__ import annotations

import os

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text
from support import create_postgres_database, drop_postgres_database, login

from config import TestingConfig
from dealer_leads import create_app
from dealer_leads.extensions import db


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Build the schema once by running the migrations, as production does.

    On PostgreSQL each run gets a database of its own, created beside the one
    TEST_DATABASE_URL names and dropped at the end, so parallel runs never meet.
    """
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        url = create_postgres_database(server_url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if server_url:
        drop_postgres_database(server_url, url)


def _empty_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{name}"' for name in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for name in reversed(tables):
            db.session.execute(text(f'DELETE FROM "{name}"'))
    db.session.commit()


class IsolatedClient(FlaskClient):
    """Each request runs in an app context of its own, as in production: its own session, a
    fresh `g`, the session removed at the end. The test's own transaction is ended first, so
    the request sees what the test wrote and the test sees what the request wrote."""

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app_factory(database_url):
    """Make an app on the test database with config overrides; tables emptied afterwards."""
    made = []

    def make(**overrides):
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, **overrides)
        app.test_client_class = IsolatedClient
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
    if made:
        with made[0].app_context():
            _empty_tables()
            db.session.remove()
            db.engine.dispose()
        for app in made[1:]:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a staff user: make_user("advisor", name="Ana")."""
    from dealer_leads.auth.services import create_user

    counter = iter(range(1, 10_000))

    def make(
        role: str = "supervisor",
        *,
        name: str | None = None,
        email: str | None = None,
        password: str = "password123",
        **state,
    ):
        n = next(counter)
        user = create_user(
            email or f"{role}{n}@example.com", role, name or f"{role.title()} {n}", password
        )
        for key, value in state.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    return make


@pytest.fixture
def login_as(client, make_user):
    """Create a user of `role`, sign the test client in, and return the user."""

    def sign_in(role: str = "supervisor", **kwargs):
        user = make_user(role, **kwargs)
        login(client, user)
        return user

    return sign_in
