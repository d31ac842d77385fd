"""Load benchmark: 3,000 triage requests at concurrency 32 through gunicorn, then again with
one worker killed (SIGKILL) a third of the way in.

    python benchmarks/bench_load.py [--requests 3000] [--concurrency 32] [--store URI]

Prints, for each run, how many requests were answered 200, deliberately refused (429/503) or
failed, requests/s and p50/p99 latency of the 200s; for the kill run, how many requests were
in flight at the kill and how many failed (only the killed worker's may: the replacement
takes no connection before its model is loaded, so no 503 either), whether gunicorn replaced
the worker, when the replacement accepted again, and /readyz during and after.
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

from testkit.gunicorn import gunicorn_server, inference_env  # noqa: E402
from testkit.jwks import JwksServer  # noqa: E402
from testkit.load import run_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store", default=os.environ.get("ARTIFACT_STORE"))
    parser.add_argument("--workers", type=int, default=2)
    # What `make run` ships: gunicorn_conf.py's threads per worker (8, micro-batching on).
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-kill", action="store_true", help="only the steady run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, JwksServer() as jwks:
        env = inference_env(
            tmp, jwks.url, args.store, INFERENCE_WORKERS=str(args.workers), LOG_LEVEL="WARNING",
            **({"INFERENCE_THREADS": str(args.threads)} if args.threads else {}),
        )  # fmt: skip
        token = jwks.key.token(sub="bench", ttl=3600)
        with gunicorn_server(env, Path(tmp) / "gunicorn.log") as server:
            print(f"gunicorn ready in {server.wait_ready():.1f}s", flush=True)
            port = int(server.url.rsplit(":", 1)[1])
            master = psutil.Process(server.proc.pid)
            n, c = args.requests, args.concurrency

            # Warm every worker's connection pools and caches, then the steady run.
            run_load("127.0.0.1", port, token, 4 * c, c)
            steady = run_load("127.0.0.1", port, token, n, c)
            print(
                f"steady  ({args.workers} workers x {args.threads or 'gunicorn_conf.py default'} "
                f"threads, concurrency {c}):"
            )
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
            ready_at_end = requests.get(f"{server.url}/readyz", timeout=5).status_code
            at = killed["at"]
            in_flight = sum(o.started <= at < o.ended for o in chaos.outcomes)
            failed_in_flight = sum(o.started <= at for o in chaos.failed)
            unready_503 = chaos.statuses.get(503, 0)
            print(f"SIGKILL worker {killed['pid']} after {n // 3} requests:")
            print(f"  {chaos.summary()}")
            print(
                f"  answered {len(chaos.outcomes)}/{n}: 200 {len(chaos.ok)}, 503 {unready_503}, "
                f"failed {len(chaos.failed)} ({failed_in_flight} of them in flight at the kill; "
                f"{in_flight} requests were in flight then, on both workers); "
                f"load ended {chaos.elapsed:.1f}s after it started"
            )
            # The replacement logs when it has loaded its model and starts accepting.
            log = Path(tmp) / "gunicorn.log"
            after = {p.pid for p in master.children()}
            replaced = killed["pid"] not in after and len(after) == len(before)
            new = after - before
            accepting_after = None
            deadline = time.monotonic() + 180
            while new and time.monotonic() < deadline:
                text = log.read_text()
                if any(f"Worker {pid}: model loaded" in text for pid in new):
                    accepting_after = time.monotonic() - at
                    break
                time.sleep(0.2)
            ready = requests.get(f"{server.url}/readyz", timeout=5).status_code
            accepting = f"by {accepting_after:.1f}s" if accepting_after else "not yet"
            print(
                f"  worker replaced: {replaced} (same master {master.pid}); replacement "
                f"accepting {accepting} after the kill; /readyz {ready_at_end} when the load "
                f"ended, {ready} now",
                flush=True,
            )
            ok = (
                len(steady.outcomes) == n
                and not steady.failed
                and len(chaos.outcomes) == n
                and len(chaos.failed) <= in_flight
                and unready_503 == 0
                and replaced
                and ready == 200
            )
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
