"""Request hygiene shared by both services: ids, size limit, security headers, JSON bodies."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlsplit

from flask import Flask, g, request
from marshmallow import Schema, ValidationError
from werkzeug.middleware.proxy_fix import ProxyFix

from common.errors import APIError

MAX_BODY_BYTES = 16 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_DEFAULT_CSP = SECURITY_HEADERS["Content-Security-Policy"]


def _origin(url: str) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


def sibling_form_origins(config) -> list[str]:
    """Origins of both services' public URLs: a form may post, or redirect, to either.

    Browsers apply CSP form-action to a form's redirects too: the login form posts to the
    user service, which redirects to the inference service's page (another port, so another
    origin). With only 'self' Chromium aborts that redirect and logging in fails.
    """
    found = {_origin(config.get(key, "")) for key in ("INFERENCE_PUBLIC_URL", "USERS_PUBLIC_URL")}
    return sorted(o for o in found if o)


def init_proxy(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Port only as set by TRUSTED_PROXY_COUNT proxies.

    With n proxies, the client address is the n-th X-Forwarded-For entry from the right (the
    one our nearest trusted proxy saw); entries further left are the client's own claims. With
    0 (the default) the headers are ignored and the address is the TCP peer's.
    X-Forwarded-Host is never trusted: an ALB passes the client's header through unchanged.
    """
    n = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if n > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=n)


def init_web(app: Flask) -> None:
    """Cap body size, tag each request with an id, and add security headers."""
    # Flask's defaults already hold MAX_CONTENT_LENGTH=None, so setdefault would keep "no limit"
    # (and a chunked body, which has no Content-Length, would be read whole).
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    memo: dict[str, str] = {}  # the CSP, built from the config on the first response

    @app.after_request
    def _headers(resp):
        if "csp" not in memo:
            extra = " ".join(sibling_form_origins(app.config))
            memo["csp"] = _DEFAULT_CSP.replace(
                "form-action 'self'", f"form-action 'self' {extra}".strip()
            )
        resp.headers.setdefault("Content-Security-Policy", memo["csp"])
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp


def json_body(schema: Schema) -> dict:
    """Parse and validate a JSON object body, or raise a 4xx APIError saying what is wrong."""
    if not request.is_json:
        raise APIError(415, "Content-Type must be application/json.")
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise APIError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    data = _read_json()
    if data is None:
        raise APIError(400, "Request body is not valid JSON.", "invalid_json")
    if not isinstance(data, dict):
        raise APIError(400, "Request body must be a JSON object.", "invalid_json")
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise APIError(400, _first_error(exc.messages), "invalid_field") from None


def _read_json():
    """The parsed JSON body, or None if it is not JSON; 413 if it is over the cap.

    A chunked body has no Content-Length, and werkzeug's max_content_length stream stops
    quietly at the cap (a truncated body would then look like bad JSON): read one byte more
    than the cap from the server-terminated input to tell "too large" apart.
    """
    limit = request.max_content_length or MAX_BODY_BYTES
    if request.content_length is None and "wsgi.input_terminated" in request.environ:
        raw = request.input_stream.read(limit + 1)
        if len(raw) > limit:
            raise APIError(413, f"Request body is larger than {limit} bytes.")
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return request.get_json(silent=True)


def _first_error(messages, prefix: str = "") -> str:
    """Flatten marshmallow's nested messages into one readable sentence."""
    if isinstance(messages, dict):
        parts = [
            _first_error(v, f"{prefix}{k}: " if k != "_schema" else prefix)
            for k, v in sorted(messages.items(), key=lambda kv: str(kv[0]))
        ]
        return " ".join(parts)
    if isinstance(messages, list):
        return prefix + " ".join(str(m) for m in messages)
    return prefix + str(messages)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query argument in [low, high]; 400 with the argument's name otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise APIError(400, f"{name} must be an integer.", "invalid_field") from None
    if not low <= value <= high:
        raise APIError(400, f"{name} must be between {low} and {high}.", "invalid_field")
    return value
