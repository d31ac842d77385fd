"""Fixtures for the user service: the app on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from tests.pgserver import postgres_or_skip
from user_management_service import create_app, db

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    """One PostgreSQL server for the session; each test gets its own database on it."""
    with postgres_or_skip(tmp_path_factory.mktemp("pg")) as server:
        yield server


@pytest.fixture(scope="session")
def pg_database(pg):
    """One database for the PostgreSQL-parametrized tests, emptied before each test."""
    url = pg.create_database("users_shared")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    yield url, engine
    engine.dispose()


def sqlite_only(fn):
    """For pure input checks: the database plays no part, so skip the PostgreSQL run."""
    return pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)(fn)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'users.db'}"
    url, engine = request.getfixturevalue("pg_database")
    with engine.begin() as conn:
        conn.execute(sa.text(_TRUNCATE))
    return url


_TRUNCATE = """
DO $$ BEGIN
  IF to_regclass('users') IS NOT NULL THEN TRUNCATE users, rate_limit_events; END IF;
END $$
"""


def base_config(tmp_path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path),
        "KEY_DIR": str(tmp_path / "keys"),
        "SECRET_KEY": "test-secret",
        # Cheap hashing keeps the suite fast; test_passwords checks the rehash path.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": 3,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 6,
        "LOGIN_WINDOW_SECONDS": 60,
        # Fixtures register and log in many times from one address; test_users_limits.py
        # checks the shipped defaults.
        "REGISTER_MAX_PER_ADDRESS": 10**6,
        "REGISTER_MAX_TOTAL": 10**6,
        "TOKEN_MAX_PER_ADDRESS": 10**6,
        "TOKEN_MAX_TOTAL": 10**6,
        "INFERENCE_SERVICE_URL": "http://127.0.0.1:9",  # closed port: fails fast
        "INFERENCE_DELETE_TIMEOUT_SECONDS": 1,
        "INFERENCE_PUBLIC_URL": "http://ask.test:8000",
    }


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    return base_config(tmp_path, database_url)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    db.engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """Shortcuts for the JSON API (like the tutorial's AuthActions)."""

    def __init__(self, client):
        self.client = client

    def register(self, email="ada@example.org", password=PASSWORD):
        return self.client.post("/api/v1/users", json={"email": email, "password": password})

    def login(self, email="ada@example.org", password=PASSWORD, **kwargs):
        return self.client.post(
            "/api/v1/tokens", json={"email": email, "password": password}, **kwargs
        )

    def token(self, email="ada@example.org", password=PASSWORD) -> str:
        resp = self.login(email, password)
        assert resp.status_code == 200, resp.json
        return resp.json["access_token"]

    def user(self, email="ada@example.org", password=PASSWORD) -> str:
        """Register and log in; return the token."""
        assert self.register(email, password).status_code == 201
        return self.token(email, password)

    def admin(self, runner, email="root@example.org", password=PASSWORD) -> str:
        result = runner.invoke(args=["users", "create-admin", email, "--password", password])
        assert result.exit_code == 0, result.output
        return self.token(email, password)


@pytest.fixture
def api(client):
    return Api(client)


def csrf_token(html: bytes | str, prefix: str = "") -> str:
    text = html.decode() if isinstance(html, bytes) else html
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]+)"', text)
    assert match, f"no {name} in page"
    return match.group(1)


class FakeInference:
    """A tiny HTTP server standing in for the inference service; records DELETE calls."""

    def __init__(self, status: int = 204):
        self.calls: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_DELETE(self):  # noqa: N802 - http.server naming
                outer.calls.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization")}
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_inference():
    with FakeInference() as fake:
        yield fake
