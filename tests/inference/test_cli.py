"""`python -m inference_service fetch`: download and verify the configured version."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testkit.gunicorn import REPO

pytestmark = pytest.mark.slow


def run_fetch(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inference_service", "fetch"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fetch_downloads_and_verifies(trained_store, tmp_path):
    cache = tmp_path / "cache"
    out = run_fetch({"ARTIFACT_STORE": trained_store, "MODEL_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    version = out.stdout.split()[1]
    assert (cache / version / "manifest.json").is_file()
    # Corrupt the cached copy: the next fetch notices and downloads it again.
    model = next((cache / version).glob("*.keras"))
    model.write_bytes(b"garbage")
    out = run_fetch({"ARTIFACT_STORE": trained_store, "MODEL_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert model.stat().st_size > 1000


def test_fetch_fails_clearly_without_a_model(tmp_path):
    out = run_fetch(
        {"ARTIFACT_STORE": f"file://{tmp_path}/empty", "MODEL_CACHE_DIR": str(tmp_path)}
    )
    assert out.returncode == 1
    assert "no model published" in out.stderr
