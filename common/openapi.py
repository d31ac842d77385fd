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
    return spec.to_dict()


def init_openapi(app: Flask, title: str, version: str) -> None:
    """Serve /openapi.json, built once on first request (all blueprints registered by then)."""
    cache: dict = {}

    def openapi_json():
        if "spec" not in cache:
            cache["spec"] = build_spec(app, title, version)
        return jsonify(cache["spec"])

    app.add_url_rule("/openapi.json", "openapi", openapi_json, methods=["GET"])
