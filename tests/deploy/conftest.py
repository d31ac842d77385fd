"""Fixtures for the deployment tests: terraform with its offline provider mirror, checkov in
its own virtual environment, and a moto server standing in for AWS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tf_support

from testkit.net import free_port as _free_port
from testkit.net import stop_process

HERE = Path(__file__).resolve().parent
CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = tf_support.REPO / ".venv-checkov"


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    path = tf_support.find_terraform()
    if path is None:
        pytest.skip("terraform is not installed (not on PATH); deployment checks need it")
    return path


@pytest.fixture(scope="session")
def provider_mirror(terraform_bin: str) -> Path:
    mirror = tf_support.find_provider_mirror()
    if mirror is None:
        pytest.skip(
            "no local provider mirror holding registry.terraform.io/hashicorp/aws/5.x "
            f"(looked in {', '.join(tf_support.MIRROR_ROOTS)} and below /opt, /usr/local, "
            "/usr/share and ~; set TF_PLUGIN_MIRROR to point at one)"
        )
    return mirror


@pytest.fixture(scope="session")
def tf_env(provider_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for terraform: the repository's CLI config pointed at the mirror."""
    config = tf_support.write_cli_config(
        provider_mirror, tmp_path_factory.mktemp("tfcli") / "offline.tfrc"
    )
    return tf_support.terraform_env(config)


def ensure_checkov_venv(venv: Path = CHECKOV_VENV, version: str = CHECKOV_VERSION) -> Path:
    """Create the checkov virtual environment once; return the checkov executable.

    checkov pins an older boto3 than the project, so it cannot share .venv.
    """
    checkov = venv / "bin" / "checkov"
    if checkov.exists():
        probe = subprocess.run(
            [str(checkov), "--version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return checkov
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"checkov=={version}"],
        check=True,
    )
    return checkov


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    return ensure_checkov_venv()


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Iterator[str]:
    """A fresh moto server (with the launcher's additions) on 127.0.0.1."""
    port = _free_port()
    log = (tmp_path / "moto.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "moto_launcher.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto exited early:\n{(tmp_path / 'moto.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto did not start listening within 60 s")
                time.sleep(0.3)
        yield endpoint
    finally:
        stop_process(proc)
        log.close()
