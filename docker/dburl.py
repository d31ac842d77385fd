"""Print a shell `export` of a PostgreSQL URL built from DB_* parts, creating the database.

ECS passes the database as parts, the password coming from the secret RDS manages in
Secrets Manager. The entrypoints run ``eval "$(python docker/dburl.py VAR)"``:

- VAR already set, or DB_HOST unset: prints nothing (the service's own default applies).
- otherwise: creates database DB_NAME if it does not exist yet (each service has its own on
  the shared instance) and prints ``export VAR=postgresql+psycopg://...``.
"""

from __future__ import annotations

import os
import shlex
import sys
from urllib.parse import quote


def build_url(env: dict[str, str]) -> str:
    user = quote(env["DB_USER"], safe="")
    password = quote(env["DB_PASSWORD"], safe="")
    host = env["DB_HOST"]
    port = env.get("DB_PORT", "5432")
    name = env["DB_NAME"]
    url = f"postgresql+psycopg://{user}:{password}@{host}:{port}/{name}"
    if env.get("DB_SSLMODE"):
        url += f"?sslmode={quote(env['DB_SSLMODE'], safe='')}"
    return url


def ensure_database(env: dict[str, str]) -> None:
    """Create DB_NAME through the maintenance database unless it exists."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=env["DB_HOST"],
        port=int(env.get("DB_PORT", "5432")),
        user=env["DB_USER"],
        password=env["DB_PASSWORD"],
        dbname=env.get("DB_MAINTENANCE_NAME", "postgres"),
        sslmode=env.get("DB_SSLMODE", "prefer"),
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (env["DB_NAME"],)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(env["DB_NAME"])))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: dburl.py VARIABLE_NAME", file=sys.stderr)
        return 2
    var = argv[1]
    env = dict(os.environ)
    if env.get(var) or not env.get("DB_HOST"):
        return 0
    missing = [k for k in ("DB_USER", "DB_PASSWORD", "DB_NAME") if not env.get(k)]
    if missing:
        print(f"dburl.py: DB_HOST is set but {', '.join(missing)} is not", file=sys.stderr)
        return 1
    if env.get("DB_CREATE", "1") == "1":
        ensure_database(env)
    print(f"export {var}={shlex.quote(build_url(env))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
