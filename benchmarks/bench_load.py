"""Load benchmark: 3,000 triage requests at concurrency 32 through gunicorn, then again with
one worker killed (SIGKILL) a third of the way in.

    python benchmarks/bench_load.py [--requests 3000] [--concurrency 32] [--store URI]

Prints, for each run, how many requests were answered 200, deliberately refused (429/503) or
failed, requests/s and p50/p99 latency of the 200s; for the kill run, which requests failed
(in flight at the kill), whether gunicorn replaced the worker and when /readyz was 200 again.
Uses ARTIFACT_STORE / MODEL_VERSION (a model must be published: `make train`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.gunicorn import gunicorn_server  # noqa: E402
from testkit.jwks import JwksServer  # noqa: E402
from testkit.load import run_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store", default=os.environ.get("ARTIFACT_STORE"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)  # as gunicorn_conf.py
    parser.add_argument("--skip-kill", action="store_true", help="only the steady run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, JwksServer() as jwks:
        env = {
            "MODEL_CACHE_DIR": str(Path(tmp) / "cache"),
            "INFERENCE_DATABASE_URL": f"sqlite:///{tmp}/history.db",
            "USERS_SERVICE_URL": jwks.url,
            "INFERENCE_SECRET_KEY": "bench",
            "MODEL_POLL_SECONDS": "0",
            "INFERENCE_WORKERS": str(args.workers),
            "INFERENCE_THREADS": str(args.threads),
            "LOG_LEVEL": "WARNING",
        }
        if args.store:
            env["ARTIFACT_STORE"] = args.store
        token = jwks.key.token(sub="bench", ttl=3600)
        with gunicorn_server(env, Path(tmp) / "gunicorn.log") as server:
            print(f"gunicorn ready in {server.wait_ready():.1f}s", flush=True)
            port = int(server.url.rsplit(":", 1)[1])
            master = psutil.Process(server.proc.pid)
            n, c = args.requests, args.concurrency

            # Warm every worker's connection pools and caches, then the steady run.
            run_load("127.0.0.1", port, token, 4 * c, c)
            steady = run_load("127.0.0.1", port, token, n, c)
            print(f"steady  ({args.workers} workers x {args.threads} threads, concurrency {c}):")
            print(f"  {steady.summary()}")
            print(f"  answered {len(steady.outcomes)}/{n}, failed {len(steady.failed)}", flush=True)
            if args.skip_kill:
                return 0 if not steady.failed and len(steady.outcomes) == n else 1

            before = {p.pid for p in master.children()}
            killed: dict = {}

            def kill() -> None:
                killed["pid"] = sorted(before)[0]
                killed["at"] = time.monotonic()
                os.kill(killed["pid"], signal.SIGKILL)

            def on_sent(i: int) -> None:
                if i == n // 3:
                    threading.Thread(target=kill).start()

            chaos = run_load("127.0.0.1", port, token, n, c, on_sent=on_sent)
            in_flight = sum(o.started <= killed["at"] for o in chaos.failed)
            print(f"SIGKILL worker {killed['pid']} after {n // 3} requests:")
            print(f"  {chaos.summary()}")
            print(
                f"  answered {len(chaos.outcomes)}/{n}: 200 {len(chaos.ok)}, deliberate 429/503 "
                f"{len(chaos.deliberate)}, failed {len(chaos.failed)} ({in_flight} in flight at "
                "the kill)"
            )
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if requests.get(f"{server.url}/readyz", timeout=5).status_code == 200:
                    break
                time.sleep(0.2)
            ready_after = time.monotonic() - killed["at"]
            after = {p.pid for p in master.children()}
            replaced = killed["pid"] not in after and len(after) == len(before)
            ready = requests.get(f"{server.url}/readyz", timeout=5).status_code
            print(
                f"  worker replaced: {replaced} (same master {master.pid}); /readyz {ready} "
                f"{ready_after:.1f}s after the kill",
                flush=True,
            )
            ok = (
                len(steady.outcomes) == n
                and not steady.failed
                and len(chaos.outcomes) == n
                and len(chaos.failed) <= c
                and replaced
                and ready == 200
            )
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
