"""gunicorn settings for the inference service.

    gunicorn -c inference_service/gunicorn_conf.py inference_service.wsgi:app

Sizing: 2 workers x 16 threads with micro-batching (INFERENCE_BATCH_MAX=32: concurrent
questions in a worker share one model call, medtriage/batching.py), keep-alive off; TensorFlow
uses 1 intra-op and 1 inter-op thread per worker (TF_INTRA_OP_THREADS / TF_INTER_OP_THREADS).
With batching, threads waiting for their batch are cheap and a worker's threads bound its
batch. Since the encoder skips padding (medtriage/layers.py), bigger batches cost less per
question, and bench_service.py (quiet machine, three runs, servers side by side) gave at c=32
2x16 2.03x / 1.85x / 1.96x the unbatched server, 2x8 1.84x / 1.67x / 1.82x; c=4 2x16 0.95-0.98x
of 2x8. Before that, 16 threads won no more often than 8. Details in documentation/inference.md.
The table below is the sweep from before batching (2x2, one question per model call):
Measured with `benchmarks/bench_service.py --sweep` on the 2-core machine, in a window where
other processes used no CPU (numbers, and noisier runs, in documentation/inference.md):

    size  keep-alive conns/worker   c=1 p50  c=1 req/s  c=4 req/s  c=8 p50/p99     cold start
    2x2   off        2              12.9 ms   75         155 (2.1x) 52/69 ms       11.1 s
    2x4   off        4              15.2 ms   66         137 (2.1x) 55/92 ms        7.4 s
    4x1   off        1              13.1 ms   73         151 (2.1x) 52/73 ms       14.7 s
    1x4   off        4              13.2 ms   74         131        (others busy)   8.0 s
    2x4   5 s        1000           13.5 ms   65         102        100/241 ms      9.4 s
    in-process pipeline             11.0 ms   89         109        63/94 ms

- One triage is ~11 ms of CPU in the pipeline (MiniLM encoder, head, retrieval) with one TF
  thread, ~1 ms in Flask, auth and history, ~1.5-2 ms in gunicorn, loopback and the client.
  One request keeps one core busy, so
  two workers (one per core) are what uses both cores. 4x1 is as fast but holds four model
  copies (~0.93 GB RSS each) and starts slower: scale out with more tasks instead.
- Inside one process concurrent model calls overlap only partly (the GIL around the Python
  parts of the pipeline: 1x4 used 1.68 cores at c=4, 2x2 1.95). Two threads per worker overlap
  one request's Python work with the other's model call.
- Keep-alive connections stick to the worker that accepted them: with 8 clients one worker
  may hold 5 and the other 3, and p99 at concurrency 8 went to 2.4-7x p50. Without keep-alive,
  and with a worker that stops accepting while all its threads are busy, the idle one takes
  the next request. A new connection per request costs well under a millisecond on loopback
  or from the load balancer.
- Slow and idle clients: the worker class (common/gthread_worker.py) reads each request in
  its event loop and hands it to a thread only when it is complete, closing connections
  that send no whole request within GUNICORN_REQUEST_READ_TIMEOUT (10 s); it stops accepting
  on busy threads, not on a connection count. Stock gthread parsed headers in the pool
  thread: 8 clients sending a header line a second stopped both services for 30 s.
- A replacement worker (crash, SIGKILL) loads its model before it accepts connections, so
  the serving workers take the traffic meanwhile (post_worker_init below).
"""

from __future__ import annotations

import os

from common import multiproc

bind = f"{os.environ.get('INFERENCE_HOST', '127.0.0.1')}:{os.environ.get('INFERENCE_PORT', '8000')}"

# One BLAS thread per worker: OpenBLAS's idle threads spin, so two per worker on 2 cores ate
# the CPU the other worker needed (full model, c=4: 56 -> 91 requests/s; c=1 p50 22 -> 21 ms).
# Set here, in the master, so workers inherit it before they import numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("INFERENCE_BLAS_THREADS", "1"))

# TensorFlow must be initialised after fork: every worker imports the app (and loads its own
# model in a background thread) itself. Never preload with TensorFlow.
preload_app = False

