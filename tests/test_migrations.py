"""The migrations build the schema the models describe, from an empty database, with one head."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

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
