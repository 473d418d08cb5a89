"""The app and the throw-away databases the benchmarks run against.

`create_bench_app()` is the real app plus bench-only endpoints: `POST /bench/parse-only`, the
intake view's work before the database (size check, JSON parse, contact normalisation), the
baseline the real `POST /api/v1/leads` is compared with, and the floors of `bench_floor`.
Gunicorn calls it as a factory: `gunicorn 'bench.bench_app:create_bench_app()'` with
DATABASE_URL in the environment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import create_engine, make_url, text

from bench.bench_floor import floor_bp
from config import Config
from dealer_leads import create_app, error_response
from dealer_leads.extensions import csrf
from dealer_leads.leads.channels import InvalidPayload, parse_json_lead
from dealer_leads.leads.normalize import normalize_contact

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SERVER_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

bench_bp = Blueprint("bench", __name__, url_prefix="/bench")


@bench_bp.post("/parse-only")
def parse_only():
    """What POST /api/v1/leads does before it touches the database, and a similar answer."""
    if request.mimetype != "application/json":
        return error_response(415, "unsupported_media_type", "send application/json")
    limit = current_app.config["MAX_LEAD_BODY_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
    try:
        prospect = parse_json_lead(raw)
    except InvalidPayload as error:
        return error_response(422, "invalid_lead", error.message, error.fields)
    contact = normalize_contact(prospect.contact, region=current_app.config["DEALERSHIP_COUNTRY"])
    result = {
        "lead_id": 0,
        "customer_id": 0,
        "duplicate": False,
        "warnings": list(prospect.warnings) + contact.warnings,
    }
    return jsonify(results=[result]), 201


def create_bench_app(**overrides) -> Flask:
    """The real app (DATABASE_URL from the environment) with the bench-only baseline endpoint."""
    app = create_app(Config, **overrides)
    for blueprint in (bench_bp, floor_bp):
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    return app


def migrate(url: str) -> None:
    """Build the schema the way production does: `flask db upgrade` in a child process."""
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}\n{done.stderr}")


def postgres_available() -> str:
    """'' when the PostgreSQL server answers, else why not."""
    engine = _server_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means: skip the PostgreSQL half, say why
        return f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
    finally:
        engine.dispose()
    return ""


def _server_engine():
    url = make_url(POSTGRES_SERVER_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@contextmanager
def temporary_database(kind: str) -> Iterator[str]:
    """A fresh, migrated database (SQLite file or PostgreSQL database), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dl_bench_") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
            migrate(url)
            yield url
        return
    name = f"dl_bench_{os.getpid()}_{secrets.token_hex(3)}"
    engine = _server_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(POSTGRES_SERVER_URL).set(database=name)
            url = url.render_as_string(hide_password=False)
            migrate(url)
            yield url
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
