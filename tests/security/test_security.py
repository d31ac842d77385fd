"""Security checks run by `make test`: bandit, secrets, headers, cookies, XSS, SQL
metacharacters, and tokens of one service's key refused by the other."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import sqlalchemy as sa

from testkit.jwks import SigningKey
from tests.inference.fakes import FakeSource
from tests.users.conftest import PASSWORD, base_config, csrf_token

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# What ships: the services, their shared code and training. tests/ and benchmarks/ are dev
# tools (ruff's S rules still check them).
PACKAGES = ["common", "inference_service", "user_management_service", "training"]

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)//<svg/onload=alert(1)>",
]
SQL = [
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "\\'; DELETE FROM history; --",
    "%' UNION SELECT * FROM users --",
]


@pytest.fixture
def users_app(tmp_path):
    from user_management_service import create_app, db

    config = base_config(tmp_path, f"sqlite:///{tmp_path / 'users.db'}")
    config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 1000  # hostile logins fail on purpose
    app = create_app(config)
    yield app
    db.engine(app).dispose()


@pytest.fixture
def inference_app(tmp_path, jwks):
    from inference_service import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "security",
            "INFERENCE_DATABASE_URL": f"sqlite:///{tmp_path}/history.db",
            "USERS_SERVICE_URL": jwks.url,
            "USERS_PUBLIC_URL": "http://users.example",
            "MODEL_SOURCE": FakeSource(),
            "MODEL_POLL_SECONDS": 0,
            "HISTORY_PURGE_SECONDS": 0,
            "JWKS_MIN_REFETCH_SECONDS": 0.0,
            "USERS_OPENAPI_CACHE_SECONDS": 0,
            "WORKER_READINESS": False,
        }
    )
    deadline = time.monotonic() + 10
    while not app.extensions["model"].ready and time.monotonic() < deadline:
        time.sleep(0.02)
    yield app
    app.extensions["model"].stop()
    app.extensions["history"].engine.dispose()


# --- static checks --------------------------------------------------------------------------


def test_bandit_is_clean():
    """Every remaining finding is justified on its line (`# nosec Bxxx - reason`)."""
    out = subprocess.run(
        [str(BIN / "bandit"), "-r", "-q", "-f", "json", *PACKAGES],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(out.stdout)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in report["results"]
    ]
    assert findings == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it did scan the code


def test_no_new_secrets_in_the_repository(tmp_path):
    """detect-secrets over every tracked file against the committed, audited baseline."""
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    assert all(
        not entry.get("is_secret", False) for v in baseline["results"].values() for entry in v
    )
    # The hook rewrites a baseline whose line numbers moved: give it a copy.
    copy = tmp_path / "baseline.json"
    shutil.copy(REPO / ".secrets.baseline", copy)
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    files = [f for f in files if f != ".secrets.baseline" and (REPO / f).is_file()]
    out = subprocess.run(
        [str(BIN / "detect-secrets-hook"), "--baseline", str(copy), *files],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    # 0: nothing new; 3: nothing new, only line numbers of known entries moved; 1: new secrets.
    assert out.returncode in (0, 3), out.stdout + out.stderr


# --- headers and cookies --------------------------------------------------------------------


def get_paths(app) -> list[str]:
    """Every GET route without parameters (pages, API, health, docs)."""
    return sorted(
        {
            rule.rule
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
        }
    )


def assert_security_headers(resp, where: str) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") == "no-referrer", where
    assert resp.headers.get("X-Frame-Options") == "DENY", where


@pytest.mark.parametrize("service", ["inference", "users"])
def test_security_headers_on_every_page(service, request, jwks):
    app = request.getfixturevalue(f"{service}_app")
    client = app.test_client()
    paths = get_paths(app)
    assert len(paths) >= 8, paths
    token = jwks.key.token(sub="headers") if service == "inference" else None
    for path in [*paths, "/no-such-page", "/api/v1/no-such-endpoint", "/static/style.css"]:
        for headers in ({}, {"Authorization": f"Bearer {token}"} if token else {}):
            resp = client.get(path, headers=headers)
            assert_security_headers(resp, f"{service} GET {path} -> {resp.status_code}")
    # Error paths and form posts too.
    assert_security_headers(client.post("/api/v1/triage", data="x"), f"{service} POST 4xx")
    assert_security_headers(client.post("/login", data={}), f"{service} POST /login")


def cookies_of(resp) -> list[tuple[str, str]]:
    return [(v.split("=", 1)[0], v) for v in resp.headers.getlist("Set-Cookie")]


def test_cookies_are_httponly_and_samesite(users_app, inference_app):
    seen = []
    users = users_app.test_client()
    page = users.get("/register")
    seen += cookies_of(page)
    resp = users.post(
        "/register",
        data={"email": "c@example.org", "password": PASSWORD, "confirm": PASSWORD,
              "csrf_token": csrf_token(page.data)},
    )  # fmt: skip
    seen += cookies_of(resp)
    page = users.get("/login")
    seen += cookies_of(page)
    resp = users.post(
        "/login",
        data={"email": "c@example.org", "password": PASSWORD, "csrf_token": csrf_token(page.data)},
    )
    assert resp.status_code == 303
    seen += cookies_of(resp)
    seen += cookies_of(users.post("/logout", data={"csrf_token": csrf_token(page.data)}))
    inference = inference_app.test_client()
    seen += cookies_of(inference.get("/inference"))
    names = {name for name, _ in seen}
    assert {"medtriage_token", "medtriage_users_session", "medtriage_inference_session"} <= names
    for name, header in seen:
        cookie = SimpleCookie()
        cookie.load(header)
        morsel = cookie[name]
        assert morsel["httponly"], header
        assert morsel["samesite"] in ("Lax", "Strict"), header


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_the_question_comes_back_escaped(inference_app, payload):
    client = inference_app.test_client()
    page = client.get("/inference")
    question = f"What is {payload}?"
    resp = client.post(
        "/inference",
        data={"csrf_token": csrf_token(page.data), "question": question, "top_k": "1"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert payload not in html
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.replace('"', "&#34;") in html or escaped.replace('"', "&quot;") in html


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_the_email_comes_back_escaped(users_app, payload):
    client = users_app.test_client()
    for path in ("/register", "/login"):
        page = client.get(path)
        email = f"{payload}@example.org"
        data = {"email": email, "password": PASSWORD, "confirm": PASSWORD}
        resp = client.post(path, data={**data, "csrf_token": csrf_token(page.data)})
        assert resp.status_code in (200, 400, 401), (path, resp.status_code)
        html = resp.get_data(as_text=True)
        assert payload not in html, path
    # The JSON API echoes nothing executable either: JSON with nosniff, never HTML.
    resp = client.post(
        "/api/v1/users", json={"email": f"{XSS[0]}@example.org", "password": PASSWORD}
    )
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_sql_metacharacters_in_every_field_are_harmless(users_app, inference_app, jwks):
    users = users_app.test_client()
    for i, payload in enumerate(SQL):
        # As the password (valid: long enough), in the email (refused as not an address).
        email = f"sql{i}@example.org"
        password = f"pw {payload} long enough"
        assert (
            users.post("/api/v1/users", json={"email": email, "password": password}).status_code
            == 201
        )
        assert (
            users.post("/api/v1/users", json={"email": payload, "password": password}).status_code
            == 400
        )
        resp = users.post("/api/v1/tokens", json={"email": payload, "password": payload})
        assert resp.status_code in (400, 401)
        resp = users.post("/api/v1/tokens", json={"email": email, "password": password})
        assert resp.status_code == 200
        token = resp.get_json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        resp = users.post(
            "/api/v1/users/me/password",
            json={"current_password": payload, "new_password": payload},
            headers=auth,
        )
        assert resp.status_code == 400
        assert users.get(f"/api/v1/users?limit={payload}", headers=auth).status_code in (400, 403)
        assert users.patch(
            f"/api/v1/users/{payload}", json={"disabled": True}, headers=auth
        ).status_code in (403, 404)
    # Every account is there, exactly as stored; the table was not dropped.
    from user_management_service import db

    with db.engine(users_app).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == len(SQL)

    inference = inference_app.test_client()
    auth = {"Authorization": f"Bearer {jwks.key.token(sub=SQL[0])}"}  # in the token's subject too
    for payload in SQL:
        resp = inference.post(
            "/api/v1/triage", json={"question": f"Is {payload} treatable?"}, headers=auth
        )
        assert resp.status_code == 200 and resp.get_json()["history_saved"] is True
        assert inference.get(f"/api/v1/history?limit={payload}", headers=auth).status_code == 400
    items = inference.get("/api/v1/history?limit=200", headers=auth).get_json()["items"]
    assert sorted(i["question"] for i in items) == sorted(f"Is {p} treatable?" for p in SQL)
    other = {"Authorization": "Bearer " + jwks.key.token(sub="' OR '1'='1")}
    assert inference.get("/api/v1/history", headers=other).get_json()["total"] == 0


# --- tokens across services -----------------------------------------------------------------


def test_a_token_from_one_services_key_is_refused_by_the_other(users_app, inference_app, jwks):
    # The inference service's test key (its JWKS) signs a token: the user service refuses it.
    foreign = jwks.key.token(sub="someone")
    users = users_app.test_client()
    resp = users.get("/api/v1/users/me", headers={"Authorization": f"Bearer {foreign}"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"
    # A token of the user service's own (real) key: the inference app, whose JWKS serves
    # another key, refuses it.
    users.post("/api/v1/users", json={"email": "x@example.org", "password": PASSWORD})
    real = users.post(
        "/api/v1/tokens", json={"email": "x@example.org", "password": PASSWORD}
    ).get_json()["access_token"]
    inference = inference_app.test_client()
    resp = inference.post(
        "/api/v1/triage",
        json={"question": "What is gout?"},
        headers={"Authorization": f"Bearer {real}"},
    )
    assert resp.status_code == 401
    # The same key id with another key's signature is refused as well.
    impostor = SigningKey(kid=jwks.key.kid)
    resp = inference.get("/api/v1/history", headers={"Authorization": f"Bearer {impostor.token()}"})
    assert resp.status_code == 401
