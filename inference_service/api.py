"""JSON API: triage, model info and the caller's own history (CONTRACTS section 4)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from common.web import int_arg, json_body

from .auth import require_user
from .schemas import TriageRequest
from .service import model_info, run_triage

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_triage_schema = TriageRequest()


@bp.post("/triage")
def triage():
    """Triage a medical question and answer it from the matching MedQuAD category.
    ---
    post:
      summary: Triage a medical question and answer it from the matching MedQuAD category.
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          application/json:
            schema: TriageRequest
      responses:
        200:
          description: category, alternatives, urgency, answers and a disclaimer
          content:
            application/json:
              schema: TriageResponse
        400: {description: bad JSON or fields, content: {application/json: {schema: Error}}}
        401: {description: no or bad token, content: {application/json: {schema: Error}}}
        413: {description: body over 16 KiB, content: {application/json: {schema: Error}}}
        415: {description: not JSON, content: {application/json: {schema: Error}}}
        503: {description: model not loaded yet, content: {application/json: {schema: Error}}}
    """
    user = require_user()
    body = json_body(_triage_schema)
    result = run_triage(body["question"].strip(), body["top_k"], user)
    return jsonify(result)


@bp.get("/model")
def model():
    """Describe the model being served: version, labels, metrics, training time.
    ---
    get:
      summary: Describe the model being served.
      responses:
        200:
          description: the serving model
          content: {application/json: {schema: InferenceModelInfo}}
        503: {description: no model loaded yet, content: {application/json: {schema: Error}}}
    """
    return jsonify(model_info())


@bp.get("/history")
def history_list():
    """List the caller's own past questions, newest first.
    ---
    get:
      summary: List the caller's own past questions, newest first.
      security: [{bearer: []}]
      parameters:
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 200, default: 50}}
        - {in: query, name: offset, schema: {type: integer, minimum: 0, default: 0}}
      responses:
        200:
          description: the caller's history within the retention period
          content: {application/json: {schema: InferenceHistoryList}}
        401: {description: no or bad token, content: {application/json: {schema: Error}}}
        503: {description: database unavailable, content: {application/json: {schema: Error}}}
    """
    user = require_user()
    limit = int_arg("limit", 50, 1, 200)
    offset = int_arg("offset", 0, 0, 10**9)
    store = current_app.extensions["history"]
    items, total = store.list(user.id, limit=limit, offset=offset)
    return jsonify(
        {
            "items": items,
            "total": total,
            "retention_days": current_app.config["HISTORY_RETENTION_DAYS"],
        }
    )


@bp.delete("/history")
def history_delete():
    """Delete all of the caller's past questions.
    ---
    delete:
      summary: Delete all of the caller's past questions.
      security: [{bearer: []}]
      responses:
        200:
          description: how many entries were deleted
          content: {application/json: {schema: InferenceHistoryDeleted}}
        401: {description: no or bad token, content: {application/json: {schema: Error}}}
        503: {description: database unavailable, content: {application/json: {schema: Error}}}
    """
    user = require_user()
    deleted = current_app.extensions["history"].delete_user(user.id)
    return jsonify({"deleted": deleted})
