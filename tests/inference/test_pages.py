"""HTML pages: endpoint index from the routes, the question form, history, CSRF, escaping."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from common.openapi import route_index


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.fixture
def users_openapi(jwks):
    from flask import Flask

    fake = Flask("fake_users")

    @fake.post("/api/v1/tokens")
    def tokens():
        """Exchange email and password for an access token."""

    @fake.get("/login")
    def login():
        """Log in with email and password."""

    jwks.openapi = {"openapi": "3.0.3", "paths": {}, "x-routes": route_index(fake)}
    yield jwks
    jwks.openapi = None


def test_home_lists_both_services_from_their_routes(make_app, users_openapi):
    app = make_app()

    @app.get("/brand-new")
    def brand_new():
        """A route added later shows up by itself."""
        return "new"

    html = app.test_client().get("/").get_data(as_text=True)
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            assert f"<code>{escape(rule.rule)}</code>" in html, rule.rule
    assert "A route added later shows up by itself." in html
    assert 'href="/api/v1/model"' in html
    assert "Triage a medical question and answer it" in html
    assert "POST" in html and "DELETE" in html
    # The user service's routes, linked through USERS_PUBLIC_URL.
    assert 'href="http://users.example/login"' in html
    assert "Exchange email and password for an access token." in html
    assert "not reachable" not in html


def test_home_says_when_user_service_is_down(make_app, jwks):
    jwks.available = False
    try:
        html = make_app().test_client().get("/").get_data(as_text=True)
    finally:
        jwks.available = True
    assert "The user service is not reachable" in html
    assert "<code>/inference</code>" in html


def test_home_falls_back_to_openapi_paths(make_app, jwks):
    jwks.openapi = {
        "openapi": "3.0.3",
        "paths": {"/api/v1/users": {"post": {"summary": "Create an account."}}},
    }
    try:
        html = make_app().test_client().get("/").get_data(as_text=True)
    finally:
        jwks.openapi = None
    assert "Create an account." in html and "<code>/api/v1/users</code>" in html


def test_inference_form_shows_result(client):
    page = client.get("/inference")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<textarea" in html and 'name="question"' in html and "<label" in html
    token = csrf_token(html)
    resp = client.post(
        "/inference", data={"csrf_token": token, "question": "How is asthma treated?", "top_k": "2"}
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "treatment" in html and "91%" in html
    assert 'href="https://ghr.nlm.nih.gov/condition/thing-0"' in html
    assert html.count("<li>\n      <article>") == 2
    assert "not medical advice" in html
    assert 'class="urgent"' not in html
    # Autoescaped: the answer's markup is shown as text, never run.
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "not stored" in html  # anonymous: answered, not kept
    # What we understood, the short extract first and the full passage one click away.
    assert "We understood: <strong>What are the treatments for Thing?</strong>" in html
    assert "About: <strong>Thing</strong> (you wrote “thng”)" in html
    extract = html.index('<p class="extract">')
    details = html.index("<details>", extract)
    assert "More text." in html[details:] and "More text." not in html[extract:details]
    assert '<a href="https://x.org" rel="noopener noreferrer external">Thing registry</a>' in html


def test_inference_urgent_banner_and_abstention(client):
    token = csrf_token(client.get("/inference").get_data(as_text=True))
    html = client.post(
        "/inference", data={"csrf_token": token, "question": "sudden chest pain"}
    ).get_data(as_text=True)
    assert 'class="urgent" role="alert"' in html and "emergency" in html
    # The banner comes first, before the result heading and any answer; reasons are listed.
    assert html.index('class="urgent"') < html.index('id="result-heading"')
    assert html.index('class="urgent"') < html.index('class="answers"')
    assert 'data-code="heart_attack"' in html and "call 112 now" in html
    html = client.post("/inference", data={"csrf_token": token, "question": "xyzzy"}).get_data(
        as_text=True
    )
    assert 'class="abstained"' in html and "could not find an answer" in html


def test_inference_page_shows_the_category_answered_when_a_medicine_is_likeliest(client):
    token = csrf_token(client.get("/inference").get_data(as_text=True))
    html = client.post(
        "/inference", data={"csrf_token": token, "question": "which pills for thng?"}
    ).get_data(as_text=True)
    # Answered about the condition: the page names the category answered, not "unanswerable",
    # and says it may be a medicine question.
    assert (
        'Category: <strong class="badge">treatment</strong>' in html and "(confidence 40%)" in html
    )
    assert 'class="medicine-note"' in html and "medicine (52%)" in html
    assert "Also possible:\n    information (5%)" in html
    assert 'class="answers"' in html and 'class="abstained"' not in html
    html = client.post(
        "/inference", data={"csrf_token": token, "question": "How is thng treated?"}
    ).get_data(as_text=True)
    assert (
        'Category: <strong class="badge">treatment</strong>' in html and "medicine-note" not in html
    )


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("ab", "must be 3 to 2000 characters"),
        ("", "Please type a question."),
        ("x" * 2001, "must be 3 to 2000 characters"),
    ],
)
def test_inference_form_errors_are_readable(client, question, message):
    token = csrf_token(client.get("/inference").get_data(as_text=True))
    resp = client.post("/inference", data={"csrf_token": token, "question": question})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert message in html and 'role="alert"' in html and 'aria-invalid="true"' in html


def test_inference_form_requires_csrf(client):
    resp = client.post("/inference", data={"question": "How is asthma treated?"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    assert "text/html" in resp.headers["Content-Type"]


def test_inference_page_while_loading(make_app, source):
    source.unreachable = True
    client = make_app().test_client()
    token = csrf_token(client.get("/inference").get_data(as_text=True))
    resp = client.post("/inference", data={"csrf_token": token, "question": "How is gout treated"})
    assert resp.status_code == 503
    assert "still loading" in resp.get_data(as_text=True)


def test_logged_in_history_page_and_delete(client, jwks):
    client.set_cookie("medtriage_token", jwks.key.token(sub="carol"))
    token = csrf_token(client.get("/inference").get_data(as_text=True))
    html = client.post(
        "/inference", data={"csrf_token": token, "question": "What causes <b>gout</b>?"}
    ).get_data(as_text=True)
    assert "Saved to your" in html
    html = client.get("/history").get_data(as_text=True)
    assert "What causes &lt;b&gt;gout&lt;/b&gt;?" in html
    assert "GHR_0000000_Sec1" in html
    resp = client.post("/history/delete", data={"csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    html = client.get("/history").get_data(as_text=True)
    assert "Deleted 1 entries" in html and "No questions yet" in html


def test_history_delete_requires_csrf(client, jwks):
    client.set_cookie("medtriage_token", jwks.key.token(sub="dave"))
    assert client.post("/history/delete").status_code == 400


def test_history_page_anonymous_or_bad_cookie(client, jwks):
    html = client.get("/history").get_data(as_text=True)
    assert "to see the questions you asked" in html and 'href="http://users.example/login"' in html
    client.set_cookie("medtriage_token", jwks.key.token(ttl=-100))
    assert "to see the questions you asked" in client.get("/history").get_data(as_text=True)


def test_api_does_not_accept_the_cookie(client, jwks):
    client.set_cookie("medtriage_token", jwks.key.token(sub="erin"))
    resp = client.post("/api/v1/triage", json={"question": "How is gout treated?"})
    assert resp.status_code == 401


def test_unknown_page_is_html_404(client):
    resp = client.get("/nope", headers={"Accept": "text/html"})
    assert resp.status_code == 404 and "text/html" in resp.headers["Content-Type"]


def test_security_headers(client):
    resp = client.get("/inference")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
