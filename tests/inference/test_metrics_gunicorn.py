"""/metrics under gunicorn with two workers counts every worker's requests, whichever worker
answers the scrape, and keeps a dead worker's counts (prometheus_client multiprocess mode)."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from testkit.gunicorn import gunicorn_server, inference_env
from testkit.net import wait_for
from tests.metrics_scrape import per_worker, scrape, total

pytestmark = pytest.mark.slow

N = 60
PREDICTIONS = "medtriage_predictions_total"


def test_metrics_add_up_across_workers(tmp_path, jwks):
    prom = tmp_path / "prom"
    prom.mkdir()
    # Left over from an earlier run in the operator's directory: cleared at start.
    stale = MmapedDict(str(prom / "counter_4242.db"))
    stale.write_value(mmap_key(PREDICTIONS, PREDICTIONS, [], [], "stale"), 1000.0, 0.0)
    stale.close()
    env = inference_env(
        tmp_path, jwks.url, PROMETHEUS_MULTIPROC_DIR=str(prom), MEDTRIAGE_DATA_DIR=str(tmp_path),
        INFERENCE_WORKERS="2", INFERENCE_THREADS="2",
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {jwks.key.token(sub='counter')}"}
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, log, app="tests.inference.fake_wsgi:app") as server:
        server.wait_ready(60)
        assert not (prom / "counter_4242.db").exists()

        def triage(i):
            return requests.post(
                f"{server.url}/api/v1/triage",
                json={"question": f"How is asthma treated? {i}"},
                headers=headers,
                timeout=10,
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(triage, range(N))) == [200] * N
        # Both workers answered some: a single worker's view would then fall short of N.
        workers = per_worker(prom, PREDICTIONS)
        assert len(workers) == 2 and all(n > 0 for n in workers.values()), workers
        assert sum(workers.values()) == N

        with ThreadPoolExecutor(4) as pool:
            scrapes = list(pool.map(lambda _: scrape(server.url), range(12)))
        for families in scrapes:
            assert total(families, PREDICTIONS) == N
            assert total(families, "medtriage_model_latency_seconds_count") == N
            assert total(families, "http_requests_total", endpoint="/api/v1/triage") == N
            assert total(families, "medtriage_model_ready") == 1
            assert total(families, "medtriage_model_info", version="v1") == 1

        # A worker killed and replaced: its counts stay, its live gauges go.
        victim = max(workers)
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: not (prom / f"gauge_livemin_{victim}.db").exists(), 30)
        assert wait_for(lambda: len(list(prom.glob("gauge_livemin_*.db"))) == 2, 60)
        # /readyz stays 200 while the replacement loads (it takes no traffic until then), so
        # wait for the replacement's own gauge.
        assert wait_for(lambda: total(scrape(server.url), "medtriage_model_ready") == 1, 60)
        for _ in range(4):
            families = scrape(server.url)
            assert total(families, PREDICTIONS) == N
            assert total(families, "medtriage_model_ready") == 1
    assert "Traceback" not in log.read_text()
