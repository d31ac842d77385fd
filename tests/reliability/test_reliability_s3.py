"""Artifact store faults with a real S3 server (SeaweedFS) behind a proxy that can go down.

One service instance, never restarted, lives through: the store down at start (503, then
ready once it is back), the store down while a new version is published (the current model
keeps serving; the new one is picked up when the store is back), and a corrupted artifact in
the bucket (refused, logged, the current model kept).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from medtriage.store import open_store
from testkit.net import wait_for
from tests.reliability.faults import FlakyProxy
from tests.s3server import s3_client, seaweedfs_server
from training.publish import publish_version

pytestmark = pytest.mark.slow

BUCKET = "medtriage-test"
STORE = f"s3://{BUCKET}/models"


def publish_copy(store, model_dir: Path, version: str, work: Path) -> None:
    """Publish the files of a fetched version again under a new version name."""
    manifest = json.loads((model_dir / "manifest.json").read_text())
    extra = {k: v for k, v in manifest.items() if k not in {"version", "files", "created_at"}}
    staging = work / f"staging-{version}"
    shutil.copytree(model_dir, staging, ignore=shutil.ignore_patterns("manifest.json"))
    publish_version(store, staging, version, extra)
    shutil.rmtree(staging)


def test_s3_down_at_start_during_reload_and_corrupt_artifact(
    trained_model_dir, jwks, tmp_path, monkeypatch, caplog, quiet_logs
):
    from inference_service import create_app

    with seaweedfs_server(tmp_path / "s3") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        direct = open_store(STORE)  # the publisher talks to S3 itself
        publish_copy(direct, trained_model_dir, "v1", tmp_path)
        with FlakyProxy(int(endpoint.rsplit(":", 1)[1])) as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # the service goes through it
            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "s3-faults",
                    "ARTIFACT_STORE": STORE,
                    "MODEL_CACHE_DIR": str(tmp_path / "cache"),
                    "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
                    "USERS_SERVICE_URL": jwks.url,
                    "MODEL_POLL_SECONDS": 0.5,
                    "MODEL_RETRY_INITIAL_SECONDS": 0.2,
                    "MODEL_RETRY_MAX_SECONDS": 1.0,
                    "HISTORY_PURGE_SECONDS": 0,
                    "WORKER_READINESS": False,
                }
            )
            manager = app.extensions["model"]
            client = app.test_client()
            auth = {"Authorization": f"Bearer {jwks.key.token(sub='s3')}"}
            try:
                # 1. S3 down at start: alive, not ready, saying why; no crash.
                assert wait_for(lambda: manager.last_error is not None, timeout=30)
                resp = client.get("/readyz")
                assert resp.status_code == 503
                assert "cannot reach the S3 endpoint" in resp.get_json()["detail"]
                assert client.get("/healthz").status_code == 200
                ask = client.post(
                    "/api/v1/triage", json={"question": "What is gout?"}, headers=auth
                )
                assert ask.status_code == 503 and ask.get_json()["error"]["code"] == "not_ready"

                # ... and ready once it is back, without a restart.
                proxy.up()
                assert wait_for(lambda: client.get("/readyz").status_code == 200, timeout=120)
                assert client.get("/api/v1/model").get_json()["version"] == "v1"

                # 2. S3 down while a new version is published: v1 keeps serving.
                proxy.down()
                publish_copy(direct, trained_model_dir, "v2", tmp_path)
                manager.last_error = None
                manager.poke()
                assert wait_for(lambda: manager.last_error is not None, timeout=30)
                assert "S3" in manager.last_error
                for _ in range(5):
                    resp = client.post(
                        "/api/v1/triage", json={"question": "How is asthma treated?"}, headers=auth
                    )
                    assert resp.status_code == 200 and resp.get_json()["model_version"] == "v1"
                assert client.get("/readyz").status_code == 200
                proxy.up()
                manager.poke()
                assert wait_for(lambda: manager.current.version == "v2", timeout=120)

                # 3. A corrupted artifact in the bucket: refused, logged, v2 kept. (Published
                # and damaged out of the service's sight, so it never sees the good bytes.)
                proxy.down()
                publish_copy(direct, trained_model_dir, "v3", tmp_path)
                s3 = s3_client(endpoint)
                key = next(
                    o["Key"]
                    for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/triage/v3/")[
                        "Contents"
                    ]
                    if o["Key"].endswith(".keras")
                )
                data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
                data[len(data) // 2] ^= 0xFF
                s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
                logging.disable(logging.NOTSET)
                with caplog.at_level(logging.WARNING, logger="inference_service.model"):
                    proxy.up()
                    manager.poke()
                    assert wait_for(lambda: "v3" in manager.refused, timeout=60)
                    assert wait_for(lambda: "checksum mismatch" in caplog.text, timeout=10)
                assert manager.current.version == "v2"
                resp = client.post(
                    "/api/v1/triage", json={"question": "How is asthma treated?"}, headers=auth
                )
                assert resp.status_code == 200 and resp.get_json()["model_version"] == "v2"
                metrics = client.get("/metrics").get_data(as_text=True)
                assert 'medtriage_model_reloads_total{outcome="refused"} 1.0' in metrics
            finally:
                manager.stop()
                app.extensions["history"].engine.dispose()
