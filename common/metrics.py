"""Prometheus metrics: requests by endpoint and status, and a latency histogram."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self, app: Flask, service: str):
        self.registry = CollectorRegistry()
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
        """Expose Prometheus metrics in text format."""
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST)
