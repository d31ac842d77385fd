"""Ratings of answers: was this answer helpful? Over JSON and on the pages (without JavaScript).

A rating belongs to one answer of one of the caller's own history entries, so only questions
that were saved can be rated. Someone else's entry, one past retention and an unknown entry all
answer 404 alike (ids do not leak), and so does an answer id that is not one of that entry's
answers. One rating per answer per entry: posting again changes it, DELETE withdraws it.
Every rating and withdrawal counts against FEEDBACK_RATE_LIMIT per
FEEDBACK_RATE_WINDOW_SECONDS for the person (shared by all workers through the database).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, url_for

from common.errors import APIError
from common.web import json_body

from .auth import User, page_user, require_user
from .forms import FeedbackForm, WithdrawFeedbackForm
from .schemas import FEEDBACK_REASONS, FeedbackRequest

api_bp = Blueprint("feedback_api", __name__, url_prefix="/api/v1")
pages_bp = Blueprint("feedback_pages", __name__)

_schema = FeedbackRequest()
_MAX_ID = 2**31 - 1  # history ids are 32-bit integers in PostgreSQL


@pages_bp.app_context_processor
def _reasons() -> dict:
    return {"feedback_reasons": FEEDBACK_REASONS}


def _entry_id(history_id: int) -> int:
    if history_id > _MAX_ID:
        raise APIError(404, "No such entry in your history.")
    return history_id


def _count(user: User) -> None:
    cfg = current_app.config
    current_app.extensions["history"].take_rate(
        f"feedback:{user.id}", cfg["FEEDBACK_RATE_LIMIT"], cfg["FEEDBACK_RATE_WINDOW_SECONDS"]
    )


def _rate(user: User, history_id: int, answer_id: str, helpful: bool, reason) -> tuple[dict, bool]:
    _count(user)
    store = current_app.extensions["history"]
    rating, created = store.rate(user.id, _entry_id(history_id), answer_id, helpful, reason)
    metrics = current_app.extensions["medtriage_metrics"]
    metrics.ratings.labels(rating["model_version"], str(helpful).lower()).inc()
    return rating, created


def _withdraw(user: User, history_id: int, answer_id: str) -> bool:
    _count(user)
    return current_app.extensions["history"].withdraw(user.id, _entry_id(history_id), answer_id)


@api_bp.post("/answers/<int:history_id>/<answer_id>/feedback")
def rate(history_id: int, answer_id: str):
    """Rate one answer of one of your past questions: helpful or not (again to change it).
    ---
    post:
      summary: Rate one answer of one of your past questions (post again to change it).
      description: >-
        history_id is the `history_id` of the triage response (or an id from
        GET /api/v1/history); answer_id one of that entry's answer ids. 404 for an entry that
        is not yours (or past retention) and for an answer id that is not one of its answers.
      security: [{bearer: []}]
      parameters:
        - {in: path, name: history_id, required: true, schema: {type: integer, minimum: 0}}
        - {in: path, name: answer_id, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: FeedbackRequest
      responses:
        200:
          description: the rating, changed
          content: {application/json: {schema: AnswerRating}}
        201:
          description: the rating, recorded
          content: {application/json: {schema: AnswerRating}}
        400: {description: bad JSON or fields, content: {application/json: {schema: Error}}}
        401: {description: no or bad token, content: {application/json: {schema: Error}}}
        404: {description: "no such entry in your history, or no such answer in it", content: {application/json: {schema: Error}}}
        413: {description: body over 16 KiB, content: {application/json: {schema: Error}}}
        415: {description: not JSON, content: {application/json: {schema: Error}}}
        429:
          description: too many ratings; see Retry-After
          headers: {Retry-After: {schema: {type: integer}}}
          content: {application/json: {schema: Error}}
        503: {description: database unavailable, content: {application/json: {schema: Error}}}
    """
    user = require_user()
    body = json_body(_schema)
    rating, created = _rate(user, history_id, answer_id, body["helpful"], body["reason"])
    return jsonify(rating), 201 if created else 200


@api_bp.delete("/answers/<int:history_id>/<answer_id>/feedback")
def withdraw(history_id: int, answer_id: str):
    """Withdraw your rating of one answer of one of your past questions.
    ---
    delete:
      summary: Withdraw your rating of one answer of one of your past questions.
      security: [{bearer: []}]
      parameters:
        - {in: path, name: history_id, required: true, schema: {type: integer, minimum: 0}}
        - {in: path, name: answer_id, required: true, schema: {type: string}}
      responses:
        200:
          description: withdrawn (false if the answer was not rated)
          content: {application/json: {schema: AnswerRatingWithdrawn}}
        401: {description: no or bad token, content: {application/json: {schema: Error}}}
        404: {description: "no such entry in your history, or no such answer in it", content: {application/json: {schema: Error}}}
        429:
          description: too many ratings; see Retry-After
          headers: {Retry-After: {schema: {type: integer}}}
          content: {application/json: {schema: Error}}
        503: {description: database unavailable, content: {application/json: {schema: Error}}}
    """
    user = require_user()
    return jsonify({"withdrawn": _withdraw(user, history_id, answer_id)})


def _back(history_id: int):
    return redirect(url_for("pages.history", _anchor=f"entry-{history_id}"))


@pages_bp.post("/answers/<int:history_id>/<answer_id>/feedback")
def rate_form(history_id: int, answer_id: str):
    """Rate one answer (form post from the result and history pages)."""
    user = page_user()
    if user is None:
        flash("Log in to rate answers.", "error")
        return redirect(url_for("pages.history"))
    form = FeedbackForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            flash("The form expired; please try again.", "error")
        else:
            flash("Choose “Helpful” or “Not helpful” before sending the rating.", "error")
        return _back(history_id)
    helpful = form.helpful.data == "yes"
    _rate(user, history_id, answer_id, helpful, form.reason.data or None)
    flash(
        f"Thank you: answer {answer_id} rated {'helpful' if helpful else 'not helpful'}.",
        "success",
    )
    return _back(history_id)


@pages_bp.post("/answers/<int:history_id>/<answer_id>/feedback/withdraw")
def withdraw_form(history_id: int, answer_id: str):
    """Withdraw a rating (form post from the history page)."""
    user = page_user()
    if user is None:
        flash("Log in to rate answers.", "error")
        return redirect(url_for("pages.history"))
    if not WithdrawFeedbackForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return _back(history_id)
    if _withdraw(user, history_id, answer_id):
        flash(f"Your rating of answer {answer_id} is withdrawn.", "success")
    else:
        flash(f"Answer {answer_id} had no rating to withdraw.", "success")
    return _back(history_id)
