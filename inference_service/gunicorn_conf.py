"""gunicorn settings for the inference service.

    gunicorn -c inference_service/gunicorn_conf.py inference_service.wsgi:app

Sizing: 2 workers x 4 threads, keep-alive off, at most 4 connections per worker; TensorFlow
uses 1 intra-op and 1 inter-op thread per worker (TF_INTRA_OP_THREADS / TF_INTER_OP_THREADS).
Measured with benchmarks/bench_service.py on the 2-core machine (numbers and the full sweep in
documentation/inference.md):

- One triage is ~11 ms of CPU in the model (MiniLM encoder + head + retrieval), about 0.5 ms
  in Flask/auth/history. With one TF thread per worker, one request keeps one core busy, so
  two workers (one per core) are what uses both cores; a third or fourth worker adds a model
  copy (~1 GB RSS each) and a TensorFlow start, and gave no more throughput.
- Threads inside a worker do not run the model in parallel (TF's single inter-op thread
  serialises them) but overlap the Python parts of one request with the model call of
  another; 1 thread per worker left the cores idle between requests (2x1 was the slowest).
- Keep-alive connections stick to the worker that accepted them: with 8 clients, one worker
  could hold 5 connections and the other 3, and p99 at concurrency 8 went to 3-7x p50.
  Without keep-alive and with at most `threads` connections per worker, a busy worker stops
  accepting and the other takes the request: on a quiet moment, 2x4 gave 60 req/s at
  concurrency 1, 130 at 4 (2.2x, 1.83 cores busy) and p99/p50 2.2 at 8. On loopback or behind
  the load balancer a new connection per request costs well under a millisecond.
- Scale out with more tasks (ECS), not more workers per task.
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('INFERENCE_HOST', '127.0.0.1')}:{os.environ.get('INFERENCE_PORT', '8000')}"

# TensorFlow must be initialised after fork: every worker imports the app (and loads its own
# model in a background thread) itself. Never preload with TensorFlow.
preload_app = False

worker_class = "gthread"
workers = int(os.environ.get("INFERENCE_WORKERS", "2"))
threads = int(os.environ.get("INFERENCE_THREADS", "4"))

# The model loads in a background thread, so the worker answers /healthz (and /readyz 503) at
# once and its heartbeat never stalls: the default timeout is enough even for a slow download.
timeout = int(os.environ.get("INFERENCE_TIMEOUT", "30"))
graceful_timeout = 20
# No keep-alive, and a worker takes no more connections than it has threads: requests then
# spread over the workers one by one (see the sizing note above).
keepalive = int(os.environ.get("INFERENCE_KEEPALIVE", "0"))
worker_connections = int(os.environ.get("INFERENCE_WORKER_CONNECTIONS", str(threads)))
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
    """Give the workers a shared place to say they are serving (see readiness.py)."""
    import tempfile

    directory = tempfile.mkdtemp(prefix="medtriage-inference-ready-")
    os.environ["INFERENCE_READINESS_DIR"] = directory
    os.environ["INFERENCE_EXPECTED_WORKERS"] = str(server.cfg.workers)


def on_exit(server):
    import shutil

    directory = os.environ.get("INFERENCE_READINESS_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


def post_worker_init(worker):
    """The app was created in this worker after fork; make sure its loader thread runs here."""
    app = getattr(worker.wsgi, "extensions", None)
    if app and "model" in app:
        app["model"].start()
