"""Benchmark the inference service: real HTTP on loopback against gunicorn, vs in-process.

    python benchmarks/bench_service.py [--seconds 8] [--rounds 3] [--threads 8] [--threads-off 2]
        [--compare-threads 4,16] [--sweep]

Prints, in one run: p50/p99 latency and requests/s at concurrency 1, 4, 8, 32 for
POST /api/v1/triage over HTTP, for two gunicorn servers up side by side and measured
interleaved (the same machine for both): micro-batching on (INFERENCE_BATCH_MAX, default 32)
and off (INFERENCE_BATCH_MAX=1, the pre-batching sizing); `--compare-threads` adds batched
servers with other thread counts. Also the same pipeline called in-process; cold start
(process start to /readyz 200, artifact download included) against a bare
`python -c "import tensorflow"` plus the download; then the ratios and whether each goal holds.
Uses ARTIFACT_STORE / MODEL_VERSION (a model must be published: `make train`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The in-process side gets the BLAS threading the gunicorn workers get (gunicorn_conf.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("INFERENCE_BLAS_THREADS", "1"))

from testkit.gunicorn import gunicorn_server, inference_env  # noqa: E402
from testkit.jwks import JwksServer  # noqa: E402
from testkit.load import QUESTIONS, send_raw, triage_request  # noqa: E402

LEVELS = (1, 4, 8, 32)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(latencies: list[float], elapsed: float) -> dict:
    return {
        "n": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "rps": len(latencies) / elapsed,
    }


def run_load(call, concurrency: int, seconds: float, warmup: float = 1.0) -> dict:
    """Each of `concurrency` threads calls `call(i)` in a loop; latencies after warm-up."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    errors: list[str] = []

    def worker(tid: int) -> None:
        state: dict = {}
        i = tid
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            try:
                call(i, state)
            except Exception as exc:  # report, do not crash the run
                errors.append(type(exc).__name__)
                return
            t1 = time.perf_counter()
            if t0 >= start_at:
                with lock:
                    latencies.append(t1 - t0)
            i += concurrency

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client errors, e.g. {errors[0]}")
    return summarize(latencies, seconds)


class CpuMeter:
    """CPU seconds used by the whole machine and by our processes over a measurement, so a
    run on a machine busy with other work (training) can be recognised as such."""

    def __init__(self, pids: list[int]):
        import psutil

        self.procs = [psutil.Process(os.getpid())]
        for pid in pids:
            parent = psutil.Process(pid)
            self.procs += [parent, *parent.children(recursive=True)]
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        import psutil

        total = psutil.cpu_times()
        busy = sum(total) - total.idle - getattr(total, "iowait", 0.0)
        ours = 0.0
        for proc in self.procs:
            try:
                t = proc.cpu_times()
                ours += t.user + t.system
            except psutil.Error:
                pass
        return time.monotonic(), busy, ours

    def usage(self) -> tuple[float, float]:
        """(cores used by our processes, cores used by everything else) since creation."""
        t1, busy1, ours1 = self._sample()
        t0, busy0, ours0 = self.start
        wall = t1 - t0
        others = max(0.0, (busy1 - busy0) - (ours1 - ours0))
        return (ours1 - ours0) / wall, others / wall


