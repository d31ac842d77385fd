"""JSON API: registration, login, me, password change, deletion, admin; every bad input."""

from __future__ import annotations

import pytest

from tests.users.conftest import PASSWORD, bearer, sqlite_only


def error_code(resp) -> str:
    assert resp.is_json, resp.data[:200]
    assert set(resp.json) == {"error"} and set(resp.json["error"]) == {"code", "message"}
    return resp.json["error"]["code"]


def test_register_returns_contract_fields(api):
    resp = api.register("  Ada.Lovelace@Example.ORG ")
    assert resp.status_code == 201
    assert set(resp.json) == {"id", "email", "created_at"}
    assert resp.json["email"] == "ada.lovelace@example.org"
    assert resp.headers["Cache-Control"] == "no-store"


def test_register_twice_is_409_even_with_other_case(api):
    assert api.register("ada@example.org").status_code == 201
    resp = api.register("ADA@example.org ")
    assert resp.status_code == 409
    assert error_code(resp) == "email_taken"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "", "password": PASSWORD}, "invalid_email"),
        ({"email": "   ", "password": PASSWORD}, "invalid_email"),
        ({"email": "not-an-email", "password": PASSWORD}, "invalid_email"),
        ({"email": "a@b", "password": PASSWORD}, "invalid_email"),
        ({"email": "a b@example.org", "password": PASSWORD}, "invalid_email"),
        ({"email": "a..b@example.org", "password": PASSWORD}, "invalid_email"),
        ({"email": "x" * 65 + "@example.org", "password": PASSWORD}, "invalid_email"),
        ({"email": "ada@example.org", "password": "short"}, "password_too_short"),
        ({"email": "ada@example.org", "password": "123456789"}, "password_too_short"),
        ({"email": "ada@example.org", "password": "x" * 257}, "password_too_long"),
        ({"email": "ada@example.org", "password": "password123"}, "password_too_common"),
        ({"email": "ada@example.org", "password": "QwertyUIOP"}, "password_too_common"),
        ({"email": "ada@example.org", "password": "ada@example.org"}, "password_too_common"),
        ({"password": PASSWORD}, "invalid_field"),
        ({"email": "ada@example.org"}, "invalid_field"),
        ({}, "invalid_field"),
        ({"email": 42, "password": PASSWORD}, "invalid_field"),
        ({"email": "ada@example.org", "password": ["x" * 12]}, "invalid_field"),
        ({"email": None, "password": PASSWORD}, "invalid_field"),
    ],
)
@sqlite_only
def test_register_rejects_bad_input(client, body, code):
    resp = client.post("/api/v1/users", json=body)
    assert resp.status_code == 400
    assert error_code(resp) == code
    assert resp.json["error"]["message"]


@sqlite_only
def test_messages_say_what_is_wrong(client):
    resp = client.post("/api/v1/users", json={"password": PASSWORD})
    assert "email" in resp.json["error"]["message"]
    resp = client.post("/api/v1/users", json={"email": "ada@example.org", "password": "short"})
    assert "10 characters" in resp.json["error"]["message"]


def test_unknown_fields_are_ignored(api, client):
    resp = client.post(
        "/api/v1/users", json={"email": "ada@example.org", "password": PASSWORD, "name": "Ada"}
    )
    assert resp.status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/tokens"])
@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": '"text"', "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "email=a&password=b", "content_type": "application/x-www-form-urlencoded"},
         415, "unsupported_media_type"),
        ({"data": '{"email": "a"}', "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": "{}"}, 415, "unsupported_media_type"),
    ],
)  # fmt: skip
@sqlite_only
def test_malformed_bodies(client, path, kwargs, status, code):
    resp = client.post(path, **kwargs)
    assert resp.status_code == status
    assert error_code(resp) == code


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/tokens"])
@sqlite_only
def test_body_over_16_kib_is_413(client, path):
    body = '{"email": "ada@example.org", "password": "' + "x" * (16 * 1024) + '"}'
    resp = client.post(path, data=body, content_type="application/json")
    assert resp.status_code == 413
    assert error_code(resp) == "payload_too_large"


def test_login_returns_bearer_token(api):
    api.register()
    resp = api.login()
    assert resp.status_code == 200
    assert set(resp.json) == {"access_token", "token_type", "expires_in"}
    assert resp.json["token_type"] == "Bearer"
    assert 0 < resp.json["expires_in"] <= 3600


