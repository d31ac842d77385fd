"""SQLAlchemy engines that survive a database restart, the same for both services."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url


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
