"""Liveness and readiness for gunicorn, the load balancer and `make run`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Say the process is up (200 at once, even while the model loads).
    ---
    get:
      summary: Say the process is up.
      responses:
        200: {description: alive, content: {application/json: {schema: InferenceStatus}}}
    """
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Say whether a model is loaded and serving in every worker (503 until then).
    ---
    get:
      summary: Say whether a model is loaded and serving.
      responses:
        200: {description: serving, content: {application/json: {schema: InferenceStatus}}}
        503: {description: still loading, content: {application/json: {schema: InferenceStatus}}}
    """
    manager = current_app.extensions["model"]
    if current_app.config["MODEL_AUTOLOAD"]:
        manager.start()  # no-op unless this process has no loader thread yet (forked)
    pipeline = manager.current
    if pipeline is None:
        body = {"status": "loading", "model_version": None, "detail": manager.last_error}
        resp = jsonify(body)
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
        return resp
    board = current_app.extensions.get("worker_board")
    if board is not None and not board.task_ready():
        # This worker serves, a sibling is still loading: not ready as a whole yet.
        detail = f"{board.ready_workers()} of {board.expected} workers serving"
        resp = jsonify({"status": "loading", "model_version": pipeline.version, "detail": detail})
        resp.status_code = 503
        resp.headers["Retry-After"] = "2"
        return resp
    return jsonify({"status": "ready", "model_version": pipeline.version, "detail": None})
