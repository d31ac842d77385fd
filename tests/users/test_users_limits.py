"""Limits on registrations and token requests: per client address and in total, shared through
the database; the client address comes from X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from tests.users.conftest import PASSWORD, base_config, bearer
from tests.users.test_users_pages import login_page, register_page
from user_management_service import create_app, db, ratelimit
from user_management_service.config import Config

DEFAULTS = Config()


def defaults_config(tmp_path, database_url) -> dict:
    """base_config without the tests' raised limits: the shipped defaults."""
    config = base_config(tmp_path, database_url)
    return {k: v for k, v in config.items() if not k.startswith(("REGISTER_", "TOKEN_"))}


@pytest.fixture
def make(tmp_path, database_url):
    apps = []

    def factory(**overrides):
        app = create_app({**defaults_config(tmp_path, database_url), **overrides})
        apps.append(app)
        return app.test_client()

    yield factory
    for app in apps:
        db.engine(app).dispose()


def register(client, i, **kwargs):
    return client.post(
        "/api/v1/users", json={"email": f"user{i}@example.org", "password": PASSWORD}, **kwargs
    )


def test_default_limits():
    assert (DEFAULTS.REGISTER_MAX_PER_ADDRESS, DEFAULTS.REGISTER_WINDOW_SECONDS) == (10, 3600)
    assert DEFAULTS.REGISTER_MAX_TOTAL == 200
    assert (DEFAULTS.TOKEN_MAX_PER_ADDRESS, DEFAULTS.TOKEN_WINDOW_SECONDS) == (30, 60)
    assert DEFAULTS.TOKEN_MAX_TOTAL == 600
    assert DEFAULTS.TRUSTED_PROXY_COUNT == 0


def test_200_registrations_from_one_address_mostly_refused(make):
    client = make()
    statuses = Counter()
    for i in range(200):
        # A forged X-Forwarded-For changes nothing: no proxy is configured.
        resp = register(client, i, headers={"X-Forwarded-For": f"198.51.100.{i % 250}"})
        statuses[resp.status_code] += 1
        if resp.status_code == 429:
            assert resp.json["error"]["code"] == "rate_limited"
            assert resp.json["error"]["message"].startswith("Too many accounts")
            assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    assert statuses == {201: 10, 429: 190}
    # Another address still gets its own allowance.
    assert register(client, 999, environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 201


def test_trusted_proxy_limits_forwarded_addresses_separately(make):
    client = make(TRUSTED_PROXY_COUNT=1, REGISTER_MAX_PER_ADDRESS=3)

    def via_proxy(i, forwarded):
        return register(client, i, headers={"X-Forwarded-For": forwarded})

    assert [via_proxy(i, "203.0.113.1").status_code for i in range(4)] == [201] * 3 + [429]
    assert via_proxy(10, "203.0.113.2").status_code == 201
    # Only the entry our proxy appended counts; what the client put before it is ignored.
    assert via_proxy(11, "192.0.2.77, 203.0.113.1").status_code == 429
    # One IPv6 host gets a /64: its other addresses share the allowance.
    for i in range(3):
        assert via_proxy(20 + i, f"2001:db8:1:2::{i + 1}").status_code == 201
    assert via_proxy(30, "2001:db8:1:2:ffff::9").status_code == 429
    assert via_proxy(31, "2001:db8:1:3::1").status_code == 201


def test_total_registration_limit_across_addresses(make):
    client = make(REGISTER_MAX_TOTAL=5)
    statuses = [
        register(client, i, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(7)
    ]
    assert statuses == [201] * 5 + [429] * 2


def test_token_requests_limited_per_address_even_with_the_right_password(make):
    client = make(REGISTER_MAX_PER_ADDRESS=100)
    assert register(client, 0).status_code == 201
    login = {"email": "user0@example.org", "password": PASSWORD}
    statuses = [client.post("/api/v1/tokens", json=login).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    resp = client.post("/api/v1/tokens", json=login)
    assert resp.json["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    other = client.post("/api/v1/tokens", json=login, environ_base={"REMOTE_ADDR": "10.2.2.2"})
    assert other.status_code == 200
    # The window slides: a minute later the address may ask again.
    real = ratelimit.utcnow
    ratelimit.utcnow = lambda: real() + timedelta(seconds=61)
    try:
        assert client.post("/api/v1/tokens", json=login).status_code == 200
    finally:
        ratelimit.utcnow = real


def test_pages_share_the_limits_and_explain_them(make):
    client = make(REGISTER_MAX_PER_ADDRESS=2, TOKEN_MAX_PER_ADDRESS=2)
    assert register(client, 0).status_code == 201
    assert register_page(client, "page@example.org").status_code == 303
    resp = register_page(client, "late@example.org")
    assert resp.status_code == 429 and resp.mimetype == "text/html"
    assert "Too many accounts have been registered recently. Try again in" in resp.text
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    assert login_page(client, "page@example.org").status_code == 303
    assert login_page(client, "page@example.org", "wrong password!").status_code == 401
    resp = login_page(client, "page@example.org")
    assert resp.status_code == 429 and "Too many login attempts." in resp.text
    assert "Retry-After" in resp.headers
    resp = client.post("/api/v1/tokens", json={"email": "user0@example.org", "password": PASSWORD})
    assert resp.status_code == 429


def test_limits_shared_between_app_instances(make):
    """Two apps on one database stand in for two workers: one counter."""
    first, second = make(REGISTER_MAX_PER_ADDRESS=4), make(REGISTER_MAX_PER_ADDRESS=4)
    statuses = [register(first if i % 2 else second, i).status_code for i in range(6)]
    assert statuses == [201] * 4 + [429] * 2


def test_a_limit_of_zero_is_off(make):
    client = make(REGISTER_MAX_PER_ADDRESS=0, REGISTER_MAX_TOTAL=0)
    assert {register(client, i).status_code for i in range(12)} == {201}


def _alembic(url: str, revision: str, downgrade: bool = False) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    cfg.set_main_option("version_table", db.VERSION_TABLE)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if downgrade else command.upgrade)(cfg, revision)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_keeps_failed_logins(request, tmp_path, backend):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.db'}"
    else:
        url = request.getfixturevalue("pg").create_database("migrate_0002")
    _alembic(url, "0001")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for _ in range(3):
            conn.execute(
                sa.text("INSERT INTO login_failures (key, at) VALUES (:k, :at)"),
                {"k": "account:ada@example.org", "at": ratelimit.utcnow() - timedelta(seconds=5)},
            )
    app = create_app(base_config(tmp_path, url))  # migrates to head
    client = app.test_client()
    assert client.post("/api/v1/users", json={"email": "ada@example.org", "password": PASSWORD})
    resp = client.post("/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 429  # the three failures from before the upgrade still count
    db.engine(app).dispose()
    _alembic(url, "0001", downgrade=True)
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT key FROM login_failures")).scalars().all()
    assert keys == ["account:ada@example.org"] * 3
    _alembic(url, "head")
    engine.dispose()


def test_bearer_routes_are_not_counted(make):
    """Only requests that hash a password count: using a token is free."""
    client = make(TOKEN_MAX_PER_ADDRESS=1)
    assert register(client, 0).status_code == 201
    resp = client.post("/api/v1/tokens", json={"email": "user0@example.org", "password": PASSWORD})
    token = resp.json["access_token"]
    for _ in range(5):
        assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
