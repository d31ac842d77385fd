"""SQLAlchemy engines that survive a database restart, and Alembic migrations run at start:
the same for both services."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path

from alembic import command, context
from alembic.config import Config as AlembicConfig
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets gunicorn workers read while one writes; NORMAL skips an fsync per commit;
    # the busy timeout makes a writer wait for another worker's write instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Pre-ping pooled connections, short connect timeouts; SQLite's directory is created."""
    parsed = make_url(url)
    kwargs: dict = {"pool_pre_ping": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 10, "check_same_thread": False}
    else:
        kwargs.update(pool_size=5, max_overflow=5, pool_recycle=1800, pool_timeout=5)
        if backend == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 3}
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextlib.contextmanager
def migration_lock(url: str | URL, conn, pg_lock_id: int) -> Iterator[None]:
    """Only one worker migrates at a time (gunicorn starts several at once): a transaction
    advisory lock on PostgreSQL, a lock file beside a SQLite database."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": pg_lock_id})
        yield
        return
    db_path = make_url(url).database
    if conn.dialect.name != "sqlite" or not db_path or db_path == ":memory:":
        yield
        return
    with open(f"{db_path}.migrate.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def alembic_config(migrations_dir: Path, version_table: str) -> AlembicConfig:
    """A service's Alembic setup; each service has its own version table (a shared database)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("version_table", version_table)
    return cfg


def upgrade(
    engine: Engine,
    cfg: AlembicConfig,
    pg_lock_id: int,
    revision: str = "head",
    before: Callable[[Connection], None] | None = None,
) -> None:
    """Upgrade to `revision` under the migration lock, on one connection that the service's
    `env.py` receives (`run_env`); `before(conn)` runs first, in the same transaction."""
    with engine.begin() as conn, migration_lock(engine.url, conn, pg_lock_id):
        cfg.attributes["connection"] = conn
        if before is not None:
            before(conn)
        command.upgrade(cfg, revision)


def run_env(metadata: MetaData, how: str) -> None:
    """The body of a service's Alembic `env.py`: migrate on the connection `upgrade` hands
    over (`how` says how to run migrations when there is none)."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(f"run migrations through {how}")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=config.get_main_option("version_table"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
