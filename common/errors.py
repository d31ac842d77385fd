"""JSON error responses: every 4xx/5xx from a JSON endpoint is {"error": {"code", "message"}}."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Stable machine-readable codes for the HTTP statuses the contract names.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "not_ready",
}


class APIError(Exception):
    """Raise from a view to answer with a JSON error."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def error_response(
    status: int, message: str, code: str | None = None, headers: dict | None = None
) -> Response:
    """Build the contract's JSON error body with the given status."""
    resp = jsonify({"error": {"code": code or CODES.get(status, "error"), "message": message}})
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def wants_json() -> bool:
    """JSON for API paths and clients that prefer it; HTML for pages."""
    if request.path.startswith(("/api/", "/.well-known/")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _page_or_json(status: int, message: str, code: str | None = None, headers=None):
    if wants_json():
        return error_response(status, message, code, headers)
    body = render_template("error.html", status=status, message=message)
    return body, status, headers or {}


def register_error_handlers(app: Flask) -> None:
    """Turn every error into JSON (API) or a small HTML page, never a stack trace."""

    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        return _page_or_json(exc.status, exc.message, exc.code, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = f"Request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes."
        return _page_or_json(status, message, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return _page_or_json(500, "Internal server error.")
