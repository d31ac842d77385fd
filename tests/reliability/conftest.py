"""Fixtures for the reliability tests: the real trained model in-process, token issuers, and
the two services as in-process apps (fuzzing) or under gunicorn (load and faults)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.net import wait_for
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


# --- gunicorn -------------------------------------------------------------------------------


class Service:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path):
        self.proc = proc
        self.url = url
        self.log = log

    def wait(self, path: str = "/readyz", timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}{path}", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.url}{path} not 200 in {timeout}s: {self.log.read_text()[-3000:]}"
        )

    def workers(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in out.stdout.split()]


@contextlib.contextmanager
def users_gunicorn(env: dict[str, str], log: Path) -> Iterator[Service]:
    """The user service under gunicorn with its own config; always terminated."""
    from tests.inference.server import free_port

    port = free_port()
    full_env = {**os.environ, "USERS_PORT": str(port), "USERS_HOST": "127.0.0.1", **env}
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c", str(REPO / "user_management_service" / "gunicorn_conf.py"),
        "user_management_service:create_app()",
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield Service(proc, f"http://127.0.0.1:{port}", log)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
