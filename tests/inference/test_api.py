"""JSON API: triage answers per the contract, and every bad input of section 6 refused."""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.test import EnvironBuilder

from testkit.jwks import SigningKey, unsigned_token


def ask(client, headers, body=None, **kw):
    if body is None:
        body = {"question": "How is asthma treated?"}
    return client.post("/api/v1/triage", json=body, headers=headers, **kw)


def assert_error(resp, status, code=None):
    assert resp.status_code == status, resp.data
    assert resp.is_json
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    assert "Traceback" not in resp.get_data(as_text=True)
    if code:
        assert body["error"]["code"] == code, body


def test_triage_answers_per_contract(client, auth):
    resp = ask(client, auth, {"question": "How is asthma treated?", "top_k": 2})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["category"] == {"label": "treatment", "confidence": 0.91}
    assert body["alternatives"] == [{"label": "information", "confidence": 0.05}]
    assert body["urgent"] is False and body["abstained"] is False
    assert body["urgent_reasons"] == []
    assert len(body["answers"]) == 2
    assert set(body["answers"][0]) >= {"id", "question", "answer", "focus", "source_url", "score"}
    assert body["model_version"] == "v1"
    assert "not medical advice" in body["disclaimer"]
    assert body["history_saved"] is True
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Request-ID"]


def test_top_k_defaults_to_three(client, auth):
    body = ask(client, auth, {"question": "How is asthma treated?"}).get_json()
    assert len(body["answers"]) == 3


def test_urgent_and_abstained(client, auth):
    body = ask(client, auth, {"question": "I have crushing chest pain now"}).get_json()
    assert body["urgent"] is True and "emergency" in body["urgent_message"]
    # CONTRACTS section 4: objects with a code and a message naming the action.
    assert body["urgent_reasons"] and all(
        set(r) == {"code", "message"} and r["code"] and r["message"] for r in body["urgent_reasons"]
    )
    body = ask(client, auth, {"question": "xyzzy plugh"}).get_json()
    assert body["abstained"] is True and body["answers"] == []


def test_model_info(client):
    resp = client.get("/api/v1/model")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "version": "v1",
        "labels": ["information", "symptoms", "treatment", "causes"],
        "metrics": {"medquad": {"accuracy": 0.9}},
        "trained_at": "2026-11-22T20:00:00Z",
    }


def test_pipeline_failure_is_500_without_details(client, auth, capsys):
    resp = ask(client, auth, {"question": "please explode secretword"})
    assert_error(resp, 500, "internal_error")
    assert "secretword" not in resp.get_data(as_text=True)
    assert "secretword" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"question": ""}, "at least 3"),
        ({"question": "   "}, "at least 3"),
        ({"question": "ab"}, "at least 3"),
        ({"question": "x" * 2001}, "2000"),
        ({}, "question"),
        ({"question": 42}, "question"),
        ({"question": ["a list"]}, "question"),
        ({"question": None}, "question"),
        ({"question": "How is asthma treated?", "top_k": 0}, "top_k"),
        ({"question": "How is asthma treated?", "top_k": 21}, "top_k"),
        ({"question": "How is asthma treated?", "top_k": "3"}, "top_k"),
        ({"question": "How is asthma treated?", "top_k": 2.5}, "top_k"),
        ({"question": "How is asthma treated?", "top_k": True}, "top_k"),
        ({"question": "How is asthma treated?", "topk": 3}, "topk"),
    ],
)
def test_bad_fields_are_400(client, auth, body, message_part):
    resp = ask(client, auth, body)
    assert_error(resp, 400, "invalid_field")
    assert message_part in resp.get_json()["error"]["message"]


def test_2000_characters_is_accepted(client, auth):
    assert ask(client, auth, {"question": "x" * 2000}).status_code == 200


@pytest.mark.parametrize("raw", ['{"question": "abc"', "not json", "", "[1, 2]", '"a string"'])
def test_malformed_json_is_400(client, auth, raw):
    resp = client.post("/api/v1/triage", data=raw, content_type="application/json", headers=auth)
    assert_error(resp, 400, "invalid_json")


