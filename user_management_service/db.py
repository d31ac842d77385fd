"""Engine, per-request session, readiness check and migrations at start."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from common.db import alembic_config, make_engine, upgrade

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "users_alembic_version"  # own name: the database may be shared with others
_PG_MIGRATION_LOCK = 0x5553455253  # arbitrary advisory-lock id ("USERS")


def init_db(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["users_db"] = {
        "engine": engine,
        "sessions": sessionmaker(engine, expire_on_commit=False),
        "migrated": False,
    }
    app.teardown_appcontext(_close_session)
    if app.config.get("MIGRATE_ON_START", True):
        try:
            migrate(app)
        except (DBAPIError, SQLAlchemyError) as exc:
            # Start anyway: /readyz says 503 and the first request retries the migration.
            log.warning("database not reachable at start: %s", type(exc).__name__)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["users_db"]["engine"]


def session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["users_db"]["sessions"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    sess = g.pop("db_session", None)
    if sess is not None:
        with contextlib.suppress(SQLAlchemyError):
            sess.close()


def migrate(app: Flask) -> None:
    """Upgrade the schema to the newest Alembic revision."""
    state = app.extensions["users_db"]
    cfg = alembic_config(MIGRATIONS_DIR, VERSION_TABLE)
    upgrade(state["engine"], cfg, _PG_MIGRATION_LOCK)
    state["migrated"] = True


def ensure_migrated() -> None:
    """Retry the start-up migration if the database was down then (raises while it still is)."""
    if not current_app.extensions["users_db"]["migrated"]:
        migrate(current_app._get_current_object())


def ping() -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except (DBAPIError, SQLAlchemyError):
        return False
