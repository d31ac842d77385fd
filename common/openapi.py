"""OpenAPI 3 generated from the views' docstrings and marshmallow schemas (apispec)."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, jsonify
from marshmallow import Schema, fields

DOCUMENTED_PREFIXES = ("/api/", "/.well-known/", "/healthz", "/readyz")


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def build_spec(app: Flask, title: str, version: str) -> dict:
    """Collect every documented route: its YAML lives after '---' in the view docstring."""
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[FlaskPlugin(), MarshmallowPlugin()],
    )
    spec.components.schema("Error", schema=Error)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            view = app.view_functions[rule.endpoint]
            if rule.rule.startswith(DOCUMENTED_PREFIXES) and "---" in (view.__doc__ or ""):
                spec.path(view=view, app=app)
    doc = spec.to_dict()
    _document_contract_errors(doc)
    # Every route, documented or not (HTML pages too), so another service's home page can
    # list this one's endpoints from /openapi.json alone. `x-` keys are valid OpenAPI.
    doc["x-routes"] = route_index(app)
    return doc


# The contract's errors (CONTRACTS section 6) that any operation of a kind can answer, whether
# or not its docstring lists them (found by fuzzing /openapi.json with schemathesis).
_ERROR_DESCRIPTIONS = {
    "400": "Bad JSON, fields or query parameters",
    "401": "Missing, invalid, expired or revoked token",
    "413": "Body over 16 KiB",
    "415": "Not JSON",
    "503": "Not ready (model not loaded or database unavailable)",
}


def _document_contract_errors(doc: dict) -> None:
    """Add the contract's error responses an operation can give, each with the Error body."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = []
            if path.startswith("/api/"):
                statuses.append("503")
                if operation.get("parameters") or "requestBody" in operation:
                    statuses.append("400")
                if "requestBody" in operation:
                    statuses += ["413", "415"]
                if operation.get("security"):
                    statuses.append("401")
            responses = operation["responses"]
            for status in statuses:
                responses.setdefault(status, {"description": _ERROR_DESCRIPTIONS[status]})
            for status, response in responses.items():
                if str(status)[0] in "45" and "content" not in response:
                    response["content"] = error


def route_index(app: Flask) -> list[dict]:
    """[{"method", "path", "summary"}] for every route but static files, sorted by path."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        doc = (app.view_functions[rule.endpoint].__doc__ or "").strip()
        summary = doc.splitlines()[0].strip() if doc else ""
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append({"method": method, "path": rule.rule, "summary": summary})
    return sorted(routes, key=lambda r: (r["path"], r["method"]))


def init_openapi(app: Flask, title: str, version: str) -> None:
    """Serve /openapi.json, built once on first request (all blueprints registered by then)."""
    cache: dict = {}

    def openapi_json():
        """OpenAPI 3 description of the JSON API."""
        if "spec" not in cache:
            cache["spec"] = build_spec(app, title, version)
        return jsonify(cache["spec"])

    app.add_url_rule("/openapi.json", "openapi", openapi_json, methods=["GET"])
