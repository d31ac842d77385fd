"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary directory.

    with postgres_server(tmp_path) as pg:
        engine = create_engine(pg.url)     # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        url = pg.create_database("app1")   # a fresh database on the same server
        pg.stop(); pg.start()              # simulate an outage

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user
(runuser) in a directory that user owns. Raises PostgresUnavailable when the server binaries
or that user are missing: fixtures turn it into a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from testkit.net import free_port as _free_port

DB_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def find_bin_dir() -> Path | None:
    """Directory holding initdb and pg_ctl: PATH first, then Debian's versioned directories."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PostgresServer:
    def __init__(self, bin_dir: Path, base: Path, run_as: str | None):
        self.bin_dir = bin_dir
        self.base = base
        self.data = base / "data"
        self.run_as = run_as
        self.port = _free_port()
        self.url = self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(
            cmd, check=check, capture_output=True, text=True, env=env, cwd=self.base
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        """Start (or restart after stop()) on the same port and data directory."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-o", options,
            "-w", "-t", "30", "start", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        """Create database `name` (an identifier) and return its SQLAlchemy URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError("database name must be alphanumeric")
        dsn = f"host=127.0.0.1 port={self.port} user={DB_USER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


@contextlib.contextmanager
def postgres_server(tmp_dir: str | os.PathLike) -> Iterator[PostgresServer]:
    """Run a PostgreSQL server for the duration of the block; always stopped afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as = None
    owned_tmp = None
    base = Path(tmp_dir)
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(DB_USER)
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user") from None
        if not shutil.which("runuser"):
            raise PostgresUnavailable("running as root and runuser is missing")
        # pytest's tmp dirs are private to root; the server needs a directory it owns.
        owned_tmp = Path(tempfile.mkdtemp(prefix="medtriage-pg-"))
        os.chown(owned_tmp, pw.pw_uid, pw.pw_gid)
        base, run_as = owned_tmp, DB_USER
    else:
        base.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(bin_dir, base, run_as)
    try:
        server.init()
        for attempt in range(3):
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                server.port = _free_port()  # another process took the port meanwhile
                server.url = server.url_for("postgres")
        yield server
    finally:
        server.stop()
        if owned_tmp is not None:
            shutil.rmtree(owned_tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_or_skip(tmp_dir: Path) -> Iterator[PostgresServer]:
    """`postgres_server`, or a pytest skip saying why where PostgreSQL cannot run here."""
    import pytest

    try:
        with postgres_server(tmp_dir) as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
