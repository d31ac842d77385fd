"""/openapi.json generated from the code and valid; responses match it; /metrics; request ids."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from testkit.jwks import unsigned_token


@pytest.fixture
def spec(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def test_spec_is_valid_openapi_3(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_spec_has_the_contract_paths_and_schemas(spec):
    assert set(spec["paths"]) >= {
        "/api/v1/triage",
        "/api/v1/model",
        "/api/v1/history",
        "/healthz",
        "/readyz",
    }
    assert set(spec["paths"]["/api/v1/history"]) == {"get", "delete"}
    schemas = spec["components"]["schemas"]
    assert {"TriageRequest", "TriageResponse", "TriageAnswer", "Error"} <= set(schemas)
    request = schemas["TriageRequest"]
    assert request["required"] == ["question"]
    assert request["properties"]["top_k"]["minimum"] == 1
    assert request["properties"]["top_k"]["maximum"] == 20
    assert request["properties"]["question"]["maxLength"] == 2000
    reasons = schemas["TriageResponse"]["properties"]["urgent_reasons"]["items"]
    assert reasons["$ref"].endswith("/UrgentReason")
    assert set(schemas["UrgentReason"]["required"]) == {"code", "message"}
    assert spec["paths"]["/api/v1/triage"]["post"]["security"] == [{"bearer": []}]
    paths = {r["path"] for r in spec["x-routes"]}
    assert {"/", "/inference", "/history", "/metrics", "/openapi.json"} <= paths


def _validate_response(spec, path, method, resp):
    responses = spec["paths"][path][method]["responses"]
    entry = responses[str(resp.status_code)]
    schema = entry["content"]["application/json"]["schema"]
    full = {**schema, "components": spec["components"]}
    OAS30Validator(full).validate(resp.get_json())


def test_urgent_response_validates_against_the_spec(client, spec, auth):
    resp = client.post("/api/v1/triage", json={"question": "sudden chest pain"}, headers=auth)
    assert resp.get_json()["urgent_reasons"]
    _validate_response(spec, "/api/v1/triage", "post", resp)


def test_responses_validate_against_the_spec(client, spec, auth, jwks):
    cases = [
        (
            "/api/v1/triage",
            "post",
            client.post(
                "/api/v1/triage", json={"question": "How is asthma treated?"}, headers=auth
            ),
        ),
        (
            "/api/v1/triage",
            "post",
            client.post("/api/v1/triage", json={"question": "xyzzy"}, headers=auth),
        ),
        (
            "/api/v1/triage",
            "post",
            client.post("/api/v1/triage", json={"question": ""}, headers=auth),
        ),
        ("/api/v1/triage", "post", client.post("/api/v1/triage", json={"question": "abc"})),
        (
            "/api/v1/triage",
            "post",
            client.post("/api/v1/triage", data="x", content_type="text/plain", headers=auth),
        ),
        ("/api/v1/model", "get", client.get("/api/v1/model")),
        ("/api/v1/history", "get", client.get("/api/v1/history", headers=auth)),
        (
            "/api/v1/history",
            "get",
            client.get(
                "/api/v1/history",
                headers={"Authorization": f"Bearer {unsigned_token({'sub': 'x'})}"},
            ),
        ),
        ("/api/v1/history", "delete", client.delete("/api/v1/history", headers=auth)),
        ("/healthz", "get", client.get("/healthz")),
        ("/readyz", "get", client.get("/readyz")),
    ]
    for path, method, resp in cases:
        _validate_response(spec, path, method, resp)
    assert cases[6][2].get_json()["total"] == 2


def test_metrics_count_predictions_by_category_and_version(client, auth):
    client.post("/api/v1/triage", json={"question": "How is asthma treated?"}, headers=auth)
    client.post("/api/v1/triage", json={"question": "chest pain now"}, headers=auth)
    client.post("/api/v1/triage", json={"question": ""}, headers=auth)
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'medtriage_predictions_total{abstained="false",category="treatment",'
        'model_version="v1",urgent="true"} 1.0'
    ) in text
    assert (
        'medtriage_predictions_total{abstained="false",category="treatment",'
        'model_version="v1",urgent="false"} 1.0'
    ) in text
    assert 'medtriage_model_info{version="v1"} 1.0' in text
    assert "medtriage_model_ready 1.0" in text
    assert (
        'http_requests_total{endpoint="/api/v1/triage",method="POST",service="inference",'
        'status="400"} 1.0'
    ) in text
    assert 'http_request_duration_seconds_bucket{endpoint="/api/v1/triage"' in text
    assert "medtriage_model_latency_seconds_count 2.0" in text


def test_request_id_is_echoed_or_made(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert made and made != "bad id!"
