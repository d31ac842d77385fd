"""The user service under gunicorn with two workers: 200 registrations from one client at
concurrency 16 mostly get 429 (the limit is shared by the workers), and /metrics counts every
request whichever worker answers the scrape."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from testkit.gunicorn import gunicorn_server
from testkit.net import wait_for
from tests.metrics_scrape import per_worker, scrape, total
from tests.users.conftest import PASSWORD

pytestmark = pytest.mark.slow

N = 200
CONCURRENCY = 16


def test_registration_limit_and_metrics_across_workers(tmp_path):
    env = {
        "TMPDIR": str(tmp_path),  # where on_starting makes the metrics directory
        "USERS_HOST": "127.0.0.1",
        "USERS_DATA_DIR": str(tmp_path / "data"),
        "USERS_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "USERS_ARGON2_TIME_COST": "1",
        "USERS_ARGON2_MEMORY_COST": "1024",
        "USERS_ARGON2_PARALLELISM": "1",
        "USERS_WORKERS": "2",
        "USERS_THREADS": "2",
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, log, service="users") as server:
        server.wait_ready(60)
        (prom,) = tmp_path.glob("medtriage-users-metrics-*")

        def both_workers_serve():
            requests.get(f"{server.url}/readyz", timeout=5)
            served = per_worker(prom, "http_requests_total", endpoint="/readyz", status="200")
            return sum(n > 0 for n in served.values()) == 2

        # /readyz answered by one worker says nothing of the other (it may still be migrating).
        assert wait_for(both_workers_serve, 60)

        def register(i):
            resp = requests.post(
                f"{server.url}/api/v1/users",
                json={"email": f"bulk{i}@example.org", "password": PASSWORD},
                headers={"X-Forwarded-For": f"198.51.100.{i % 250}"},  # no proxy: ignored
                timeout=30,
            )
            if resp.status_code == 429:
                assert resp.json()["error"]["code"] == "rate_limited"
                assert int(resp.headers["Retry-After"]) > 0
            return resp.status_code

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = Counter(pool.map(register, range(N)))
        assert set(statuses) == {201, 429}
        # 10 per address per hour; requests racing past the check may add a few.
        assert 10 <= statuses[201] < 10 + CONCURRENCY, statuses
        assert statuses[429] > N - 10 - CONCURRENCY

        workers = per_worker(prom, "http_requests_total", endpoint="/api/v1/users")
        assert len(workers) == 2 and all(n > 0 for n in workers.values()), workers
        with ThreadPoolExecutor(4) as pool:
            scrapes = list(pool.map(lambda _: scrape(server.url), range(12)))
        for families in scrapes:
            counted = dict(endpoint="/api/v1/users", method="POST")
            assert total(families, "http_requests_total", **counted) == N
            assert total(families, "http_requests_total", status="201", **counted) == statuses[201]
            assert (
                total(families, "http_request_duration_seconds_count", endpoint="/api/v1/users")
                == N
            )
    assert not prom.exists()  # the master removes the directory it made
    assert "Traceback" not in log.read_text()
