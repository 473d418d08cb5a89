"""The migrations build the schema the models describe, from an empty database, with one head."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate
from sqlalchemy import text

from dealer_leads.extensions import db


def _scripts(app) -> ScriptDirectory:
    migrate: Migrate = app.extensions["migrate"]
    return ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))


def test_one_head(app):
    assert len(_scripts(app).get_heads()) == 1


def test_upgraded_database_matches_the_models(app):
    """The session database was built by `upgrade()` from empty (see conftest)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == _scripts(app).get_current_head()
        assert compare_metadata(context, db.metadata) == []


def test_utc_datetimes_come_back_aware(app):
    from datetime import UTC, datetime, timedelta, timezone

    from dealer_leads.leads.ingest import store_inbound

    toronto = timezone(timedelta(hours=-5))
    inbound = store_inbound("api", b"{}")
    inbound.received_at = datetime(2026, 3, 8, 1, 30, tzinfo=toronto)
    db.session.commit()
    db.session.expire_all()
    assert inbound.received_at == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert inbound.received_at.tzinfo is not None


def test_sqlite_runs_in_wal_with_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_production_refuses_the_development_secret_key():
    from config import DEVELOPMENT_SECRET_KEY, ProductionConfig
    from dealer_leads import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            ProductionConfig, SECRET_KEY=DEVELOPMENT_SECRET_KEY, SQLALCHEMY_DATABASE_URI="sqlite://"
        )
    app = create_app(ProductionConfig, SECRET_KEY="s3cret", SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_upgrade_keeps_vehicles_entered_before_the_inventory_migration(tmp_path):
    """Rows written under revision 0001 survive 0002's new NOT NULL columns, on both engines."""
    from flask_migrate import upgrade
    from support import create_postgres_database, drop_postgres_database

    from config import TestingConfig
    from dealer_leads import create_app

    server_url = os.environ.get("TEST_DATABASE_URL")
    url = create_postgres_database(server_url) if server_url else f"sqlite:///{tmp_path}/m.db"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    try:
        with app.app_context():
            upgrade(revision="0001")
            db.session.execute(
                text(
                    "INSERT INTO vehicles (vin, stock_number, make, model, trim, "
                    "body_style, condition, exterior_color, status, created_at, "
                    "updated_at) VALUES ('1HGCM82633A004352', 'A1', 'Honda', "
                    "'Accord', '', '', 'used', '', 'available', :now, :now)"
                ),
                {"now": "2026-01-01 00:00:00"},
            )
            db.session.commit()
            upgrade()
            row = db.session.execute(
                text("SELECT odometer_unit, options, vin_override FROM vehicles")
            ).one()
            assert row[0] == "km" and row[2] in (False, 0)
            db.session.remove()
            db.engine.dispose()
    finally:
        if server_url:
            drop_postgres_database(server_url, url)