def test_login_email_is_case_insensitive(api):
    api.register("ada@example.org")
    assert api.login(" ADA@Example.org").status_code == 200


def test_unknown_user_and_wrong_password_look_the_same(api):
    api.register()
    wrong = api.login(password="wrong password here")
    unknown = api.login(email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.json["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "ada@example.org"}, {"password": PASSWORD}, {"email": 1, "password": 2}],
)
@sqlite_only
def test_login_bad_fields_are_400(client, body):
    resp = client.post("/api/v1/tokens", json=body)
    assert resp.status_code == 400
    assert error_code(resp) == "invalid_field"


def test_me(api, client):
    token = api.user()
    resp = client.get("/api/v1/users/me", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json["email"] == "ada@example.org"
    assert resp.json["role"] == "user"
    assert resp.json["disabled"] is False
    assert {"id", "created_at"} <= set(resp.json)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer"}, "missing_token"),
        ({"Authorization": "Bearer   "}, "missing_token"),
        ({"Authorization": "Basic YWRhOnB3"}, "missing_token"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid_token"),
        ({"Authorization": "Bearer abc"}, "invalid_token"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/users/me"),
        ("delete", "/api/v1/users/me"),
        ("post", "/api/v1/users/me/password"),
        ("get", "/api/v1/users"),
        ("patch", "/api/v1/users/123"),
    ],
)
@sqlite_only
def test_endpoints_need_a_token(client, method, path, headers, code):
    resp = getattr(client, method)(path, headers=headers, json={})
    assert resp.status_code == 401
    assert error_code(resp) == code
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@sqlite_only
def test_cookie_is_not_accepted_by_the_json_api(api, client):
    token = api.user()
    client.set_cookie("medtriage_token", token)
    assert client.get("/api/v1/users/me").status_code == 401


def test_change_password_revokes_older_tokens(api, client):
    old = api.user()
    resp = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(old),
    )
    assert resp.status_code == 200
    new = resp.json["access_token"]
    assert client.get("/api/v1/users/me", headers=bearer(new)).status_code == 200
    stale = client.get("/api/v1/users/me", headers=bearer(old))
    assert stale.status_code == 401
    assert error_code(stale) == "token_revoked"
    assert api.login().status_code == 401
    assert api.login(password="a brand new passphrase").status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"current_password": "wrong password!", "new_password": "a brand new passphrase"},
         "wrong_password"),
        ({"current_password": PASSWORD, "new_password": "short"}, "password_too_short"),
        ({"current_password": PASSWORD, "new_password": "1234567890"}, "password_too_common"),
        ({"current_password": PASSWORD}, "invalid_field"),
        ({"new_password": "a brand new passphrase"}, "invalid_field"),
        ({"current_password": PASSWORD, "new_password": 1234567890123}, "invalid_field"),
    ],
)  # fmt: skip
@sqlite_only
def test_change_password_bad_input(api, client, body, code):
    token = api.user()
    resp = client.post("/api/v1/users/me/password", json=body, headers=bearer(token))
    assert resp.status_code == 400
    assert error_code(resp) == code
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200


@sqlite_only
def test_change_password_wrong_content_type(api, client):
    token = api.user()
    resp = client.post("/api/v1/users/me/password", data="x", headers=bearer(token))
    assert resp.status_code == 415


