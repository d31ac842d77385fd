"""gunicorn settings for the user service.

gunicorn -c user_management_service/gunicorn_conf.py "user_management_service:create_app()"
"""

from __future__ import annotations

import os

from common import multiproc

bind = f"{os.environ.get('USERS_HOST', '0.0.0.0')}:{os.environ.get('USERS_PORT', '8001')}"  # noqa: S104 - containers  # nosec B104 - containers

# Two workers with two threads each: the expensive part of this service is argon2id
# (64 MiB, ~0.1-0.3 s of CPU per login), which releases the GIL, so four concurrent hashes
# keep two cores busy while capping hashing memory near 256 MiB. More workers would only
# queue on the CPU. Every worker runs the (locked, idempotent) migrations as it starts, and
# keys and the CSRF secret are shared through configuration or files under ./.data.
workers = int(os.environ.get("USERS_WORKERS", "2"))
# Reads each request in the worker's event loop before a thread takes it, so idle and slow
# clients cannot hold the threads (see common/gthread_worker.py); USERS_WORKER_CLASS=gthread
# gives stock gunicorn back.
worker_class = os.environ.get("USERS_WORKER_CLASS", "common.gthread_worker.BufferedThreadWorker")
threads = int(os.environ.get("USERS_THREADS", "2"))
preload_app = False
timeout = 30
# Matches the load balancer's deregistration delay and ECS stopTimeout (terraform).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108 - gunicorn heartbeat files in shared memory

# Access log: one JSON-ish line per request on stdout. Path only (%(U)s, no query string) and
# no headers, so tokens and passwords never reach the log; the request id links it to the
# app's own JSON log lines.
accesslog = "-"
access_log_format = (
    '{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"request_id": "%({x-request-id}o)s", "service": "users"}'
)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "medtriage-users"


# Prometheus multiprocess mode: /metrics adds up every worker's values (common/metrics.py).
def on_starting(server):
    multiproc.prepare_metrics_dir("users")


def child_exit(server, worker):
    multiproc.mark_worker_dead(worker.pid)


def on_exit(server):
    multiproc.remove_metrics_dir()
