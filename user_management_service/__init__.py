"""MedTriage user management service: accounts, access tokens (EdDSA JWT) and pages."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, redirect, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from common import STATIC_DIR, TEMPLATES_DIR
from common.errors import APIError, register_error_handlers
from common.logs import configure_logging
from common.metrics import Metrics
from common.openapi import init_openapi
from common.secret_file import read_or_create_secret
from common.web import init_proxy, init_web
from user_management_service import db
from user_management_service.config import Config
from user_management_service.keys import KeyStore
from user_management_service.passwords import init_hasher

SERVICE = "users"
VERSION = "1.0.0"
csrf = CSRFProtect()
# Endpoints that answer without the database (readyz reports on it itself).
NO_DATABASE = {"health.healthz", "health.readyz", "metrics", "openapi", "static"}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config from the environment, then test_config overrides."""
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    app.config.from_mapping(Config().as_dict())
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        path = Path(app.config["DATA_DIR"]) / "users-secret-key"
        app.config["SECRET_KEY"] = read_or_create_secret(path)

    configure_logging(app, SERVICE)
    init_proxy(app)
    init_web(app)
    register_error_handlers(app)
    _register_database_errors(app)
    Metrics(app, SERVICE)
    csrf.init_app(app)
    init_hasher(app)
    app.extensions["users_keys"] = KeyStore(app.config)
    db.init_db(app)

    from user_management_service import api, health, pages

    csrf.exempt(api.bp)  # bearer tokens, not cookies: no CSRF risk
    csrf.exempt(api.wellknown)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.wellknown)
    app.register_blueprint(pages.bp)
    app.add_url_rule("/", "index", _index)
    init_openapi(app, "MedTriage user management API", VERSION)

    @app.before_request
    def _migrated() -> None:
        # The database may have been down at start: migrate on the first request that can.
        if not app.extensions["users_db"]["migrated"] and request.endpoint not in NO_DATABASE:
            db.ensure_migrated()

    from user_management_service.cli import users_cli

    app.cli.add_command(users_cli)
    return app


def _index():
    """Account page (or the login page when logged out)."""
    return redirect(url_for("pages.account"))


def _register_database_errors(app: Flask) -> None:
    """Database unreachable -> 503 not_ready (JSON or page); pre-ping reconnects later."""

    def _not_ready(_exc):
        app.logger.warning("database unavailable: %s", type(_exc).__name__)
        exc = APIError(
            503, "The accounts database is not reachable. Try again shortly.", "not_ready",
            {"Retry-After": "5"},
        )  # fmt: skip
        return app.handle_user_exception(exc)

    app.register_error_handler(OperationalError, _not_ready)
    app.register_error_handler(PoolTimeoutError, _not_ready)

    @app.errorhandler(DBAPIError)
    def _dbapi(exc: DBAPIError):
        if exc.connection_invalidated:
            return _not_ready(exc)
        return app.handle_user_exception(APIError(500, "Internal server error."))

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError):
        return app.handle_user_exception(
            APIError(
                400,
                "The form has expired or was not sent from this site. Reload the page "
                "and try again.",
                "csrf_failed",
            )  # fmt: skip
        )