def test_delete_me(api, client):
    token = api.user()
    assert client.delete("/api/v1/users/me", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 401
    assert api.login().status_code == 401
    assert api.register().status_code == 201  # the email is free again


def test_delete_me_deletes_history_at_inference(app, api, client, fake_inference):
    app.config["INFERENCE_SERVICE_URL"] = fake_inference.url
    token = api.user()
    assert client.delete("/api/v1/users/me", headers=bearer(token)).status_code == 204
    assert fake_inference.calls == [{"path": "/api/v1/history", "authorization": f"Bearer {token}"}]


def test_delete_me_succeeds_when_inference_is_down(app, api, client, caplog):
    token = api.user()  # INFERENCE_SERVICE_URL points at a closed port
    resp = client.delete("/api/v1/users/me", headers=bearer(token))
    assert resp.status_code == 204
    assert "history deletion failed" in caplog.text
    assert token not in caplog.text


def test_delete_me_logs_inference_errors(app, api, client, caplog):
    from tests.users.conftest import FakeInference

    with FakeInference(status=500) as fake:
        app.config["INFERENCE_SERVICE_URL"] = fake.url
        token = api.user()
        assert client.delete("/api/v1/users/me", headers=bearer(token)).status_code == 204
    assert "status=500" in caplog.text
    assert token not in caplog.text


def test_admin_lists_and_disables_users(api, client, runner):
    user_token = api.user("bob@example.org")
    admin = api.admin(runner)
    resp = client.get("/api/v1/users", headers=bearer(admin))
    assert resp.status_code == 200
    emails = [u["email"] for u in resp.json["users"]]
    assert emails == ["bob@example.org", "root@example.org"]
    assert resp.json["total"] == 2
    bob = resp.json["users"][0]["id"]

    resp = client.patch(f"/api/v1/users/{bob}", json={"disabled": True}, headers=bearer(admin))
    assert resp.status_code == 200
    assert resp.json["disabled"] is True
    assert client.get("/api/v1/users/me", headers=bearer(user_token)).status_code == 401
    denied = api.login("bob@example.org")
    assert denied.status_code == 403
    assert error_code(denied) == "account_disabled"
    # A disabled account with a wrong password gives the ordinary 401: no account probing.
    assert api.login("bob@example.org", "wrong password!").status_code == 401

    resp = client.patch(f"/api/v1/users/{bob}", json={"disabled": False}, headers=bearer(admin))
    assert resp.json["disabled"] is False
    assert api.login("bob@example.org").status_code == 200


def test_admin_list_paging(api, client, runner):
    for i in range(3):
        api.register(f"user{i}@example.org")
    admin = api.admin(runner)
    resp = client.get("/api/v1/users?limit=2&offset=1", headers=bearer(admin))
    assert [u["email"] for u in resp.json["users"]] == ["user1@example.org", "user2@example.org"]
    assert resp.json["total"] == 4
    for query in ["limit=0", "limit=abc", "limit=201", "offset=-1"]:
        resp = client.get(f"/api/v1/users?{query}", headers=bearer(admin))
        assert resp.status_code == 400, query
        assert error_code(resp) == "invalid_field"


def test_admin_role_change_and_guards(api, client, runner):
    api.register("bob@example.org")
    admin = api.admin(runner)
    me = client.get("/api/v1/users/me", headers=bearer(admin)).json
    bob = [u for u in client.get("/api/v1/users", headers=bearer(admin)).json["users"]
           if u["email"] == "bob@example.org"][0]  # fmt: skip
    resp = client.patch(f"/api/v1/users/{bob['id']}", json={"role": "admin"}, headers=bearer(admin))
    assert resp.status_code == 200 and resp.json["role"] == "admin"
    cases = [
        (f"/api/v1/users/{me['id']}", {"disabled": True}, 400),
        (f"/api/v1/users/{bob['id']}", {}, 400),
        (f"/api/v1/users/{bob['id']}", {"role": "root"}, 400),
        (f"/api/v1/users/{bob['id']}", {"disabled": "maybe"}, 400),
        ("/api/v1/users/no-such-id", {"disabled": True}, 404),
    ]
    for path, body, status in cases:
        resp = client.patch(path, json=body, headers=bearer(admin))
        assert resp.status_code == status, (path, body)
        error_code(resp)


def test_non_admin_is_403(api, client):
    token = api.user()
    resp = client.get("/api/v1/users", headers=bearer(token))
    assert resp.status_code == 403
    assert error_code(resp) == "forbidden"
    resp = client.patch("/api/v1/users/x", json={"disabled": True}, headers=bearer(token))
    assert resp.status_code == 403


@sqlite_only
def test_unknown_route_and_wrong_method(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert error_code(resp) == "not_found"
    resp = client.put("/api/v1/users", json={})
    assert resp.status_code == 405
    assert error_code(resp) == "method_not_allowed"
    resp = client.get("/api/v1/tokens")
    assert resp.status_code == 405
    resp = client.post("/.well-known/jwks.json")
    assert resp.status_code == 405
    assert error_code(resp) == "method_not_allowed"


@sqlite_only
def test_unknown_page_is_html(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
