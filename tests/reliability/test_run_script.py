"""`make run`'s script on ports other than the defaults: both services come up, and the
inference service trusts the tokens of the user service it started beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from testkit.net import free_port
from tests.reliability.conftest import token_through

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_run_script_on_other_ports_serves_signed_in_triage(trained_store, tmp_path):
    if Path(sys.executable).parent != REPO / ".venv" / "bin":
        pytest.skip("scripts/run.sh runs the repository's .venv")
    inference_port, users_port = free_port(), free_port()
    env = {
        **os.environ,
        "ARTIFACT_STORE": trained_store,
        "INFERENCE_PORT": str(inference_port),
        "USERS_PORT": str(users_port),
        "USERS_DATA_DIR": str(tmp_path / "users"),
        "MEDTRIAGE_DATA_DIR": str(tmp_path / "inference"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
    }
    for name in (
        "USERS_SERVICE_URL",
        "USERS_PUBLIC_URL",
        "INFERENCE_SERVICE_URL",
        "INFERENCE_PUBLIC_URL",
    ):
        env.pop(name, None)  # what the script derives from the ports
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            ["bash", "scripts/run.sh"], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while "MedTriage is running" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert f"http://127.0.0.1:{inference_port}/" in log.read_text()
        token = token_through(f"http://127.0.0.1:{users_port}", "run-script@example.org")
        headers = {"Authorization": f"Bearer {token}"}
        resp = requests.post(
            f"http://127.0.0.1:{inference_port}/api/v1/triage",
            json={"question": "What are the treatments for glaucoma?"},
            headers=headers,
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["answers"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
