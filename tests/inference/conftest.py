"""Fixtures for the inference service tests: app on a temp DB, JWKS server, tokens."""

from __future__ import annotations

import pytest

from inference_service import create_app
from testkit.net import wait_for
from tests.inference.fakes import FakeSource


@pytest.fixture
def source():
    return FakeSource()


@pytest.fixture
def make_app(tmp_path, jwks, source):
    apps = []

    def factory(**overrides):
        config = {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
            "USERS_SERVICE_URL": jwks.url,
            "USERS_PUBLIC_URL": "http://users.example",
            "MODEL_SOURCE": source,
            "MODEL_POLL_SECONDS": 0.05,
            "MODEL_RETRY_INITIAL_SECONDS": 0.02,
            "MODEL_RETRY_MAX_SECONDS": 0.1,
            "JWKS_MIN_REFETCH_SECONDS": 0.0,
            "HISTORY_PURGE_SECONDS": 0,
            "USERS_OPENAPI_CACHE_SECONDS": 0,
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["model"].stop()
        app.extensions["history"].engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    assert wait_for(lambda: app.extensions["model"].ready), "fake model did not load"
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(jwks):
    return jwks.key.token(sub="alice")


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}
