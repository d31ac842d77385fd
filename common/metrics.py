"""Prometheus metrics: requests by endpoint and status, and a latency histogram.

Under gunicorn every worker counts on its own. gunicorn_conf.py points PROMETHEUS_MULTIPROC_DIR
at a directory before the workers start (common.multiproc); prometheus_client then keeps each
worker's values in files there, and /metrics adds up every worker's files, dead ones included,
so a scrape counts all requests whichever worker answers it. Without that variable (tests,
a single process) the app's own registry is served.
"""

from __future__ import annotations

import glob
import logging
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    """The directory worker values are written to, or None in single-process mode."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return None
    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus_client decides when first imported: it was imported before the variable
        # was set, so values live in memory and the directory would miss this process.
        log.warning("PROMETHEUS_MULTIPROC_DIR set after prometheus_client was imported: ignored")
        return None
    return path


class WorkerFilesCollector(MultiProcessCollector):
    """prometheus_client's multiprocess collector, skipping files not yet sized.

    A worker creates its files empty and sizes them a moment later; a scrape in between failed
    as a whole (struct.error, a 500: prometheus/client_python#1199), which happened when a
    killed worker's replacement started. An empty file holds no values, so skipping it is exact.
    """

    def collect(self):
        files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if _sized(f)]
        return self.merge(files, accumulate=True)


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # a dead worker's live gauges, removed since the glob
        return False


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self, app: Flask, service: str):
        self.registry = CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by endpoint and status.",
            ["service", "endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency.",
            ["service", "endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service
        app.extensions["metrics"] = self
        app.before_request(self._start)
        app.after_request(self._record)
        app.add_url_rule("/metrics", "metrics", self.view, methods=["GET"])

    def _start(self) -> None:
        g.metrics_started = time.perf_counter()

    def _record(self, resp):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        self.requests.labels(self.service, endpoint, request.method, str(resp.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            self.latency.labels(self.service, endpoint).observe(time.perf_counter() - started)
        return resp

    def view(self) -> Response:
        """Expose Prometheus metrics in text format (every worker's, under gunicorn)."""
        registry = self.registry
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            WorkerFilesCollector(registry, path=self.multiprocess_dir)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
