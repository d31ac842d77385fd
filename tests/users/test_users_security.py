"""Login rate limits, equal treatment of unknown users, argon2 rehash, secrets kept out of logs."""

from __future__ import annotations

import logging

import pytest

from tests.users.conftest import PASSWORD, bearer
from user_management_service import create_app, db, passwords, ratelimit


def test_account_limit_returns_429_with_retry_after(api):
    api.register()
    for _ in range(3):
        assert api.login(password="wrong password!").status_code == 401
    resp = api.login(password="wrong password!")
    assert resp.status_code == 429
    assert resp.json["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # Even the right password waits: otherwise guessing could go on.
    assert api.login().status_code == 429
    # Other accounts from another address are unaffected.
    api.register("bob@example.org")
    assert api.login("bob@example.org", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_account_limit_applies_to_unknown_accounts_too(api):
    for _ in range(3):
        assert api.login("ghost@example.org", "wrong password!").status_code == 401
    assert api.login("ghost@example.org", "wrong password!").status_code == 429


def test_address_limit_across_accounts(api):
    api.register()
    env = {"REMOTE_ADDR": "10.9.9.9"}
    for i in range(6):
        resp = api.login(f"user{i}@example.org", "wrong password!", environ_base=env)
        assert resp.status_code == 401
    resp = api.login(environ_base=env)
    assert resp.status_code == 429
    assert "Retry-After" in resp.headers
    assert api.login(environ_base={"REMOTE_ADDR": "10.9.9.10"}).status_code == 200


def test_success_resets_the_account_counter(api):
    api.register()
    for _ in range(2):
        api.login(password="wrong password!")
    assert api.login().status_code == 200
    for _ in range(2):
        assert api.login(password="wrong password!").status_code == 401


def test_window_slides(api, app, monkeypatch):
    api.register()
    for _ in range(3):
        api.login(password="wrong password!")
    assert api.login().status_code == 429
    from datetime import timedelta

    real = ratelimit.utcnow
    monkeypatch.setattr(ratelimit, "utcnow", lambda: real() + timedelta(seconds=61))
    assert api.login().status_code == 200


def test_unknown_user_costs_a_hash_verification(api, app, monkeypatch):
    """Similar timing: an unknown email is checked against a dummy hash, not skipped."""
    api.register()
    hasher = app.extensions["users_hasher"]
    calls = []

    class Counting:
        def verify(self, stored, password):
            calls.append(stored)
            return hasher.verify(stored, password)

        def __getattr__(self, name):
            return getattr(hasher, name)

    monkeypatch.setitem(app.extensions, "users_hasher", Counting())
    assert api.login("nobody@example.org").status_code == 401
    assert api.login(password="wrong password!").status_code == 401
    assert len(calls) == 2
    assert calls[0] == app.extensions["users_dummy_hash"]
    assert calls[0].split("$")[:4] == calls[1].split("$")[:4]  # same algorithm and cost


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(api, app_config):
    api.register()
    stored = _stored_hash(api.client.application)
    assert stored.startswith("$argon2id$") and "m=8,t=1,p=1" in stored

    stronger = create_app({**app_config, "ARGON2_TIME_COST": 2, "ARGON2_MEMORY_COST": 16})
    client = stronger.test_client()
    resp = client.post("/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 200
    rehashed = _stored_hash(stronger)
    assert "m=16,t=2,p=1" in rehashed and rehashed != stored
    # A wrong password never rewrites the hash.
    client.post("/api/v1/tokens", json={"email": "ada@example.org", "password": "nope nope nope"})
    assert _stored_hash(stronger) == rehashed
    db.engine(stronger).dispose()


def _stored_hash(app) -> str:
    with app.app_context():
        return db.session().scalars(db.text("SELECT password_hash FROM users")).one()


def test_common_password_list_is_shipped():
    common = passwords.common_passwords()
    assert len(common) > 100
    assert "password123" in common and "qwertyuiop" in common


def test_logs_carry_no_passwords_or_tokens(api, client, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    token = api.user()
    api.login(password="a wrong password!!")
    client.get("/api/v1/users/me", headers=bearer(token))
    new = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another long secret"},
        headers=bearer(token),
    ).json["access_token"]
    client.delete("/api/v1/users/me", headers=bearer(new))
    text = caplog.text + capsys.readouterr().out
    assert "account created" in text  # the logs are there...
    for secret in (PASSWORD, "a wrong password!!", "another long secret", token, new):
        assert secret not in text  # ...without secrets
    assert "ada@example.org" not in text  # nor the email address


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_security_headers_and_no_store(client):
    resp = client.post("/api/v1/tokens", json={"email": "a@b.org", "password": "x" * 12})
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
