"""Probes, metrics, OpenAPI, configuration, CLI commands and the gunicorn entry point."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from testkit.net import free_port as _free_port
from tests.users.conftest import PASSWORD, bearer, sqlite_only
from user_management_service import config as config_module
from user_management_service import create_app, db

REPO = Path(__file__).resolve().parents[2]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json["status"] == "ready"


@sqlite_only
def test_readyz_503_when_database_unreachable(app_config):
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/users"})
    client = app.test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "not_ready"
    assert resp.headers["Retry-After"]
    resp = client.post("/api/v1/users", json={"email": "a@example.org", "password": PASSWORD})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "not_ready"
    assert client.get("/healthz").status_code == 200
    db.engine(app).dispose()


@sqlite_only
def test_metrics(api, client):
    api.register()
    resp = client.get("/metrics")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert (
        'http_requests_total{endpoint="/api/v1/users",method="POST",service="users",status="201"}'
        in text
    )


@sqlite_only
def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [("/api/v1/users", "post"), ("/api/v1/tokens", "post"),
                         ("/api/v1/users/me", "get"), ("/api/v1/users/me", "delete"),
                         ("/api/v1/users/me/password", "post"), ("/api/v1/users", "get"),
                         ("/api/v1/users/{user_id}", "patch"), ("/.well-known/jwks.json", "get"),
                         ("/healthz", "get"), ("/readyz", "get")]:  # fmt: skip
        assert method in paths[path], (path, method)
    assert paths["/api/v1/tokens"]["post"]["responses"]["429"]
    assert "AccountCredentials" in spec["components"]["schemas"]
    listed = {(r["method"], r["path"]) for r in spec["x-routes"]}
    assert {("GET", "/register"), ("GET", "/login"), ("GET", "/logout"),
            ("GET", "/account")} <= listed  # fmt: skip


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("USERS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("USERS_TOKEN_TTL_SECONDS", "600")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("INFERENCE_PUBLIC_URL", "https://medtriage.example/")
    monkeypatch.delenv("USERS_DATABASE_URL", raising=False)
    cfg = config_module.Config()
    assert f"sqlite:///{tmp_path / 'users.db'}" == cfg.DATABASE_URL
    assert str(tmp_path / "keys") == cfg.KEY_DIR
    assert cfg.TOKEN_TTL_SECONDS == 600
    assert cfg.SESSION_COOKIE_SECURE is True
    assert cfg.INFERENCE_PUBLIC_URL == "https://medtriage.example"
    assert cfg.INFERENCE_SERVICE_URL == "http://127.0.0.1:8000"
    monkeypatch.setenv("USERS_DATABASE_URL", "postgresql+psycopg://u@db/users")
    assert config_module.Config().DATABASE_URL == "postgresql+psycopg://u@db/users"


@sqlite_only
def test_generated_csrf_secret_is_private_and_shared(app_config, tmp_path):
    cfg = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    first, second = create_app(cfg), create_app(cfg)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert oct((tmp_path / "users-secret-key").stat().st_mode & 0o777) == "0o600"
    for a in (first, second):
        db.engine(a).dispose()


def test_create_admin_cli(api, client, runner):
    result = runner.invoke(args=["users", "create-admin", "Root@Example.org"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "admin created: root@example.org" in result.output
    token = api.token("root@example.org")
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    # An existing account is promoted (its password unchanged).
    user_token = api.user("bob@example.org")
    result = runner.invoke(args=["users", "create-admin", "bob@example.org"])
    assert result.exit_code == 0 and "promoted" in result.output
    assert client.get("/api/v1/users/me", headers=bearer(user_token)).status_code == 401
    assert (
        client.get("/api/v1/users", headers=bearer(api.token("bob@example.org"))).status_code == 200
    )


@sqlite_only
@pytest.mark.parametrize(("email", "password", "message"), [
    ("not-an-email", PASSWORD, "valid email"),
    ("a@example.org", "short", "at least 10"),
])  # fmt: skip
def test_create_admin_cli_rejects_bad_input(runner, email, password, message):
    result = runner.invoke(args=["users", "create-admin", email, "--password", password])
    assert result.exit_code != 0
    assert message in result.output


@sqlite_only
def test_migrate_cli(runner):
    result = runner.invoke(args=["users", "migrate"])
    assert result.exit_code == 0 and "up to date" in result.output


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USERS_")}
    env.update({"USERS_DATA_DIR": str(tmp_path), "USERS_ARGON2_TIME_COST": "1",
                "USERS_ARGON2_MEMORY_COST": "8", "USERS_ARGON2_PARALLELISM": "1",
                "PYTHONPATH": str(REPO)})  # fmt: skip
    return env


def test_python_m_entry_point(tmp_path):
    env = _env(tmp_path)
    run = [sys.executable, "-m", "user_management_service"]
    out = subprocess.run([*run, "rotate-key"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "new signing key" in out.stdout
    env["USERS_ADMIN_PASSWORD"] = PASSWORD
    out = subprocess.run([*run, "create-admin", "ops@example.org"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "admin created: ops@example.org" in out.stdout
    assert len(list((tmp_path / "keys").glob("retired-*.pem"))) == 1


def test_gunicorn_conf(monkeypatch):
    monkeypatch.setenv("USERS_PORT", "8123")
    conf = importlib.reload(importlib.import_module("user_management_service.gunicorn_conf"))
    assert conf.bind == "0.0.0.0:8123"
    assert conf.workers >= 2 and conf.accesslog == "-"
    line = conf.access_log_format % {"t": "[now]", "h": "1.2.3.4", "m": "GET", "U": "/healthz",
                                     "s": 200, "B": 10, "M": 3, "{x-request-id}o": "abc"}  # fmt: skip
    assert json.loads(line)["path"] == "/healthz"


@pytest.mark.slow
def test_gunicorn_serves_the_app(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed in this environment")
    port = _free_port()
    env = {**_env(tmp_path), "USERS_PORT": str(port), "USERS_HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "user_management_service/gunicorn_conf.py",
         "user_management_service:create_app()"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        body = json.dumps({"email": "g@example.org", "password": PASSWORD}).encode()
        for path, status in [("/api/v1/users", 201), ("/api/v1/tokens", 200)]:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == status
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    access = [
        line for line in output.splitlines() if '"service": "users"' in line and '"remote"' in line
    ]
    assert access and all(PASSWORD not in line for line in output.splitlines())
