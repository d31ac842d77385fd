"""Behaviour that needs a real database server: races and outages."""

from __future__ import annotations

import threading

import pytest

from tests.pgserver import postgres_or_skip
from tests.users.conftest import PASSWORD, base_config, bearer
from user_management_service import create_app, db


def test_simultaneous_registrations_of_one_email(app):
    """Both requests pass validation; the unique constraint lets exactly one insert win."""
    statuses, codes = [], []
    barrier = threading.Barrier(2)

    def register():
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            "/api/v1/users", json={"email": "race@example.org", "password": PASSWORD}
        )
        statuses.append(resp.status_code)
        codes.append(resp.json.get("error", {}).get("code"))

    threads = [threading.Thread(target=register) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [201, 409]
    assert "email_taken" in codes


@pytest.fixture
def own_pg(tmp_path):
    """A server of this test's own, so stopping it disturbs no other test."""
    with postgres_or_skip(tmp_path / "pg") as server:
        yield server


def test_database_outage_gives_503_and_recovers_without_restart(own_pg, tmp_path):
    app = create_app(base_config(tmp_path, own_pg.url))
    client = app.test_client()
    assert (
        client.post(
            "/api/v1/users", json={"email": "ada@example.org", "password": PASSWORD}
        ).status_code
        == 201
    )
    token = client.post(
        "/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD}
    ).json["access_token"]
    assert client.get("/readyz").status_code == 200

    own_pg.stop()
    for resp in (
        client.get("/api/v1/users/me", headers=bearer(token)),
        client.post("/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD}),
        client.post("/api/v1/users", json={"email": "bob@example.org", "password": PASSWORD}),
        client.get("/readyz"),
    ):
        assert resp.status_code == 503, resp.data
        assert resp.json["error"]["code"] == "not_ready"
        assert "Traceback" not in resp.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    client.set_cookie("medtriage_token", token)
    page = client.get("/account")
    assert page.status_code == 503 and page.mimetype == "text/html"

    own_pg.start()
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
    resp = client.post("/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 200
    db.engine(app).dispose()


def test_database_down_at_start_migrates_later(own_pg, tmp_path):
    url = own_pg.create_database("late")
    own_pg.stop()
    app = create_app(base_config(tmp_path, url))  # starts anyway
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    resp = client.post("/api/v1/users", json={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 503
    own_pg.start()
    assert client.get("/readyz").status_code == 200
    resp = client.post("/api/v1/users", json={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 201
    db.engine(app).dispose()


def test_two_apps_migrate_one_database_concurrently(pg, tmp_path):
    """Several gunicorn workers start at once: the advisory lock serialises migrations."""
    url = pg.create_database("concurrent_migrations")
    apps, errors = [], []
    barrier = threading.Barrier(3)

    def start(i):
        barrier.wait()
        try:
            apps.append(create_app(base_config(tmp_path / str(i), url)))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert all(a.extensions["users_db"]["migrated"] for a in apps)
    for a in apps:
        db.engine(a).dispose()
