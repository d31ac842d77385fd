"""HTML pages: the endpoint index, the question form and the visitor's history.

Anonymous visitors may ask on /inference (nothing is stored for them); logged-in visitors
(the user service's `medtriage_token` cookie) get their questions kept in their history.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from common.errors import APIError
from common.openapi import route_index

from .auth import page_user
from .forms import AskForm, DeleteHistoryForm
from .schemas import DISCLAIMER, TOP_K_DEFAULT
from .service import run_triage

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

_users_lock = threading.Lock()


def _with_links(routes: list[dict], base: str) -> list[dict]:
    out = []
    for r in routes:
        linkable = r["method"] == "GET" and "<" not in r["path"] and "{" not in r["path"]
        out.append({**r, "url": f"{base}{r['path']}" if linkable else None})
    return out


def users_routes() -> tuple[list[dict], str | None]:
    """The user service's endpoints from its /openapi.json (cached); error text if unreachable."""
    cfg = current_app.config
    cache = current_app.extensions.setdefault("users_openapi", {})
    now = time.monotonic()
    if cache and now - cache["at"] < cfg["USERS_OPENAPI_CACHE_SECONDS"]:
        return cache["routes"], cache["error"]
    with _users_lock:
        routes, error = [], None
        url = cfg["USERS_SERVICE_URL"].rstrip("/") + "/openapi.json"
        try:
            resp = requests.get(url, timeout=1.0)
            resp.raise_for_status()
            spec = resp.json()
            routes = spec.get("x-routes") or [
                {"method": method.upper(), "path": path, "summary": op.get("summary", "")}
                for path, ops in spec.get("paths", {}).items()
                for method, op in ops.items()
                if isinstance(op, dict)
            ]
            routes = sorted(routes, key=lambda r: (r["path"], r["method"]))
        except (requests.RequestException, ValueError, AttributeError) as exc:
            log.warning("user service openapi unavailable: %s", type(exc).__name__)
            error = "The user service is not reachable right now, so its endpoints are not listed."
        # Cache failures briefly too, so a down user service does not slow every home page.
        ttl_now = now if error is None else now - cfg["USERS_OPENAPI_CACHE_SECONDS"] + 10
        cache.update(at=ttl_now, routes=routes, error=error)
        return routes, error


@bp.get("/")
def home():
    """List every endpoint of both services, with links."""
    cfg = current_app.config
    ours = _with_links(route_index(current_app), cfg.get("INFERENCE_PUBLIC_URL", ""))
    theirs, users_error = users_routes()
    return render_template(
        "home.html",
        services=[
            {"name": "Inference service", "routes": ours, "error": None},
            {
                "name": "User service",
                "routes": _with_links(theirs, cfg["USERS_PUBLIC_URL"]),
                "error": users_error,
            },
        ],
        user=page_user(),
    )


@bp.route("/inference", methods=["GET", "POST"])
def inference():
    """Ask a question on a form and see its category, answers and sources."""
    user = page_user()
    form = AskForm()
    result, status, error = None, 200, None
    if form.validate_on_submit():
        try:
            result = run_triage(form.question.data, form.top_k.data or TOP_K_DEFAULT, user)
        except APIError as exc:
            status, error = exc.status, exc.message
    elif form.is_submitted():
        status = 400
    return (
        render_template(
            "inference.html",
            form=form,
            result=result,
            error=error,
            user=user,
            disclaimer=DISCLAIMER,
        ),
        status,
    )


@bp.get("/history")
def history():
    """Show the logged-in visitor's past questions, with a form to delete them."""
    user = page_user()
    items, total, error, status = [], 0, None, 200
    if user is not None:
        try:
            items, total = current_app.extensions["history"].list(user.id, limit=200)
        except APIError as exc:
            error, status = exc.message, exc.status
    return (
        render_template(
            "history.html",
            user=user,
            items=items,
            total=total,
            error=error,
            form=DeleteHistoryForm(),
            retention_days=current_app.config["HISTORY_RETENTION_DAYS"],
        ),
        status,
    )


@bp.post("/history/delete")
def history_delete():
    """Delete all of the logged-in visitor's past questions (form post)."""
    user = page_user()
    form = DeleteHistoryForm()
    if user is None:
        flash("Log in to manage your history.", "error")
        return redirect(url_for("pages.history"))
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("pages.history"))
    try:
        deleted = current_app.extensions["history"].delete_user(user.id)
    except APIError as exc:
        flash(exc.message, "error")
        return redirect(url_for("pages.history"))
    flash(f"Deleted {deleted} entries from your history.", "success")
    return redirect(url_for("pages.history"))
