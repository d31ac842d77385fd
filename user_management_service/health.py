"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from common.errors import error_response
from user_management_service import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers.
    ---
    get:
      summary: Liveness
      responses:
        200: {description: The process is running}
    """
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers and the schema is migrated.
    ---
    get:
      summary: Readiness (database reachable)
      responses:
        200: {description: Ready}
        503:
          description: Database unreachable (code not_ready)
          content:
            application/json:
              schema: Error
    """
    if db.ping():
        try:
            db.ensure_migrated()
        except Exception:  # noqa: BLE001 - any failure here means "not ready"
            current_app.logger.warning("migration failed", exc_info=True)
        else:
            return jsonify({"status": "ready", "database": "ok"})
    return error_response(
        503, "The accounts database is not reachable.", "not_ready", {"Retry-After": "5"}
    )