def representative(rows: list[dict]) -> dict:
    """Of one mode's rounds at one level: among those other processes disturbed least (within
    0.1 cores of the quietest), the one with the median throughput."""
    quietest = min(r["cores_others"] for r in rows)
    calm = sorted((r for r in rows if r["cores_others"] <= quietest + 0.1), key=lambda r: r["rps"])
    return calm[len(calm) // 2]


def measure_levels(modes: list[tuple[str, object, list[int]]], seconds: float, rounds: int):
    """Each (label, call, pids) mode at each level, `rounds` times, all interleaved so the modes
    see the same machine, and in a rotated order each round (the mode measured first after a
    change of level, or after the in-process run's threads, is not always the same one)."""
    seen: dict[str, dict[int, list[dict]]] = {label: {c: [] for c in LEVELS} for label, *_ in modes}
    for r in range(rounds):
        for c in LEVELS:
            for label, call, pids in modes[r % len(modes) :] + modes[: r % len(modes)]:
                meter = CpuMeter(pids)
                row = run_load(call, c, seconds)
                row["cores_ours"], row["cores_others"] = meter.usage()
                seen[label][c].append(row)
    best = {
        label: {c: representative(rows) for c, rows in by.items()} for label, by in seen.items()
    }
    for label, _, _ in modes:
        for c in LEVELS:
            row = best[label][c]
            row["cpu_ms_per_req"] = row["cores_ours"] * 1000 / row["rps"]
            print(
                f"{label:34} c={c}: {fmt(row)}  [cores: ours {row['cores_ours']:.2f}, "
                f"others {row['cores_others']:.2f}; {row['cpu_ms_per_req']:.1f} CPU ms/req]"
            )
    return best


def http_caller(port: int, token: str):
    """A raw-socket client: prepared requests, a new connection each (the services run
    without keep-alive), so the client takes little of the CPU the servers share."""
    requests = [triage_request(token, q) for q in QUESTIONS]

    def call(i: int, state: dict) -> None:
        status, data = send_raw(port, requests[i % len(requests)])
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")

    return call


def timed(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=REPO, capture_output=True)  # noqa: S603
    return time.perf_counter() - t0


def fmt(row: dict) -> str:
    return (
        f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
        f"{row['rps']:7.1f} req/s  (n={row['n']})"
    )


def main() -> int:
    global LEVELS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per level")
    parser.add_argument("--workers", type=int, default=None, help="override gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per worker, batched server"
    )
    parser.add_argument(
        "--threads-off", type=int, default=2, help="threads per worker, unbatched server"
    )
    parser.add_argument(
        "--compare-threads",
        default="",
        help="more batched servers with these threads per worker, comma-separated (e.g. 4,16)",
    )
    parser.add_argument("--batch-max", type=int, default=None, help="INFERENCE_BATCH_MAX")
    parser.add_argument("--batch-wait-ms", type=float, default=None, help="INFERENCE_BATCH_WAIT_MS")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrencies")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also compare workers x threads configurations over HTTP (batching as configured)",
    )
    parser.add_argument(
        "--configs",
        default="1x4:5:1000,2x1:5:1000,2x4:5:1000,2x2:0:2,2x4:0:4,4x1:0:1",
        help="for --sweep: WORKERSxTHREADS:KEEPALIVE:CONNECTIONS, comma-separated",
    )
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure each level this often; report the median of the rounds least disturbed by other load",
    )
    args = parser.parse_args()
    LEVELS = tuple(int(c) for c in args.levels.split(","))

    from inference_service.config import Config
    from inference_service.model import StoreSource, configure_tensorflow

    cfg = Config()
    batch_max = args.batch_max or cfg.INFERENCE_BATCH_MAX
    batch_wait = cfg.INFERENCE_BATCH_WAIT_MS if args.batch_wait_ms is None else args.batch_wait_ms
    env_base = {"TF_CPP_MIN_LOG_LEVEL": "3", **os.environ}
    print(
        f"store {cfg.ARTIFACT_STORE}, model {cfg.MODEL_VERSION}, cpus {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    probe = StoreSource(cfg.ARTIFACT_STORE, tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        version = probe.resolve(cfg.MODEL_VERSION)
    except Exception as exc:
        print(f"no model to serve ({exc}); run `make train` first", file=sys.stderr)
        return 2

    # 1. Bare TensorFlow import (median of 3) and the artifact download.
    bare = statistics.median(
        timed([sys.executable, "-c", "import tensorflow"], env_base) for _ in range(3)
    )
    t0 = time.perf_counter()
    model_dir = probe.fetch(version)
    download = time.perf_counter() - t0
    print(
        f"version {version}: bare `import tensorflow` {bare:.2f}s, "
        f"artifact download+verify {download:.2f}s"
    )

    results: dict = {"version": version, "bare_tf_s": bare, "download_s": download}
    with JwksServer() as jwks, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        token = jwks.key.token(sub="bench", ttl=3600)

        def serve_env(workers, threads, keepalive=None, connections=None, batch=None) -> dict:
            env = inference_env(
                tmp, jwks.url,
                # An empty cache each: cold start includes the download.
                MODEL_CACHE_DIR=tempfile.mkdtemp(prefix="bench-cold-", dir=tmp),
                GUNICORN_LOG_LEVEL="warning", LOG_LEVEL="WARNING",
            )  # fmt: skip
            if workers:
                env["INFERENCE_WORKERS"] = str(workers)
            if threads:
                env["INFERENCE_THREADS"] = str(threads)
            if keepalive is not None:
                env["INFERENCE_KEEPALIVE"] = str(keepalive)
            if connections is not None:
                env["INFERENCE_WORKER_CONNECTIONS"] = str(connections)
            if batch is not None:
                env["INFERENCE_BATCH_MAX"] = str(batch[0])
                env["INFERENCE_BATCH_WAIT_MS"] = str(batch[1])
            return env

        def start_server(stack, label: str, env: dict):
            meter = CpuMeter([])
            server = stack.enter_context(gunicorn_server(env, Path(tmp) / f"gunicorn-{label}.log"))
            cold = server.wait_ready()
            # The server's processes started after the meter: add their whole CPU time.
            meter.procs += CpuMeter([server.proc.pid]).procs[1:]
            print(
                f"HTTP {label}: cold start {cold:.2f}s "
                f"[other processes used {meter.usage()[1]:.2f} cores meanwhile]"
            )
            port = int(server.url.rsplit(":", 1)[1])
            return (f"HTTP {label}", http_caller(port, token), [server.proc.pid]), cold

        # 2. Batching on and off, side by side (one server at a time cold-starts), measured
        # interleaved, with the same pipeline called in-process (same TensorFlow threads as a
        # worker, batching off), loaded once the servers are up.
        workers = args.workers or int(os.environ.get("INFERENCE_WORKERS", "2"))
        threads = args.threads or int(os.environ.get("INFERENCE_THREADS", "0")) or None
        servers = [
            (f"batched {workers}x{threads or 'default'} max={batch_max} wait={batch_wait}ms",
             serve_env(workers, threads, batch=(batch_max, batch_wait))),
            (f"unbatched {workers}x{args.threads_off}",
             serve_env(workers, args.threads_off, batch=(1, 0))),
        ]  # fmt: skip
        for extra in filter(None, args.compare_threads.split(",")):
            servers.append(
                (f"batched {workers}x{extra} max={batch_max} wait={batch_wait}ms",
                 serve_env(workers, int(extra), batch=(batch_max, batch_wait)))
            )  # fmt: skip
        with contextlib.ExitStack() as stack:
            modes = []
            colds = {}
            for label, env in servers:
                mode, colds[label] = start_server(stack, label, env)
                modes.append(mode)
            if not args.skip_inprocess:
                configure_tensorflow(cfg.TF_INTRA_OP_THREADS, cfg.TF_INTER_OP_THREADS)
                pipeline = probe.load(model_dir)

                def call(i: int, state: dict, pipeline=pipeline) -> None:
                    pipeline.triage(QUESTIONS[i % len(QUESTIONS)], top_k=3)

                modes.insert(0, ("in-process", call, []))
            best = measure_levels(modes, args.seconds, args.rounds)
        results["inprocess"] = best.pop("in-process", None)
        results["http"] = {
            label: {"cold_s": colds[label], "levels": best[f"HTTP {label}"]} for label, _ in servers
        }

        # 3. Other sizes, one server at a time (--sweep).
        if args.sweep:
            for item in args.configs.split(","):
                size, keepalive, connections = item.split(":")
                w, t = size.split("x")
                label = f"{w}x{t} ka={keepalive} conns={connections}"
                with contextlib.ExitStack() as stack:
                    mode, cold = start_server(
                        stack, label, serve_env(int(w), int(t), int(keepalive), int(connections))
                    )
                    best = measure_levels([mode], args.seconds, args.rounds)
                results["http"][label] = {"cold_s": cold, "levels": best[f"HTTP {label}"]}

    # 4. Ratios, within this run, against the goals.
    on_label, off_label = servers[0][0], servers[1][0]
    on, off = results["http"][on_label], results["http"][off_label]
    lo, hi = min(LEVELS), max(LEVELS)
    print(f"\nbatched ({on_label}) / unbatched ({off_label}), same run:")
    for c in LEVELS:
        a, b = on["levels"][c], off["levels"][c]
        print(
            f"  c={c:<3} req/s {a['rps'] / b['rps']:5.2f}x   p50 {a['p50_ms'] / b['p50_ms']:5.2f}x"
            f"   p99 {a['p99_ms'] / b['p99_ms']:5.2f}x"
            f"   CPU per request {a['cpu_ms_per_req'] / b['cpu_ms_per_req']:5.2f}x"
        )
    print(
        "  (CPU per request: server processes and this client, per answered request; on a\n"
        "  machine busy with other work it is the fairer comparison: a server with more\n"
        "  runnable threads also gets a larger share of the CPU.)"
    )
    goals = []
    if results["inprocess"]:
        r = on["levels"][lo]["p50_ms"] / results["inprocess"][lo]["p50_ms"]
        goals.append((f"HTTP batched p50 c={lo} / in-process p50", r, "<=", 1.3))
    if hi != lo:
        r = on["levels"][hi]["rps"] / on["levels"][lo]["rps"]
        goals.append((f"batched throughput c={hi} / c={lo}", r, ">=", 3.0))
        r = on["levels"][hi]["rps"] / off["levels"][hi]["rps"]
        goals.append((f"batched / unbatched throughput at c={hi}", r, ">=", 1.8))
    r = on["levels"][lo]["p50_ms"] / off["levels"][lo]["p50_ms"]
    goals.append((f"batched / unbatched p50 at c={lo}", r, "<=", 1.1))
    if 4 in LEVELS and lo == 1:
        r = on["levels"][4]["rps"] / on["levels"][1]["rps"]
        goals.append(("batched throughput c=4 / c=1", r, ">=", 1.6))
    if 8 in LEVELS:
        r = on["levels"][8]["p99_ms"] / on["levels"][8]["p50_ms"]
        goals.append(("batched p99 / p50 at c=8", r, "<=", 3.0))
    r = on["cold_s"] / (bare + download)
    goals.append(("cold start / (bare TF import + download)", r, "<=", 3.0))
    print("\ngoals:")
    ok_all = True
    for name, value, op, limit in goals:
        ok = value <= limit if op == "<=" else value >= limit
        ok_all &= ok
        print(f"  {name:45} {value:5.2f}  (goal {op} {limit})  {'MET' if ok else 'NOT MET'}")
    print(json.dumps(results, default=str, indent=None)[:6000])
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
