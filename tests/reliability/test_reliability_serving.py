"""The inference service under real gunicorn, as `make run` configures it, with a fake model:
slow and idle clients do not starve the workers, a cold start answers /healthz and holds
triage requests until the model is there, and a killed worker's replacement takes no traffic
until its model is loaded (no 503 while the other worker serves).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import psutil
import pytest
import requests

from common.gthread_worker import request_complete
from testkit.gunicorn import gunicorn_server, inference_env
from testkit.load import SlowClients, run_load

pytestmark = pytest.mark.slow

FAKE_APP = "tests.inference.fake_wsgi:app"


def fake_env(tmp_path, jwks, **extra) -> dict[str, str]:
    return inference_env(
        tmp_path, jwks.url, MEDTRIAGE_DATA_DIR=str(tmp_path / "data"), LOG_LEVEL="WARNING", **extra
    )


def test_request_complete():
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
    assert not request_complete(b"GET / HTTP/1.1\r\nHost: a\r\n", 1024)
    assert request_complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1024)
    assert not request_complete(head + b"abc", 1024)
    assert request_complete(head + b"abcde", 1024)
    # Left to the pool thread (which reads with a socket timeout): chunked, 100-continue, big.
    assert request_complete(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1024)
    assert request_complete(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 1024)
    assert request_complete(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", 1024)
    assert request_complete(b"GET / HTTP/1.1\r\nX: " + b"a" * 2000, 1024)


def test_requests_answered_while_slow_and_idle_clients_are_connected(tmp_path, jwks):
    """64 slow-header connections and 16 idle sockets: /healthz and a triage still answered.

    Stock gthread with the old sizing (2 workers x 2 threads, worker_connections 2) answered
    nothing while such clients kept sending (benchmarks/bench_slow_clients.py shows both)."""
    token = jwks.key.token(sub="slow", ttl=3600)
    with gunicorn_server(fake_env(tmp_path, jwks), tmp_path / "g.log", app=FAKE_APP) as server:
        server.wait_ready(timeout=60)
        port = int(server.url.rsplit(":", 1)[1])
        with SlowClients(port, slow=64, idle=16) as clients:
            time.sleep(2)  # every slow client is connected and has sent header lines
            assert clients.lines_sent > 0
            for _ in range(5):
                assert requests.get(f"{server.url}/healthz", timeout=20).status_code == 200
            resp = requests.post(
                f"{server.url}/api/v1/triage",
                json={"question": "How is gout treated?"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=20,
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["category"]["label"] == "treatment"
        # A request split over several packets (a slow but honest client) is still served.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            body = b'{"question": "What is gout?"}'
            s.sendall(b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.3)
            s.sendall(
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
            )
            s.sendall(f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
            time.sleep(0.3)
            s.sendall(body[10:])
            assert s.recv(100).startswith(b"HTTP/1.1 200")
    assert "Traceback" not in (tmp_path / "g.log").read_text()


def test_cold_start_holds_requests_and_a_killed_worker_gets_no_traffic(tmp_path, jwks):
    env = fake_env(
        tmp_path,
        jwks,
        INFERENCE_WORKERS="2",
        FAKE_LOAD_SECONDS="3",  # every model load, also the replacement's
        FAKE_TRIAGE_SECONDS="0.005",
    )
    token = jwks.key.token(sub="kill", ttl=3600)
    headers = {"Authorization": f"Bearer {token}"}
    with gunicorn_server(env, tmp_path / "g.log", app=FAKE_APP) as server:
        # Cold start: no worker serves yet, so they accept at once. /healthz answers while
        # the models load, and a triage waits for the load instead of a 503.
        server.wait_up(timeout=60)
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 503
        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "What is gout?"},
            headers=headers,
            timeout=60,
        )
        assert resp.status_code == 200, resp.text
        server.wait_ready(timeout=60)

        master = psutil.Process(server.proc.pid)
        before = {p.pid for p in master.children()}
        assert len(before) == 2
        killed: dict = {}

        def kill_one() -> None:
            killed["pid"] = sorted(before)[0]
            killed["at"] = time.monotonic()
            os.kill(killed["pid"], signal.SIGKILL)

        def on_sent(i: int) -> None:
            if i == 200:
                threading.Thread(target=kill_one).start()

        port = int(server.url.rsplit(":", 1)[1])
        # Long enough that the replacement is still loading for much of the run.
        result = run_load("127.0.0.1", port, token, 1500, 16, on_sent=on_sent)
        print(f"\nkilled worker {killed['pid']}: {result.summary()}")
        assert len(result.outcomes) == 1500
        # No 503: the replacement took no connection before its model was loaded.
        assert 503 not in result.statuses, result.summary()
        # Only requests the killed worker held failed: at most one per client connection.
        assert len(result.failed) <= 16, result.summary()
        for o in result.failed:
            assert o.started <= killed["at"] + 1, o
        assert all(o.status == 200 for o in result.outcomes if o not in result.failed)
        # While the replacement loads, the task stays ready (the other worker serves).
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200

        # gunicorn replaced the worker, and the replacement serves once loaded.
        after = {p.pid for p in master.children()}
        assert len(after) == 2 and killed["pid"] not in after
        log = tmp_path / "g.log"
        assert "loading the model before accepting connections" in log.read_text()
    assert "Traceback" not in log.read_text()
