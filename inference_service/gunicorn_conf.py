"""gunicorn settings for the inference service.

    gunicorn -c inference_service/gunicorn_conf.py inference_service.wsgi:app

Sizing (measured on the 2-core box, see documentation/inference.md and
benchmarks/bench_service.py): SIZING_NOTE_PLACEHOLDER
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
keepalive = int(os.environ.get("INFERENCE_KEEPALIVE", "5"))
# Connections a worker holds at once (in flight + idle keep-alive); see the sizing note.
worker_connections = int(os.environ.get("INFERENCE_WORKER_CONNECTIONS", "1000"))
# Restarting workers would reload the model: no max_requests.
max_requests = 0
# Heartbeat files in memory, not on a container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

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
