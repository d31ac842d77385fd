"""Slow and idle clients against the inference service as `make run` starts it.

    python benchmarks/bench_slow_clients.py [--slow 64] [--idle 16] [--store URI] [--stock]

Starts gunicorn with inference_service/gunicorn_conf.py (2 workers x 2 threads), opens
`--idle` sockets that send nothing and `--slow` connections that send a request line and then
one header line a second (reconnecting when the server closes them), and meanwhile measures
/healthz (p50/p99/max of 50 sequential requests) and a few triage requests. `--stock` runs
stock gthread with the old sizing (worker_connections = threads = 2) for comparison.
Uses ARTIFACT_STORE / MODEL_VERSION (a model must be published: `make train`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.gunicorn import gunicorn_server, inference_env  # noqa: E402
from testkit.jwks import JwksServer  # noqa: E402
from testkit.load import SlowClients  # noqa: E402

TIMEOUT = 35.0  # a request not answered in this time counts as failed


def timed(fn) -> tuple[float, int | str]:
    started = time.perf_counter()
    try:
        status: int | str = fn().status_code
    except requests.RequestException as exc:
        status = type(exc).__name__
    return (time.perf_counter() - started) * 1000, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=64)
    parser.add_argument("--idle", type=int, default=16)
    parser.add_argument("--store", default=os.environ.get("ARTIFACT_STORE"))
    parser.add_argument("--stock", action="store_true", help="stock gthread, old sizing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, JwksServer() as jwks:
        env = inference_env(
            tmp,
            jwks.url,
            args.store,
            MEDTRIAGE_DATA_DIR=str(Path(tmp) / "data"),
            LOG_LEVEL="WARNING",
        )
        if args.stock:
            env.update(INFERENCE_WORKER_CLASS="gthread", INFERENCE_WORKER_CONNECTIONS="2")
        token = jwks.key.token(sub="bench", ttl=3600)
        headers = {"Authorization": f"Bearer {token}"}
        with gunicorn_server(env, Path(tmp) / "gunicorn.log") as server:
            print(f"gunicorn ready in {server.wait_ready():.1f}s", flush=True)
            port = int(server.url.rsplit(":", 1)[1])

            def healthz():
                return requests.get(f"{server.url}/healthz", timeout=TIMEOUT)

            def triage():
                return requests.post(
                    f"{server.url}/api/v1/triage",
                    json={"question": "How is glaucoma treated?"},
                    headers=headers,
                    timeout=TIMEOUT,
                )

            base = [timed(healthz)[0] for _ in range(20)]
            print(f"no slow clients: /healthz p50 {statistics.median(base):.1f} ms")
            kind = "stock gthread, worker_connections 2" if args.stock else "shipped config"
            with SlowClients(port, slow=args.slow, idle=args.idle) as clients:
                time.sleep(3)
                results = []
                for _ in range(50):
                    results.append(timed(healthz))
                    if sum(status != 200 for _, status in results) >= 3:
                        break  # starved: stop after three timeouts
                triages = [timed(triage) for _ in range(5 if len(results) == 50 else 1)]
                lines = clients.lines_sent
            ok = sorted(ms for ms, status in results if status == 200)
            failed = [status for _, status in results if status != 200]
            print(f"{args.slow} slow-header + {args.idle} idle connections ({kind}):")
            if ok:
                q = statistics.quantiles(ok, n=100, method="inclusive") if len(ok) > 1 else ok * 99
                print(
                    f"  /healthz: {len(ok)}/{len(results)} answered 200, p50 {statistics.median(ok):.1f} ms, "
                    f"p99 {q[98]:.1f} ms, max {ok[-1]:.1f} ms; failed {len(failed)} {set(failed)}"
                )
            else:
                print(f"  /healthz: none answered in {TIMEOUT:.0f}s ({set(failed)})")
            print(
                "  triage: "
                + ", ".join(f"{status} in {ms:.0f} ms" for ms, status in triages)
                + f" (slow clients sent {lines} header lines meanwhile)",
                flush=True,
            )
            good = ok and statistics.median(ok) < 100 and any(s == 200 for _, s in triages)
            return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
