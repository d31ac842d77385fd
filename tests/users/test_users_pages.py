"""HTML pages: register, log in (cookie), account, change password, delete, log out; CSRF."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest

from tests.users.conftest import PASSWORD, csrf_token, sqlite_only

NEW_PASSWORD = "a brand new passphrase"


def post_form(client, path, data, page=None, prefix=""):
    page = page or path
    html = client.get(page).data
    token = csrf_token(html, prefix)
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(path, data={**data, name: token})


def register_page(client, email="ada@example.org", password=PASSWORD, confirm=None):
    return post_form(client, "/register",
                     {"email": email, "password": password, "confirm": confirm or password})  # fmt: skip


def login_page(client, email="ada@example.org", password=PASSWORD):
    return post_form(client, "/login", {"email": email, "password": password})


def token_cookie(resp) -> SimpleCookie:
    header = next(v for v in resp.headers.getlist("Set-Cookie") if v.startswith("medtriage_token="))
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie["medtriage_token"], header


@sqlite_only
@pytest.mark.parametrize("path", ["/register", "/login"])
def test_forms_have_labelled_inputs_and_csrf(client, path):
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.data.decode()
    assert 'name="csrf_token"' in html
    for input_id in re.findall(r'<input[^>]*id="([^"]+)"[^>]*type="(?:email|password)"', html):
        assert f'<label for="{input_id}">' in html
    assert "<script" not in html  # works without JavaScript
    assert 'href="/static/style.css"' in html


def test_register_then_login_sets_cookie_and_redirects_to_inference(client):
    resp = register_page(client)
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/login")
    page = client.get(resp.headers["Location"]).data.decode()
    assert "Your account is ready" in page
    assert 'value="ada@example.org"' in page

    resp = login_page(client)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "http://ask.test:8000/inference"
    morsel, header = token_cookie(resp)
    assert morsel["httponly"] and morsel["path"] == "/"
    assert morsel["samesite"] == "Lax"
    assert not morsel["secure"]
    assert int(morsel["max-age"]) > 0
    assert "Domain" not in header  # host-only: shared across ports of the same host

    # The cookie is a normal access token the JSON API accepts as a bearer token.
    api = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {morsel.value}"})
    assert api.status_code == 200


@sqlite_only
def test_cookie_is_secure_over_https_or_when_configured(app, client):
    register_page(client)
    html = client.get("/login", base_url="https://localhost").data
    resp = client.post(
        "/login",
        base_url="https://localhost",
        data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": csrf_token(html)},
        headers={"Referer": "https://localhost/login"},
    )
    assert resp.status_code == 303, resp.data[-600:]
    assert token_cookie(resp)[0]["secure"]

    app.config["SESSION_COOKIE_SECURE"] = True
    assert token_cookie(login_page(client))[0]["secure"]


@sqlite_only
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "password": PASSWORD, "confirm": PASSWORD}, "Enter your email address."),
        ({"email": "nope", "password": PASSWORD, "confirm": PASSWORD}, "Enter a valid email"),
        ({"email": "a@example.org", "password": "short", "confirm": "short"}, "at least 10"),
        ({"email": "a@example.org", "password": "password123", "confirm": "password123"},
         "too common"),
        ({"email": "a@example.org", "password": PASSWORD, "confirm": "something else"},
         "do not match"),
        ({"email": "a@example.org", "password": "", "confirm": ""}, "Choose a password."),
    ],
)  # fmt: skip
def test_register_errors_are_readable(client, data, message):
    resp = register_page(client, data["email"], data["password"], data["confirm"])
    assert resp.status_code == 400
    html = resp.data.decode()
    assert message in html
    assert 'role="alert"' in html and 'aria-invalid="true"' in html


def test_register_page_taken_email(client):
    register_page(client)
    resp = register_page(client)
    assert resp.status_code == 409
    assert "already exists" in resp.data.decode()


def test_login_page_errors(client):
    register_page(client)
    resp = login_page(client, password="wrong password!")
    assert resp.status_code == 401
    assert "Email or password is incorrect." in resp.data.decode()
    assert not any(v.startswith("medtriage_token=") for v in resp.headers.getlist("Set-Cookie"))
    resp = login_page(client, email="", password="")
    assert resp.status_code == 400
    assert "Enter your email address." in resp.data.decode()
    for _ in range(3):
        resp = login_page(client, password="wrong password!")
    assert resp.status_code == 429
    assert "Too many failed logins" in resp.data.decode()
    assert "Retry-After" in resp.headers


@sqlite_only
@pytest.mark.parametrize("path", ["/register", "/login", "/logout", "/account/password",
                                  "/account/delete"])  # fmt: skip
def test_forms_without_csrf_token_are_refused(client, path):
    resp = client.post(path, data={"email": "ada@example.org", "password": PASSWORD})
    assert resp.status_code == 400
    assert resp.mimetype == "text/html"
    assert "form has expired" in resp.data.decode()


@sqlite_only
def test_forged_csrf_token_is_refused(client):
    client.get("/register")
    resp = client.post("/register", data={"email": "a@example.org", "password": PASSWORD,
                                          "confirm": PASSWORD, "csrf_token": "forged"})  # fmt: skip
    assert resp.status_code == 400


def test_account_page(client):
    assert client.get("/account").headers["Location"].endswith("/login")
    register_page(client)
    login_page(client)
    resp = client.get("/account")
    assert resp.status_code == 200
    html = resp.data.decode()
    assert "ada@example.org" in html and "user" in html
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", html)
    assert "Change password" in html and "Delete my account" in html
    assert 'href="/logout"' in html
    assert resp.headers["Cache-Control"] == "no-store"


def test_change_password_page(client):
    register_page(client)
    old_cookie = token_cookie(login_page(client))[0].value
    resp = post_form(client, "/account/password",
                     {"pw-current_password": PASSWORD, "pw-new_password": NEW_PASSWORD,
                      "pw-confirm": NEW_PASSWORD}, page="/account", prefix="pw")  # fmt: skip
    assert resp.status_code == 303
    new_cookie = token_cookie(resp)[0].value
    assert new_cookie != old_cookie
    assert "Your password has been changed" in client.get("/account").data.decode()
    old = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {old_cookie}"})
    assert old.status_code == 401


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pw-current_password": "wrong password!", "pw-new_password": NEW_PASSWORD,
          "pw-confirm": NEW_PASSWORD}, "current password is incorrect"),
        ({"pw-current_password": PASSWORD, "pw-new_password": "short", "pw-confirm": "short"},
         "at least 10"),
        ({"pw-current_password": PASSWORD, "pw-new_password": NEW_PASSWORD,
          "pw-confirm": "different thing"}, "do not match"),
    ],
)  # fmt: skip
@sqlite_only
def test_change_password_page_errors(client, data, message):
    register_page(client)
    login_page(client)
    resp = post_form(client, "/account/password", data, page="/account", prefix="pw")
    assert resp.status_code == 400
    assert message in resp.data.decode()


def test_delete_account_page(app, client, fake_inference):
    app.config["INFERENCE_SERVICE_URL"] = fake_inference.url
    register_page(client)
    cookie = token_cookie(login_page(client))[0].value
    resp = post_form(client, "/account/delete", {"del-password": "wrong password!"},
                     page="/account", prefix="del")  # fmt: skip
    assert resp.status_code == 400
    assert "The password is incorrect." in resp.data.decode()
    assert fake_inference.calls == []

    resp = post_form(client, "/account/delete", {"del-password": PASSWORD},
                     page="/account", prefix="del")  # fmt: skip
    assert resp.status_code == 303
    assert token_cookie(resp)[0].value == ""
    assert fake_inference.calls == [{"path": "/api/v1/history",
                                     "authorization": f"Bearer {cookie}"}]  # fmt: skip
    assert "have been deleted" in client.get(resp.headers["Location"]).data.decode()
    assert login_page(client).status_code == 401


@sqlite_only
def test_logout(client):
    register_page(client)
    login_page(client)
    resp = client.get("/logout")
    assert resp.status_code == 200
    assert "You are logged out" in resp.data.decode()
    morsel = token_cookie(resp)[0]
    assert morsel.value == "" and morsel["path"] == "/"
    assert client.get("/account").status_code == 303

    login_page(client)
    resp = post_form(client, "/logout", {}, page="/account", prefix="out")
    assert resp.status_code == 200
    assert token_cookie(resp)[0].value == ""


@sqlite_only
def test_pages_ignore_bad_cookies(client):
    client.set_cookie("medtriage_token", "garbage")
    assert client.get("/account").status_code == 303
    assert client.get("/register").status_code == 200


@sqlite_only
def test_index_redirects(client):
    assert client.get("/").status_code in (302, 303)
