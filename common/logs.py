"""JSON logs on stdout, one object per line, carrying the request id."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import Flask, g, has_request_context, request


class JsonFormatter(logging.Formatter):
    """Format records as JSON; never include request bodies (questions are health data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
        for key in ("method", "path", "status", "duration_ms", "service"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(app: Flask, service: str) -> None:
    """Send JSON logs to stdout and log one access line per request (path only, no body)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    access = logging.getLogger(f"{service}.access")

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _access_log(resp):
        duration = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": resp.status_code,
                "duration_ms": round(duration, 2),
                "service": service,
            },
        )
        return resp
