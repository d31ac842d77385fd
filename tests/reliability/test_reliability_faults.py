"""PostgreSQL restarted under both services at once, and a full or read-only model cache.

(Each service's own outage tests are tests/users/test_users_postgres.py and
tests/inference/test_history_postgres.py; this one restarts one server under both and checks
that no account and no history entry is lost.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from testkit.net import wait_for
from tests.pgserver import postgres_or_skip
from tests.reliability.conftest import REPO, LoadedSource, register
from tests.reliability.faults import MountUnavailable, tmpfs
from tests.users.conftest import PASSWORD, base_config

pytestmark = pytest.mark.slow


@pytest.fixture
def pg(tmp_path):
    with postgres_or_skip(tmp_path / "pg") as server:
        yield server


def test_postgres_restart_under_both_services(pg, pipeline, jwks, tmp_path, quiet_logs):
    from inference_service import create_app as create_inference
    from user_management_service import create_app as create_users
    from user_management_service import db

    users = create_users(base_config(tmp_path / "users", pg.create_database("users")))
    inference = create_inference(
        {
            "TESTING": True,
            "SECRET_KEY": "pg",
            "INFERENCE_DATABASE_URL": pg.create_database("inference"),
            "USERS_SERVICE_URL": jwks.url,
            "MODEL_SOURCE": LoadedSource(pipeline),
            "MODEL_POLL_SECONDS": 0,
            "HISTORY_PURGE_SECONDS": 0,
            "WORKER_READINESS": False,
        }
    )
    try:
        assert wait_for(lambda: inference.extensions["model"].ready)
        uc, ic = users.test_client(), inference.test_client()
        emails = [f"patient{i}@example.org" for i in range(5)]
        ids = {}
        for email in emails:
            token = register(uc, email)
            ids[email] = uc.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            ids[email] = ids[email].get_json()["id"]
        auth = {e: {"Authorization": f"Bearer {jwks.key.token(sub=ids[e])}"} for e in emails}
        for email in emails:
            for q in ("How is asthma treated?", "What causes gout?"):
                body = ic.post("/api/v1/triage", json={"question": q}, headers=auth[email])
                assert body.get_json()["history_saved"] is True

        pg.stop()
        try:
            assert uc.get("/readyz").status_code == 503
            resp = uc.post("/api/v1/tokens", json={"email": emails[0], "password": PASSWORD})
            assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "not_ready"
            resp = uc.post("/api/v1/users", json={"email": "new@example.org", "password": PASSWORD})
            assert resp.status_code == 503
            assert ic.get("/api/v1/history", headers=auth[emails[0]]).status_code == 503
            # Triage still answers while its history cannot be written (and says so).
            resp = ic.post(
                "/api/v1/triage", json={"question": "What is gout?"}, headers=auth[emails[0]]
            )
            assert resp.status_code == 200 and resp.get_json()["history_saved"] is False
            assert uc.get("/healthz").status_code == 200 and ic.get("/healthz").status_code == 200
        finally:
            pg.start()

        # Back without a restart of either service; nothing lost.
        assert wait_for(lambda: uc.get("/readyz").status_code == 200, timeout=30, interval=0.5)
        assert wait_for(
            lambda: ic.get("/api/v1/history", headers=auth[emails[0]]).status_code == 200,
            timeout=30,
            interval=0.5,
        )
        for email in emails:
            token = register(uc, email)  # the same password still logs in
            me = uc.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.get_json()["id"] == ids[email]
            history = ic.get("/api/v1/history", headers=auth[email]).get_json()
            assert history["total"] == 2, (email, history)
        total = uc.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert total.status_code == 403  # not an admin; the account count is checked below
        with db.engine(users).connect() as conn:
            import sqlalchemy as sa

            assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == len(emails)
    finally:
        inference.extensions["model"].stop()
        inference.extensions["history"].engine.dispose()
        db.engine(users).dispose()


def fetch_cli(store: str, cache) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inference_service", "fetch", "--store", store,
         "--cache-dir", str(cache)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("read_only", "message"),
    [(False, "No space left on device"), (True, "Read-only file system")],
    ids=["full-disk", "read-only"],
)
def test_full_or_read_only_cache_gives_a_clear_error(
    trained_store, jwks, tmp_path, read_only, message, quiet_logs
):
    """A real tmpfs: 256 KiB (smaller than the model) or mounted read-only."""
    from inference_service import create_app

    try:
        with tmpfs(tmp_path / "cache", "256k", read_only=read_only) as cache:
            result = fetch_cli(trained_store, cache)
            assert result.returncode == 1
            assert "fetch failed: ArtifactError: cannot write" in result.stderr
            assert message in result.stderr and "Traceback" not in result.stderr

            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "disk",
                    "ARTIFACT_STORE": trained_store,
                    "MODEL_CACHE_DIR": str(cache / "models"),
                    "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
                    "USERS_SERVICE_URL": jwks.url,
                    "MODEL_RETRY_INITIAL_SECONDS": 0.2,
                    "MODEL_RETRY_MAX_SECONDS": 1.0,
                    "HISTORY_PURGE_SECONDS": 0,
                    "WORKER_READINESS": False,
                }
            )
            try:
                manager = app.extensions["model"]
                assert wait_for(lambda: manager.last_error is not None, timeout=30)
                resp = app.test_client().get("/readyz")
                assert resp.status_code == 503
                detail = resp.get_json()["detail"]
                assert message in detail and str(cache) in detail, detail
            finally:
                app.extensions["model"].stop()
                app.extensions["history"].engine.dispose()
    except MountUnavailable as exc:
        pytest.skip(str(exc))
