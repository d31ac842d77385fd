"""What the JSON API and the HTML pages share: run a triage, record it, describe the model."""

from __future__ import annotations

import logging
import time

from flask import current_app

from common.errors import APIError

from .auth import User
from .schemas import DISCLAIMER

log = logging.getLogger(__name__)


def serving_pipeline():
    """The pipeline serving now; while none is, wait for a load under way, then a 503."""
    manager = current_app.extensions["model"]
    pipeline = manager.current
    if pipeline is None:
        pipeline = manager.wait_for_model(current_app.config["MODEL_HOLD_SECONDS"])
    if pipeline is None:
        raise APIError(
            503, "The model is still loading; try again shortly.", "not_ready", {"Retry-After": "5"}
        )
    return pipeline


def run_triage(question: str, top_k: int, user: User | None) -> dict:
    """Triage with the current pipeline, count it, and store it in the user's history."""
    pipeline = serving_pipeline()  # taken once: a reload mid-request cannot mix versions
    started = time.perf_counter()
    try:
        result = pipeline.triage(question, top_k=top_k)
    except Exception as exc:
        # Never log the question or the exception text (it may quote the question).
        log.error("triage failed: %s", type(exc).__name__)
        raise APIError(500, "The model failed to answer this question.") from None
    latency_ms = (time.perf_counter() - started) * 1000
    result = dict(result)
    result["disclaimer"] = DISCLAIMER
    result["latency_ms"] = round(latency_ms, 2)
    metrics = current_app.extensions["medtriage_metrics"]
    category = (result.get("category") or {}).get("label") or "none"
    metrics.predictions.labels(
        category,
        str(result.get("model_version", "")),
        str(bool(result.get("urgent"))).lower(),
        str(bool(result.get("abstained"))).lower(),
    ).inc()
    metrics.model_latency.observe(latency_ms / 1000)
    history_id = None
    if user is not None:
        try:
            history_id = current_app.extensions["history"].add(
                user.id, question, result, latency_ms
            )
        except APIError:
            # The answer matters more than the history: answer, and say it was not saved.
            metrics.history_failures.inc()
    result["history_saved"] = history_id is not None
    result["history_id"] = history_id  # what answers are rated by (feedback), None if unsaved
    return result


def model_info() -> dict:
    pipeline = serving_pipeline()
    return {
        "version": pipeline.version,
        "labels": list(pipeline.labels),
        "metrics": dict(getattr(pipeline, "metrics", {}) or {}),
        "trained_at": getattr(pipeline, "trained_at", None),
    }