# INFERENCE_WORKER_CLASS=gthread gives stock gunicorn back (the benchmarks compare the two).
worker_class = os.environ.get(
    "INFERENCE_WORKER_CLASS", "common.gthread_worker.BufferedThreadWorker"
)
workers = int(os.environ.get("INFERENCE_WORKERS", "2"))
# 16 threads: with micro-batching (INFERENCE_BATCH_MAX, medtriage/batching.py) a thread waiting
# for its batch costs nothing, and more threads make bigger batches; see the sizing note.
threads = int(os.environ.get("INFERENCE_THREADS", "16"))

# The model loads in a background thread; a worker waiting for it in post_worker_init keeps
# its heartbeat going, so the default timeout is enough even for a slow download.
timeout = int(os.environ.get("INFERENCE_TIMEOUT", "30"))
# Matches the load balancer's deregistration delay and ECS stopTimeout (terraform).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# No keep-alive, and a worker accepts only while a thread is free: requests then spread over
# the workers one by one (see the sizing note above). worker_connections only caps the open
# (mostly idle or slow) connections a worker keeps in its event loop.
keepalive = int(os.environ.get("INFERENCE_KEEPALIVE", "0"))
worker_connections = int(os.environ.get("INFERENCE_WORKER_CONNECTIONS", "1000"))
# How long a replacement worker waits for its model before it accepts connections anyway
# (then requests wait up to MODEL_HOLD_SECONDS each for the load, or get a 503).
load_wait_seconds = float(os.environ.get("INFERENCE_LOAD_WAIT_SECONDS", "600"))
# Restarting workers would reload the model: no max_requests.
max_requests = 0
# Heartbeat files in memory, not on a container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108 - gunicorn heartbeat files in shared memory

# The app logs one JSON line per request with its request id; gunicorn's own access log
# would duplicate it (and could include query strings).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "medtriage-inference"


def on_starting(server):
    """Give the workers a shared place to say they are serving (see readiness.py), and one
    for their Prometheus values, so /metrics covers every worker (common/metrics.py)."""
    import tempfile

    directory = tempfile.mkdtemp(prefix="medtriage-inference-ready-")
    os.environ["INFERENCE_READINESS_DIR"] = directory
    os.environ["INFERENCE_EXPECTED_WORKERS"] = str(server.cfg.workers)
    multiproc.prepare_metrics_dir("inference")


def child_exit(server, worker):
    multiproc.mark_worker_dead(worker.pid)


def on_exit(server):
    import shutil

    directory = os.environ.get("INFERENCE_READINESS_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
    multiproc.remove_metrics_dir()


def post_worker_init(worker):
    """Start the model loader in this worker; a replacement waits for it before accepting.

    While a sibling serves, a worker that accepted before its model loaded would answer
    503s, fastest of all, and so take most new connections. It waits here instead, with its
    heartbeat going, and the listening socket is served by the others. At a cold start no
    worker serves yet: accept at once, so /healthz answers and triage requests wait for the
    load (MODEL_HOLD_SECONDS). A store that stays down only delays the replacement, up to
    load_wait_seconds, after which it accepts and answers 503 like a cold start.
    """
    import time

    extensions = getattr(worker.wsgi, "extensions", None)
    if not extensions or "model" not in extensions:
        return
    manager = extensions["model"]
    if not worker.wsgi.config.get("MODEL_AUTOLOAD", True):
        return
    manager.start()
    board = extensions.get("worker_board")
    if board is None or board.ready_workers() == 0:
        return
    worker.log.info("Worker %s: loading the model before accepting connections", worker.pid)
    deadline = time.monotonic() + load_wait_seconds
    while worker.alive and manager.current is None and time.monotonic() < deadline:
        worker.notify()
        manager.wait_for_model(1.0)  # returns early once loaded; at once while backing off
        if manager.current is None:
            time.sleep(0.2)
    if manager.current is None:
        worker.log.warning("Worker %s: no model yet, accepting anyway", worker.pid)
    else:
        worker.log.info("Worker %s: model loaded, accepting connections", worker.pid)
