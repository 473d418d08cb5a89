"""dealer_leads: internet-lead management for car dealerships."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config import DEVELOPMENT_SECRET_KEY, Config
from dealer_leads.database import configure_sqlite
from dealer_leads.extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type = Config, **overrides) -> Flask:
    """Build the app: configuration, extensions, blueprints, error handlers, CLI commands."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    if app.config["REQUIRE_SECRET_KEY"] and app.config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY:
        raise RuntimeError("SECRET_KEY is not set: production refuses the development key")
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(exist_ok=True)
    if proxies := app.config["TRUSTED_PROXIES"]:
        # The client's address (rate limits, the stored source_ip) and scheme come from them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def _database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the usual short form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def register_extensions(app: Flask) -> None:
    import dealer_leads.models  # noqa: F401  (every table known to the metadata)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from dealer_leads.auth.services import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"


def register_blueprints(app: Flask) -> None:
    from dealer_leads.admin.directory_views import bp as directory_bp
    from dealer_leads.admin.views import bp as admin_bp
    from dealer_leads.api.keys_views import bp as api_keys_bp
    from dealer_leads.api.photos import bp as api_photos_bp
    from dealer_leads.api.vehicles import bp as api_vehicles_bp
    from dealer_leads.api.views import bp as api_bp
    from dealer_leads.appointments.api import bp as appointments_api_bp
    from dealer_leads.appointments.public_views import bp as booking_bp
    from dealer_leads.appointments.views import bp as appointments_bp
    from dealer_leads.auth.views import bp as auth_bp
    from dealer_leads.cadence.views import bp as cadence_bp
    from dealer_leads.inventory.feed_views import bp as feeds_bp
    from dealer_leads.inventory.photo_views import bp as photos_bp
    from dealer_leads.inventory.promotion_views import bp as promotions_bp
    from dealer_leads.inventory.views import bp as inventory_bp
    from dealer_leads.leads.inquiry_views import bp as inquiry_bp
    from dealer_leads.leads.merge_views import bp as merge_bp
    from dealer_leads.leads.views import bp as leads_bp
    from dealer_leads.messaging.inbound_api import bp as inbound_email_api_bp
    from dealer_leads.messaging.mailbox_views import bp as mailbox_bp
    from dealer_leads.messaging.sms_views import bp as sms_bp
    from dealer_leads.messaging.template_views import bp as templates_bp
    from dealer_leads.messaging.views import bp as unsubscribe_bp
    from dealer_leads.reports.customer_views import bp as customers_bp
    from dealer_leads.reports.views import bp as reports_bp

    pages = (
        auth_bp,
        leads_bp,
        merge_bp,
        inquiry_bp,
        admin_bp,
        api_keys_bp,
        inventory_bp,
        photos_bp,
        templates_bp,
        unsubscribe_bp,
        cadence_bp,
        mailbox_bp,
        directory_bp,
        appointments_bp,
        booking_bp,
        feeds_bp,
        promotions_bp,
        reports_bp,
        customers_bp,
    )
    # Bearer keys and signed provider webhooks, not cookies: no CSRF.
    apis = (
        api_bp,
        api_vehicles_bp,
        api_photos_bp,
        sms_bp,
        inbound_email_api_bp,
        appointments_api_bp,
    )
    for blueprint in (*pages, *apis):
        app.register_blueprint(blueprint)
    for blueprint in apis:
        csrf.exempt(blueprint)


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """The one shape of every error: JSON for API callers, a page for people."""
    if _wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, fields=fields), status


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return error_response(
            400,
            "csrf",
            f"The form expired or was not sent from this site: "
            f"{error.description} Reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return error_response(500, "internal", "Something went wrong on our side; it is logged.")


def register_commands(app: Flask) -> None:
    from dealer_leads.api.cli import api_keys_cli
    from dealer_leads.auth.cli import users_cli
    from dealer_leads.cadence.cli import plans_cli
    from dealer_leads.demo.cli import demo_cli
    from dealer_leads.inventory.cli import inventory_cli
    from dealer_leads.inventory.feed_cli import feeds_cli
    from dealer_leads.leads.cli import leads_cli
    from dealer_leads.worker import worker_command

    commands = (
        users_cli,
        api_keys_cli,
        demo_cli,
        inventory_cli,
        feeds_cli,
        leads_cli,
        plans_cli,
        worker_command,
    )
    for command in commands:
        app.cli.add_command(command)


def register_template_helpers(app: Flask) -> None:
    from dealer_leads.templating import register

    register(app)
