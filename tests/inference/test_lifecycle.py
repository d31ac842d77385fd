"""Model lifecycle with a fake source: readiness, retry with backoff, hot reload, refusal."""

from __future__ import annotations

import threading

from testkit.net import wait_for


def test_healthz_at_once_readyz_503_until_loaded(make_app, source):
    source.unreachable = True
    app = make_app()
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert wait_for(source.resolved.is_set)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "loading"
    assert "unreachable" in resp.get_json()["detail"]
    # The store comes back: the retry loop (with backoff) picks it up, no restart.
    source.unreachable = False
    assert wait_for(lambda: client.get("/readyz").status_code == 200)
    assert client.get("/readyz").get_json() == {
        "status": "ready",
        "model_version": "v1",
        "detail": None,
    }


def test_retry_backs_off_while_unreachable(make_app, source):
    calls = []
    original = source.resolve

    def counting(spec):
        calls.append(spec)
        return original(spec)

    source.resolve = counting
    source.unreachable = True
    app = make_app(MODEL_RETRY_INITIAL_SECONDS=0.05, MODEL_RETRY_MAX_SECONDS=0.2)
    import time

    time.sleep(1.0)
    # 0.05, 0.1, 0.2, 0.2, ... : about 6 attempts in a second, not hundreds.
    assert 3 <= len(calls) <= 10, len(calls)
    assert not app.extensions["model"].ready


def test_new_latest_is_picked_up_without_restart(app, source, auth):
    client = app.test_client()
    assert client.get("/api/v1/model").get_json()["version"] == "v1"
    source.latest = "v2"
    assert wait_for(lambda: client.get("/api/v1/model").get_json()["version"] == "v2")
    body = client.post(
        "/api/v1/triage", json={"question": "How is gout treated?"}, headers=auth
    ).get_json()
    assert body["model_version"] == "v2"


def test_corrupt_version_is_refused_and_current_keeps_serving(app, source):
    client = app.test_client()
    manager = app.extensions["model"]
    source.broken.add("v2")
    source.latest = "v2"
    assert wait_for(lambda: "v2" in manager.refused)
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/model").get_json()["version"] == "v1"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'medtriage_model_reloads_total{outcome="refused"}' in metrics
    # A later good version still gets through.
    source.latest = "v3"
    assert wait_for(lambda: client.get("/api/v1/model").get_json()["version"] == "v3")


def test_version_mismatch_is_refused(app, source):
    manager = app.extensions["model"]
    original = source.load
    source.load = lambda path: original(path.parent / "other")  # artifact says another version
    source.latest = "v2"
    assert wait_for(lambda: "v2" in manager.refused)
    assert manager.current.version == "v1"


def test_pinned_version_is_not_polled(make_app, source):
    app = make_app(MODEL_VERSION="v7")
    assert wait_for(lambda: app.extensions["model"].ready)
    assert app.extensions["model"].current.version == "v7"
    source.latest = "v8"
    import time

    time.sleep(0.3)
    assert app.extensions["model"].current.version == "v7"
    assert source.loads == ["v7"]


def test_requests_never_fail_during_reloads(app, source, auth):
    client_errors = []
    stop = threading.Event()

    def hammer():
        client = app.test_client()
        while not stop.is_set():
            resp = client.post(
                "/api/v1/triage", json={"question": "How is gout treated?"}, headers=auth
            )
            if resp.status_code != 200:
                client_errors.append(resp.status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(2, 7):
        source.latest = f"v{n}"
        assert wait_for(lambda n=n: app.extensions["model"].current.version == f"v{n}")
    stop.set()
    for t in threads:
        t.join()
    assert client_errors == []


def test_loader_restarts_after_fork(app):
    manager = app.extensions["model"]
    manager._pid = -1  # as if this process were a fork of the one that started the thread
    old = manager._thread
    app.test_client().get("/readyz")
    assert manager._thread is not old and manager._thread.is_alive()


def test_readyz_waits_for_every_worker(make_app, tmp_path, monkeypatch):
    import subprocess

    from inference_service.readiness import WorkerBoard

    monkeypatch.setenv("INFERENCE_READINESS_DIR", str(tmp_path / "ready"))
    monkeypatch.setenv("INFERENCE_EXPECTED_WORKERS", "2")
    app = make_app()
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    assert wait_for(lambda: client.get("/readyz").get_json()["detail"] == "1 of 2 workers serving")
    assert client.get("/readyz").status_code == 503
    # A sibling worker that died after marking itself ready does not count...
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "ready" / str(dead.pid)).write_text("v1")
    assert client.get("/readyz").status_code == 503
    # ...a live one does.
    sibling = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "ready" / str(sibling.pid)).write_text("v1")
        assert client.get("/readyz").status_code == 200
        assert WorkerBoard(tmp_path / "ready", 2).ready_workers() == 2
    finally:
        sibling.kill()
        sibling.wait()


def test_request_waits_for_a_load_under_way_instead_of_503(make_app, source, auth):
    loading = threading.Event()
    release = threading.Event()
    original = source.load

    def slow_load(path):
        loading.set()
        release.wait(10)
        return original(path)

    source.load = slow_load
    app = make_app(MODEL_HOLD_SECONDS=30)
    assert loading.wait(10)
    answers = []
    asker = threading.Thread(
        target=lambda: answers.append(
            app.test_client().post(
                "/api/v1/triage", json={"question": "How is gout treated?"}, headers=auth
            )
        )
    )
    asker.start()
    assert app.test_client().get("/readyz").status_code == 503
    release.set()  # the load finishes while the request waits
    asker.join(30)
    assert answers and answers[0].status_code == 200


def test_no_wait_while_the_store_is_failing(make_app, source, auth):
    source.unreachable = True
    app = make_app(MODEL_HOLD_SECONDS=3600, MODEL_RETRY_INITIAL_SECONDS=3600)
    assert wait_for(lambda: app.extensions["model"].last_error is not None)
    # Backing off after a failed attempt: the 503 comes at once (the test would hang if not).
    resp = app.test_client().post(
        "/api/v1/triage", json={"question": "How is gout treated?"}, headers=auth
    )
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "not_ready"
