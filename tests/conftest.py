"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# A small stratified sample keeps `make test` within minutes; the full run is `make train`.
TEST_LIMIT = 900
TEST_EPOCHS = 8


def train_into(store_uri: str, limit: int = TEST_LIMIT, epochs: int = TEST_EPOCHS) -> str:
    """Run the real training command into a store; returns the published version."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-m", "training", "train", "--store", store_uri,
         "--limit", str(limit), "--epochs", str(epochs)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def medquad_csv() -> Path:
    """The MedQuAD table: local, or downloaded once; skips where neither is possible."""
    from training.data import medquad_path
    from training.medquad_xml import MedQuADError

    try:
        return medquad_path()
    except MedQuADError as exc:
        pytest.skip(f"MedQuAD is not available here (no ../shared/data, no network): {exc}")


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory, medquad_csv) -> str:
    """A file:// store holding one small model trained by `python -m training train`."""
    root = tmp_path_factory.mktemp("store")
    uri = f"file://{root}"
    train_into(uri)
    return uri


@pytest.fixture(scope="session")
def trained_model_dir(trained_store, tmp_path_factory) -> Path:
    """The trained version fetched and verified into a local cache directory."""
    from medtriage.store import fetch_version, open_store

    return fetch_version(open_store(trained_store), "latest", tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def pipeline(trained_model_dir):
    """The loaded pipeline, shared across tests (loading TensorFlow is slow)."""
    from medtriage.pipeline import TriagePipeline

    return TriagePipeline.load(trained_model_dir)


@pytest.fixture(scope="session")
def jwks():
    """A JWKS server with the tests' own signing key (stands in for the user service)."""
    from testkit.jwks import JwksServer

    with JwksServer() as server:
        yield server