def test_wrong_content_type_is_415(client, auth):
    resp = client.post(
        "/api/v1/triage",
        data="question=hello",
        headers=auth,
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(resp, 415, "unsupported_media_type")
    resp = client.post(
        "/api/v1/triage",
        data=json.dumps({"question": "hello"}),
        headers=auth,
        content_type="text/plain",
    )
    assert_error(resp, 415, "unsupported_media_type")


def test_body_over_16_kib_is_413(client, auth):
    resp = ask(client, auth, {"question": "x" * (17 * 1024)})
    assert_error(resp, 413, "payload_too_large")


def _chunked(client, auth, raw: bytes):
    """Post as gunicorn passes a chunked body: no Content-Length, input marked as terminated."""
    builder = EnvironBuilder(
        path="/api/v1/triage",
        method="POST",
        input_stream=io.BytesIO(raw),
        content_type="application/json",
        headers=auth,
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    return client.open(environ)


def test_chunked_body_over_16_kib_is_413(client, auth):
    resp = _chunked(client, auth, json.dumps({"question": "x" * (17 * 1024)}).encode())
    assert_error(resp, 413, "payload_too_large")


def test_chunked_body_at_the_limit_is_read_whole(client, auth):
    raw = json.dumps({"question": "How is asthma treated?", "top_k": 2}).encode()
    raw = raw[:-1] + b" " * (16 * 1024 - len(raw)) + b"}"
    assert len(raw) == 16 * 1024
    resp = _chunked(client, auth, raw)
    assert resp.status_code == 200, resp.data
    assert len(resp.get_json()["answers"]) == 2
    assert_error(_chunked(client, auth, b'{"question": '), 400, "invalid_json")


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_is_401(client):
    resp = ask(client, {})
    assert_error(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"])
def test_bad_authorization_header_is_401(client, header):
    assert_error(ask(client, {"Authorization": header}), 401, "unauthorized")


def test_expired_token_is_401(client, jwks):
    resp = ask(client, _bearer(jwks.key.token(ttl=-120)))
    assert_error(resp, 401, "unauthorized")
    assert "expired" in resp.get_json()["error"]["message"]


def test_forged_token_is_401(client, jwks):
    forger = SigningKey(kid=jwks.key.kid)  # same kid, different private key
    assert_error(ask(client, _bearer(forger.token())), 401, "unauthorized")


def test_tampered_claims_are_401(client, jwks):
    header, payload, sig = jwks.key.token(sub="alice").split(".")
    other = jwks.key.token(sub="mallory").split(".")[1]
    assert_error(ask(client, _bearer(f"{header}.{other}.{sig}")), 401, "unauthorized")


def test_alg_none_token_is_401(client, jwks):
    token = unsigned_token(jwks.key.claims(sub="alice"), kid=jwks.key.kid)
    assert_error(ask(client, _bearer(token)), 401, "unauthorized")


def test_hs256_with_public_key_is_401(client, jwks):
    import jwt as pyjwt

    secret = jwks.key.jwk()["x"].encode()
    token = pyjwt.encode(
        jwks.key.claims(), secret, algorithm="HS256", headers={"kid": jwks.key.kid}
    )
    assert_error(ask(client, _bearer(token)), 401, "unauthorized")


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"iss": "evil"}, {"sub": None}, {"exp": None}, {"iat": None}],
)
def test_wrong_or_missing_claims_are_401(client, jwks, claims):
    assert_error(ask(client, _bearer(jwks.key.token(**claims))), 401, "unauthorized")


def test_garbage_token_is_401(client):
    assert_error(ask(client, _bearer("not.a.jwt")), 401, "unauthorized")
    assert_error(ask(client, _bearer("abc")), 401, "unauthorized")


def test_unknown_route_is_404_json(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")


def test_wrong_method_is_405_json(client, auth):
    resp = client.get("/api/v1/triage", headers=auth)
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]
    assert_error(client.put("/api/v1/history", headers=auth), 405, "method_not_allowed")


def test_not_ready_is_503(make_app, source, auth):
    source.unreachable = True
    app = make_app()
    client = app.test_client()
    assert_error(ask(client, auth), 503, "not_ready")
    assert_error(client.get("/api/v1/model"), 503, "not_ready")


def test_validation_happens_after_auth(client):
    assert_error(ask(client, {}, {"question": ""}), 401)
