"""Store test fixtures: each store test runs on file:// and on a real S3 server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from medtriage.store import ArtifactStore, open_store
from tests.s3server import seaweedfs_server

BUCKET = "medtriage-test"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """One SeaweedFS server for the whole session (starting one takes about a second)."""
    with seaweedfs_server(tmp_path_factory.mktemp("s3"), buckets=(BUCKET,)) as endpoint:
        yield endpoint


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> ArtifactStore:
    """An empty store; S3 stores get a fresh prefix in the shared bucket."""
    if request.param == "file":
        return open_store(f"file://{tmp_path / 'store'}")
    endpoint = request.getfixturevalue("s3_endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return open_store(f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}")
