"""Load through gunicorn with the real model, and a worker killed with SIGKILL mid-load.

600 triage requests at concurrency 32 (benchmarks/bench_load.py does 3,000): every request is
answered 200 or a deliberate 429/503, except those the killed worker held; gunicorn replaces
the worker without a restart and /readyz is 200 again afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest
import requests

from testkit.gunicorn import gunicorn_server, inference_env
from testkit.load import run_load

pytestmark = pytest.mark.slow

TOTAL = 600
CONCURRENCY = 32
KILL_AFTER = 200  # requests sent before one worker is killed


def test_load_with_a_worker_killed(trained_store, jwks, tmp_path):
    env = inference_env(
        tmp_path, jwks.url, trained_store,
        INFERENCE_WORKERS="2", INFERENCE_THREADS="4", LOG_LEVEL="WARNING",
    )  # fmt: skip
    token = jwks.key.token(sub="load", ttl=3600)
    with gunicorn_server(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        master = psutil.Process(server.proc.pid)
        before = {p.pid for p in master.children()}
        assert len(before) == 2
        killed: dict = {}

        def kill_one() -> None:
            victim = sorted(before)[0]
            killed["at"] = time.monotonic()
            killed["pid"] = victim
            os.kill(victim, signal.SIGKILL)

        def on_sent(i: int) -> None:
            if i == KILL_AFTER:
                threading.Thread(target=kill_one).start()

        port = int(server.url.rsplit(":", 1)[1])
        result = run_load("127.0.0.1", port, token, TOTAL, CONCURRENCY, on_sent=on_sent)
        print(f"\nload with SIGKILL of worker {killed.get('pid')}: {result.summary()}")

        # Nothing lost: every request has an outcome.
        assert len(result.outcomes) == TOTAL
        assert sorted(o.index for o in result.outcomes) == list(range(TOTAL))
        # Before the kill, everything was answered 200.
        assert all(o.status == 200 for o in result.outcomes if o.ended < killed["at"])
        # Only the killed worker's requests failed: at most one per connection it held, all
        # of them in flight at the kill or sent on its (now dead) keep-alive connection then.
        failed = result.failed
        assert len(failed) <= CONCURRENCY, result.summary()
        for o in failed:
            assert o.ended >= killed["at"] and o.started <= killed["at"] + 5, o
        in_flight = sum(o.started <= killed["at"] for o in failed)
        print(f"failed: {len(failed)} ({in_flight} in flight at the kill)")
        assert len(result.ok) >= TOTAL - CONCURRENCY - len(result.deliberate)

        # gunicorn replaced the worker (same master, no restart) and all workers serve again.
        server.wait_ready(timeout=120)
        after = {p.pid for p in master.children()}
        assert len(after) == 2 and killed["pid"] not in after
        assert server.proc.poll() is None
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": "How is asthma treated?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert resp.status_code == 200
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log
