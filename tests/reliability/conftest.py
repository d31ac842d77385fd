"""Fixtures for the reliability tests: the real trained model in-process, token issuers, and
the two services as in-process apps (fuzzing) or under gunicorn (load and faults)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from testkit.net import wait_for
from tests.users.conftest import PASSWORD, base_config

REPO = Path(__file__).resolve().parents[2]


class LoadedSource:
    """A model source that hands out an already-loaded pipeline (TensorFlow loads once)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def resolve(self, spec: str) -> str:
        return self.pipeline.version

    def fetch(self, version: str) -> Path:
        return Path("/nonexistent") / version

    def load(self, path: Path):
        return self.pipeline


@pytest.fixture
def quiet_logs():
    """The services log one JSON line per request: thousands while fuzzing."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def inference_app(pipeline, jwks, tmp_path, quiet_logs):
    """The inference app serving the real trained pipeline, history on SQLite."""
    from inference_service import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "reliability",
            "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
            "USERS_SERVICE_URL": jwks.url,
            "USERS_PUBLIC_URL": "http://users.example",
            "MODEL_SOURCE": LoadedSource(pipeline),
            "MODEL_POLL_SECONDS": 0,
            "HISTORY_PURGE_SECONDS": 0,
            "USERS_OPENAPI_CACHE_SECONDS": 0,
            "JWKS_MIN_REFETCH_SECONDS": 0.0,
            "WORKER_READINESS": False,
        }
    )
    assert wait_for(lambda: app.extensions["model"].ready), app.extensions["model"].last_error
    yield app
    app.extensions["model"].stop()
    app.extensions["history"].engine.dispose()


@pytest.fixture
def users_app(tmp_path, quiet_logs):
    """The user service on SQLite with cheap argon2 (as in tests/users)."""
    from user_management_service import create_app, db

    config = base_config(tmp_path, f"sqlite:///{tmp_path / 'users.db'}")
    config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 10**6  # fuzzing fails many logins on purpose
    config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 10**6
    app = create_app(config)
    yield app
    db.engine(app).dispose()


def register(client, email: str, password: str = PASSWORD) -> str:
    """Register (if needed) and log in through the API; return the access token."""
    client.post("/api/v1/users", json={"email": email, "password": password})
    resp = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


def token_through(users_url: str, email: str, password: str = PASSWORD) -> str:
    """Register and log in over HTTP at a running user service; return the access token."""
    creds = {"email": email, "password": password}
    assert requests.post(f"{users_url}/api/v1/users", json=creds, timeout=30).status_code == 201
    resp = requests.post(f"{users_url}/api/v1/tokens", json=creds, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]
