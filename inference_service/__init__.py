"""MedTriage inference service: triage medical questions and answer them from MedQuAD.

`create_app()` builds the Flask app; gunicorn runs `inference_service.wsgi:app` (one app per
worker, created after fork, so TensorFlow is only ever initialised inside a worker).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from prometheus_client import Counter, Gauge, Histogram

from common import STATIC_DIR, TEMPLATES_DIR
from common.errors import register_error_handlers
from common.logs import configure_logging
from common.metrics import Metrics
from common.openapi import init_openapi
from common.web import init_proxy, init_web

from . import schemas  # noqa: F401 - registers the schemas views name in their docstrings
from .config import Config, secret_key
from .history import HistoryStore
from .model import ModelManager, StoreSource, help_numbers
from .readiness import WorkerBoard

log = logging.getLogger(__name__)

SERVICE = "inference"
API_VERSION = "1.0.0"

csrf = CSRFProtect()


class ServiceMetrics:
    """Prometheus series of our own, in the app's registry next to the HTTP ones."""

    def __init__(self, registry, multiprocess: bool = False):
        self.multiprocess = multiprocess
        self._versions: set[str] = set()
        self.predictions = Counter(
            "medtriage_predictions_total",
            "Triage predictions by category and model version.",
            ["category", "model_version", "urgent", "abstained"],
            registry=registry,
        )
        self.model_latency = Histogram(
            "medtriage_model_latency_seconds",
            "Time spent in the triage pipeline per question.",
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
        )
        self.batch_size = Histogram(
            "medtriage_model_batch_size",
            "Questions per model call (micro-batching; 1 when a caller ran alone).",
            registry=registry,
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        self.model_info = Gauge(
            "medtriage_model_info",
            "1 for the model version being served.",
            ["version"],
            registry=registry,
            multiprocess_mode="livemax",  # 1 while any live worker serves that version
        )
        self.model_ready = Gauge(
            "medtriage_model_ready",
            "1 once a model serves (in every live worker).",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.reloads = Counter(
            "medtriage_model_reloads_total",
            "Model versions swapped in (loaded) or refused.",
            ["outcome"],
            registry=registry,
        )
        self.ratings = Counter(
            "medtriage_answer_ratings_total",
            "Ratings of answers (recorded or changed) by model version and helpfulness.",
            ["model_version", "helpful"],
            registry=registry,
        )
        self.history_failures = Counter(
            "medtriage_history_write_failures_total",
            "Answers whose history entry could not be stored.",
            registry=registry,
        )

    def swapped(self, pipeline) -> None:
        # A worker's multiprocess file keeps every series it has set: zero the old versions
        # (in a single process they are dropped as well).
        for version in self._versions - {pipeline.version}:
            self.model_info.labels(version).set(0)
        if not self.multiprocess:
            self.model_info.clear()
        self._versions.add(pipeline.version)
        if getattr(pipeline, "batcher", None) is not None:
            pipeline.batcher.observe = self.batch_size.observe
        self.model_info.labels(pipeline.version).set(1)
        self.model_ready.set(1)
        self.reloads.labels("loaded").inc()

    def refused(self, version: str, exc: Exception) -> None:
        self.reloads.labels("refused").inc()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. test_config overrides settings; MODEL_SOURCE injects a pipeline source."""
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
    )
    app.config.from_mapping(Config().as_dict())
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key()

    init_proxy(app)
    init_web(app)
    configure_logging(app, SERVICE)
    register_error_handlers(app)
    Metrics(app, SERVICE)
    http_metrics = app.extensions["metrics"]
    metrics = ServiceMetrics(http_metrics.registry, bool(http_metrics.multiprocess_dir))
    app.extensions["medtriage_metrics"] = metrics
    csrf.init_app(app)

    source = app.config.get("MODEL_SOURCE") or StoreSource(
        app.config["ARTIFACT_STORE"],
        app.config["MODEL_CACHE_DIR"],
        (app.config["TF_INTRA_OP_THREADS"], app.config["TF_INTER_OP_THREADS"]),
        help_numbers(app.config),
        batching=(app.config["INFERENCE_BATCH_MAX"], app.config["INFERENCE_BATCH_WAIT_MS"]),
    )
    manager = ModelManager(
        source,
        spec=app.config["MODEL_VERSION"],
        poll_seconds=app.config["MODEL_POLL_SECONDS"],
        retry_initial=app.config["MODEL_RETRY_INITIAL_SECONDS"],
        retry_max=app.config["MODEL_RETRY_MAX_SECONDS"],
        on_swap=metrics.swapped,
        on_refuse=metrics.refused,
    )
    app.extensions["model"] = manager
    board = WorkerBoard.from_env() if app.config.get("WORKER_READINESS", True) else None
    app.extensions["worker_board"] = board
    if board is not None:
        _on_swap = manager.on_swap

        def swapped(pipeline) -> None:
            _on_swap(pipeline)
            board.mark_ready(pipeline.version)

        manager.on_swap = swapped

    history = HistoryStore(
        app.config["INFERENCE_DATABASE_URL"], app.config["HISTORY_RETENTION_DAYS"]
    )
    app.extensions["history"] = history
    history.ensure_tables()  # if the DB is down now, retried on first use

    from . import api, feedback, health, pages

    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(feedback.api_bp)
    app.register_blueprint(feedback.pages_bp)
    csrf.exempt(api.bp)  # bearer tokens only, never cookies: not exposed to CSRF
    csrf.exempt(feedback.api_bp)
    csrf.exempt(health.bp)

    init_openapi(app, "MedTriage inference API", API_VERSION)

    if app.config["MODEL_AUTOLOAD"]:
        manager.start()
        history.start_purger(app.config["HISTORY_PURGE_SECONDS"])
    return app
