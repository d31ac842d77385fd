"""Run the inference service under real gunicorn for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.net import free_port

REPO = Path(__file__).resolve().parents[2]


class Gunicorn:
    def __init__(self, proc: subprocess.Popen, url: str, started: float, log: Path):
        self.proc = proc
        self.url = url
        self.started = started
        self.log = log

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds from process start until /readyz answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            time.sleep(0.05)
        raise TimeoutError(f"not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def wait_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"no /healthz in {timeout}s: {self.log.read_text()[-3000:]}")


@contextlib.contextmanager
def gunicorn_server(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[Gunicorn]:
    """Start gunicorn with the service's config; always terminated on exit."""
    port = port or free_port()
    full_env = {**os.environ, "INFERENCE_PORT": str(port), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c", str(REPO / "inference_service" / "gunicorn_conf.py"),
        "inference_service.wsgi:app",
    ]  # fmt: skip
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            cmd,
            cwd=REPO,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(proc, f"http://127.0.0.1:{port}", started, log)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
