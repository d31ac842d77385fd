"""Run either service under real gunicorn, for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from testkit.net import free_port

REPO = Path(__file__).resolve().parents[1]
# service -> (gunicorn config, WSGI app, port variable)
SERVICES = {
    "inference": ("inference_service/gunicorn_conf.py", "inference_service.wsgi:app", "INFERENCE_PORT"),
    "users": ("user_management_service/gunicorn_conf.py", "user_management_service:create_app()", "USERS_PORT"),
}  # fmt: skip


class Gunicorn:
    """A gunicorn master in its own process group (so a kill reaches its workers)."""

    def __init__(self, name: str, proc: subprocess.Popen, url: str, started: float, log: Path):
        self.name = name
        self.proc = proc
        self.url = url
        self.started = started
        self.log = log

    def _wait(self, path: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} gunicorn exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}{path}", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            time.sleep(0.05)
        raise TimeoutError(
            f"{self.name}: no 200 from {path} in {timeout}s: {self.log.read_text()[-3000:]}"
        )

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds from process start until /readyz answered 200."""
        return self._wait("/readyz", timeout)

    def wait_up(self, timeout: float = 60.0) -> None:
        """Until /healthz answers (the process serves, the model may still be loading)."""
        self._wait("/healthz", timeout)

    def stop(self) -> None:
        """SIGTERM the master; SIGKILL the whole group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start(
    service: str, env: dict[str, str], log: Path, port: int | None = None, app: str | None = None
) -> Gunicorn:
    """Start `service` ("inference" or "users") with its own gunicorn config on a free port
    (`app`: another WSGI app to run with that config, e.g. one serving a fake pipeline)."""
    conf, default_app, port_var = SERVICES[service]
    app = app or default_app
    port = port or free_port()
    full_env = {**os.environ, port_var: str(port), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(REPO / conf), app]
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            cmd, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Gunicorn(service, proc, f"http://127.0.0.1:{port}", started, log)


def inference_env(
    tmp: str | Path, users_url: str, store: str | None = None, **settings: str
) -> dict[str, str]:
    """What every test or benchmark server of the inference service is started with: its
    history database and model cache under `tmp`, the users service whose keys it trusts,
    no polling for new models; `settings` add to or override these."""
    env = {
        "INFERENCE_DATABASE_URL": f"sqlite:///{tmp}/history.db",
        "MODEL_CACHE_DIR": str(Path(tmp) / "cache"),
        "USERS_SERVICE_URL": users_url,
        "INFERENCE_SECRET_KEY": secrets.token_urlsafe(16),
        "MODEL_POLL_SECONDS": "0",
    }
    if store:
        env["ARTIFACT_STORE"] = store
    env.update(settings)
    return env


@contextlib.contextmanager
def gunicorn_server(
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    service: str = "inference",
    app: str | None = None,
) -> Iterator[Gunicorn]:
    """Start gunicorn for `service`; always terminated on exit."""
    server = start(service, env, log, port, app)
    try:
        yield server
    finally:
        server.stop()
