"""End to end under gunicorn with the real trained pipeline: start with no model (503, retrying),
publish (ready), answer, hot-reload a new LATEST under load, refuse corrupt and half-published
versions while the current one keeps serving."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from medtriage.store import ArtifactError, open_store, read_manifest
from testkit.gunicorn import gunicorn_server, inference_env
from training.publish import publish_version

pytestmark = pytest.mark.slow


def republish(store_uri: str, source_dir: Path, version: str) -> None:
    """Publish the files of a fetched version again under a new version name."""
    store = open_store(store_uri)
    manifest = json.loads((source_dir / "manifest.json").read_text())
    extra = {k: v for k, v in manifest.items() if k not in {"version", "files", "created_at"}}
    staging = source_dir.parent / f"staging-{version}"
    shutil.copytree(source_dir, staging, ignore=shutil.ignore_patterns("manifest.json"))
    publish_version(store, staging, version, extra)
    shutil.rmtree(staging)


def corrupt_publish(store_uri: str, source_dir: Path, version: str) -> None:
    """A complete-looking version whose model bytes do not match its manifest, then LATEST."""
    root = Path(store_uri.removeprefix("file://")) / "triage"
    shutil.copytree(source_dir, root / version)
    manifest = json.loads((root / version / "manifest.json").read_text())
    manifest["version"] = version
    (root / version / "manifest.json").write_text(json.dumps(manifest))
    model = next(p for p in (root / version).iterdir() if p.suffix == ".keras")
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    (root / "LATEST").write_text(version)


def half_publish(store_uri: str, source_dir: Path, version: str) -> None:
    """Files but no manifest, and LATEST pointing at it (what a crashed publisher could leave)."""
    root = Path(store_uri.removeprefix("file://")) / "triage"
    shutil.copytree(source_dir, root / version, ignore=shutil.ignore_patterns("manifest.json"))
    (root / "LATEST").write_text(version)


def test_gunicorn_lifecycle_with_real_model(trained_store, trained_model_dir, tmp_path, jwks):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    store_uri = f"file://{store_dir}"
    original = read_manifest(open_store(trained_store), trained_model_dir.name)["version"]
    env = inference_env(
        tmp_path, jwks.url, store_uri, MODEL_POLL_SECONDS="0.5",
        MODEL_RETRY_INITIAL_SECONDS="0.2", MODEL_RETRY_MAX_SECONDS="1",
        INFERENCE_WORKERS="2", INFERENCE_THREADS="2",
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {jwks.key.token(sub='e2e')}"}
    with gunicorn_server(env, tmp_path / "gunicorn.log") as server:
        server.wait_up()
        # Nothing published: alive, not ready, and it keeps retrying (no crash loop).
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        time.sleep(2)
        resp = requests.get(f"{server.url}/readyz", timeout=5)
        assert resp.status_code == 503 and "no model published" in resp.json()["detail"]
        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "What is gout?"},
            headers=headers,
            timeout=5,
        )
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "not_ready"
        assert server.proc.poll() is None

        republish(store_uri, trained_model_dir, original)
        server.wait_ready()

        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "What are the treatments for glaucoma?", "top_k": 3},
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        spec = requests.get(f"{server.url}/openapi.json", timeout=5).json()
        schema = spec["paths"]["/api/v1/triage"]["post"]["responses"]["200"]["content"]
        schema = {**schema["application/json"]["schema"], "components": spec["components"]}
        OAS30Validator(schema).validate(body)
        assert body["model_version"] == original
        assert 0.0 <= body["category"]["confidence"] <= 1.0
        assert "not medical advice" in body["disclaimer"]
        for answer in body["answers"]:
            assert {"id", "question", "answer", "focus", "source_url", "score"} <= set(answer)
        urgent = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "My father has crushing chest pain and can't breathe"},
            headers=headers,
            timeout=10,
        ).json()
        assert urgent["urgent"] is True and urgent["urgent_message"]

        # A body over 16 KiB sent chunked (no Content-Length) is still refused with 413.
        conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
        payload = json.dumps({"question": "x" * 20000}).encode()
        conn.request(
            "POST",
            "/api/v1/triage",
            body=iter([payload]),
            headers={**headers, "Content-Type": "application/json"},
            encode_chunked=True,
        )
        big = conn.getresponse()
        assert big.status == 413 and json.loads(big.read())["error"]["code"] == "payload_too_large"
        conn.close()

        # Hot reload under load: no request may fail while versions change.
        failures, versions_seen = [], set()
        stop = threading.Event()

        def hammer():
            session = requests.Session()
            while not stop.is_set():
                r = session.post(
                    f"{server.url}/api/v1/triage",
                    json={"question": "How is asthma treated?"},
                    headers=headers,
                    timeout=30,
                )
                if r.status_code != 200:
                    failures.append(r.status_code)
                else:
                    versions_seen.add(r.json()["model_version"])

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            republish(store_uri, trained_model_dir, "v2-reloaded")

            def all_workers_on(version):
                return all(
                    requests.get(f"{server.url}/api/v1/model", timeout=5).json()["version"]
                    == version
                    for _ in range(8)
                )

            # Bounded, not a speed check: two workers load the new version while two clients
            # keep them busy, on a 2-core machine that may be running other suites. Wait for
            # each worker's own log line: eight sampled answers can all come from the worker
            # that reloaded first while the other is still loading.
            def reloaded_workers() -> int:
                log = (tmp_path / "gunicorn.log").read_text()
                return log.count('"serving model version v2-reloaded"')

            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and reloaded_workers() < 2:
                time.sleep(0.5)
            log_tail = (tmp_path / "gunicorn.log").read_text()[-3000:]
            assert all_workers_on("v2-reloaded"), log_tail
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert failures == []
        assert {original, "v2-reloaded"} <= versions_seen

        # A corrupt version (checksum mismatch) and a half-published one are refused.
        corrupt_publish(store_uri, trained_model_dir, "v3-corrupt")
        with pytest.raises(ArtifactError):
            from medtriage.store import fetch_version

            fetch_version(open_store(store_uri), "v3-corrupt", tmp_path / "probe")
        time.sleep(3)
        for _ in range(6):
            assert (
                requests.get(f"{server.url}/api/v1/model", timeout=5).json()["version"]
                == "v2-reloaded"
            )
        half_publish(store_uri, trained_model_dir, "v4-half")
        time.sleep(3)
        for _ in range(6):
            assert (
                requests.get(f"{server.url}/readyz", timeout=5).json()["model_version"]
                == "v2-reloaded"
            )
        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "How is asthma treated?"},
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 200 and resp.json()["model_version"] == "v2-reloaded"
        metrics = requests.get(f"{server.url}/metrics", timeout=5).text
        assert 'medtriage_model_reloads_total{outcome="refused"}' in metrics

    assert server.proc.poll() is not None  # gunicorn is gone
    log = (tmp_path / "gunicorn.log").read_text()
    assert "crushing chest pain" not in log and "glaucoma" not in log
    assert "Traceback" not in log
