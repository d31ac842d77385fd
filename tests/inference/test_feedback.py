"""Ratings of answers: record, change, withdraw; only one's own; errors; deletion; metrics; pages."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from inference_service.history import Feedback, HistoryEntry
from testkit.net import wait_for

ANSWERS = ["GHR_0000000_Sec1", "GHR_0000001_Sec1", "GHR_0000002_Sec1"]


def bearer(jwks, sub: str) -> dict:
    return {"Authorization": f"Bearer {jwks.key.token(sub=sub)}"}


def ask(client, headers, question="How is asthma treated?") -> dict:
    resp = client.post("/api/v1/triage", json={"question": question}, headers=headers)
    assert resp.status_code == 200
    return resp.get_json()


def url(history_id, answer_id) -> str:
    return f"/api/v1/answers/{history_id}/{answer_id}/feedback"


def rate(client, headers, history_id, answer_id, **body):
    return client.post(url(history_id, answer_id), json=body, headers=headers)


def test_rate_change_withdraw_and_see_it_in_the_history(client, jwks):
    alice = bearer(jwks, "alice")
    result = ask(client, alice)
    hid = result["history_id"]
    assert isinstance(hid, int) and result["history_saved"] is True

    first = rate(client, alice, hid, ANSWERS[1], helpful=False, reason="too_technical")
    assert first.status_code == 201
    body = first.get_json()
    assert body["history_id"] == hid and body["answer_id"] == ANSWERS[1]
    assert body["helpful"] is False and body["reason"] == "too_technical"
    assert body["model_version"] == "v1" and body["updated_at"].endswith("Z")

    changed = rate(client, alice, hid, ANSWERS[1], helpful=True)
    assert changed.status_code == 200
    assert changed.get_json()["helpful"] is True and changed.get_json()["reason"] is None
    assert rate(client, alice, hid, ANSWERS[0], helpful=True).status_code == 201

    item = client.get("/api/v1/history", headers=alice).get_json()["items"][0]
    assert set(item["feedback"]) == {ANSWERS[0], ANSWERS[1]}
    assert item["feedback"][ANSWERS[1]]["helpful"] is True

    gone = client.delete(url(hid, ANSWERS[1]), headers=alice)
    assert gone.status_code == 200 and gone.get_json() == {"withdrawn": True}
    again = client.delete(url(hid, ANSWERS[1]), headers=alice)
    assert again.status_code == 200 and again.get_json() == {"withdrawn": False}
    item = client.get("/api/v1/history", headers=alice).get_json()["items"][0]
    assert set(item["feedback"]) == {ANSWERS[0]}


def test_stored_with_version_focus_category_and_no_question_text(app, client, jwks):
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    assert (
        rate(client, alice, hid, ANSWERS[2], helpful=False, reason="wrong_topic").status_code == 201
    )
    store = app.extensions["history"]
    with sa.orm.Session(store.engine) as session:
        row = session.scalars(sa.select(Feedback)).one()
        assert (row.history_id, row.user_id, row.answer_id, row.rank) == (
            hid,
            "alice",
            ANSWERS[2],
            3,
        )
        assert (row.model_version, row.category, row.focus) == ("v1", "treatment", "Thing")
        assert session.get(HistoryEntry, hid).focus == "Thing"
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("answer_feedback")}
    assert "question" not in columns


def test_someone_elses_or_unknown_ids_are_404(client, jwks):
    alice, bob = bearer(jwks, "alice"), bearer(jwks, "bob")
    hid = ask(client, alice)["history_id"]
    for headers, history_id, answer_id in [
        (bob, hid, ANSWERS[0]),  # not bob's entry: 404, as if it did not exist
        (alice, hid + 1000, ANSWERS[0]),
        (alice, 2**40, ANSWERS[0]),
        (alice, hid, "GHR_9999999_Sec9"),  # not one of this entry's answers
    ]:
        resp = rate(client, headers, history_id, answer_id, helpful=True)
        assert resp.status_code == 404, (history_id, answer_id)
        assert resp.get_json()["error"]["code"] == "not_found"
        assert client.delete(url(history_id, answer_id), headers=headers).status_code == 404
    resp = client.post("/api/v1/answers/abc/x/feedback", json={"helpful": True}, headers=alice)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    # bob's 404 changed nothing of alice's
    assert client.get("/api/v1/history", headers=alice).get_json()["items"][0]["feedback"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"helpful": "yes"},
        {"helpful": 1},
        {"helpful": True, "reason": "boring"},
        {"helpful": True, "comment": "free text"},
    ],
)
def test_malformed_bodies_are_400(client, jwks, body):
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    resp = rate(client, alice, hid, ANSWERS[0], **body)
    assert resp.status_code == 400
    assert set(resp.get_json()["error"]) == {"code", "message"}


def test_not_json_too_large_and_no_token(client, jwks):
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    resp = client.post(url(hid, ANSWERS[0]), data="helpful=1", headers=alice)
    assert resp.status_code == 415 and resp.get_json()["error"]["code"] == "unsupported_media_type"
    big = '{"helpful": true, "reason": "' + "x" * 17000 + '"}'
    resp = client.post(
        url(hid, ANSWERS[0]), data=big, content_type="application/json", headers=alice
    )
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    resp = client.post(url(hid, ANSWERS[0]), json={"helpful": True})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert client.delete(url(hid, ANSWERS[0])).status_code == 401


def test_rate_limited_per_person_with_retry_after(make_app, jwks):
    app = make_app(FEEDBACK_RATE_LIMIT=3, FEEDBACK_RATE_WINDOW_SECONDS=600)
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    alice, bob = bearer(jwks, "alice"), bearer(jwks, "bob")
    hid = ask(client, alice)["history_id"]
    assert rate(client, alice, hid, ANSWERS[0], helpful=True).status_code == 201
    assert rate(client, alice, hid, ANSWERS[0], helpful=False).status_code == 200
    assert client.delete(url(hid, ANSWERS[0]), headers=alice).status_code == 200
    resp = rate(client, alice, hid, ANSWERS[1], helpful=True)
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 600
    assert client.get("/api/v1/history", headers=alice).get_json()["items"][0]["feedback"] == {}
    # Another person is not limited by alice's ratings.
    bob_hid = ask(client, bob)["history_id"]
    assert rate(client, bob, bob_hid, ANSWERS[0], helpful=True).status_code == 201


def test_ratings_go_with_their_history(app, client, jwks):
    alice, bob = bearer(jwks, "alice"), bearer(jwks, "bob")
    a1, a2 = ask(client, alice)["history_id"], ask(client, alice)["history_id"]
    b1 = ask(client, bob)["history_id"]
    for hid, headers in ((a1, alice), (a2, alice), (b1, bob)):
        assert rate(client, headers, hid, ANSWERS[0], helpful=True).status_code == 201
    store = app.extensions["history"]

    def ratings() -> list[tuple[str, int]]:
        with sa.orm.Session(store.engine) as session:
            return sorted(session.execute(sa.select(Feedback.user_id, Feedback.history_id)).all())

    # DELETE /api/v1/history (also what the user service calls when an account is deleted).
    assert client.delete("/api/v1/history", headers=alice).get_json() == {"deleted": 2}
    assert ratings() == [("bob", b1)]
    # Past retention, the purge takes the entry and its ratings.
    from datetime import UTC, datetime, timedelta

    assert store.purge(now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert ratings() == []


def test_past_retention_cannot_be_rated(make_app, jwks):
    app = make_app(HISTORY_RETENTION_DAYS=0)
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    assert rate(client, alice, hid, ANSWERS[0], helpful=True).status_code == 404


def test_ratings_counted_by_version_and_helpfulness(client, jwks):
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    rate(client, alice, hid, ANSWERS[0], helpful=True)
    rate(client, alice, hid, ANSWERS[1], helpful=False)
    rate(client, alice, hid, ANSWERS[1], helpful=False, reason="other")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'medtriage_answer_ratings_total{helpful="true",model_version="v1"} 1.0' in text
    assert 'medtriage_answer_ratings_total{helpful="false",model_version="v1"} 2.0' in text


# --- The pages: forms without JavaScript, CSRF-protected -------------------------------------

_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token"
    return match.group(1)


def test_rate_change_withdraw_through_the_pages(client, jwks):
    client.set_cookie("medtriage_token", jwks.key.token(sub="carol"))
    html = client.get("/inference").get_data(as_text=True)
    html = client.post(
        "/inference", data={"csrf_token": _csrf(html), "question": "How is asthma treated?"}
    ).get_data(as_text=True)
    forms = re.findall(r'action="/answers/(\d+)/([^/"]+)/feedback"', html)
    assert [f[1] for f in forms] == ANSWERS
    hid = int(forms[0][0])
    assert "<legend>Did answer 1 (GHR_0000000_Sec1) help?</legend>" in html
    assert f'<label for="rate-{hid}-1-yes">Helpful</label>' in html
    token = _csrf(html)

    # Without the CSRF token: refused, nothing stored.
    resp = client.post(f"/answers/{hid}/{ANSWERS[0]}/feedback", data={"helpful": "yes"})
    assert resp.status_code == 400
    resp = client.post(
        f"/answers/{hid}/{ANSWERS[0]}/feedback",
        data={"csrf_token": token, "helpful": "no", "reason": "out_of_date"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/history#entry-{hid}")
    page = client.get("/history").get_data(as_text=True)
    assert "rated not helpful" in page
    assert "Your rating: <strong>not helpful</strong> (out of date)" in page
    assert "Withdraw rating" in page and "Change rating" in page

    # Change it, then withdraw it.
    client.post(
        f"/answers/{hid}/{ANSWERS[0]}/feedback", data={"csrf_token": token, "helpful": "yes"}
    )
    page = client.get("/history").get_data(as_text=True)
    assert "Your rating: <strong>helpful</strong>" in page
    resp = client.post(f"/answers/{hid}/{ANSWERS[0]}/feedback/withdraw", data={"csrf_token": token})
    assert resp.status_code == 302
    page = client.get("/history").get_data(as_text=True)
    assert "is withdrawn" in page and "Your rating:" not in page

    # No choice made: said so, nothing stored.
    client.post(f"/answers/{hid}/{ANSWERS[1]}/feedback", data={"csrf_token": token})
    page = client.get("/history").get_data(as_text=True)
    assert "before sending the rating" in page and "Your rating:" not in page


def test_pages_rate_only_own_entries(client, jwks):
    alice = bearer(jwks, "alice")
    hid = ask(client, alice)["history_id"]
    client.set_cookie("medtriage_token", jwks.key.token(sub="mallory"))
    token = _csrf(client.get("/inference").get_data(as_text=True))
    resp = client.post(
        f"/answers/{hid}/{ANSWERS[0]}/feedback", data={"csrf_token": token, "helpful": "yes"}
    )
    assert resp.status_code == 404
    assert client.get("/api/v1/history", headers=alice).get_json()["items"][0]["feedback"] == {}


def test_anonymous_result_page_has_no_rating_forms(client):
    html = client.get("/inference").get_data(as_text=True)
    html = client.post(
        "/inference", data={"csrf_token": _csrf(html), "question": "How is asthma treated?"}
    ).get_data(as_text=True)
    assert "Did answer 1" not in html and "/feedback" not in html


def test_feedback_responses_validate_against_the_spec(client, jwks):
    from tests.inference.test_openapi_metrics import _validate_response

    spec = client.get("/openapi.json").get_json()
    path = "/api/v1/answers/{history_id}/{answer_id}/feedback"
    assert {"post", "delete"} <= set(spec["paths"][path])
    alice = bearer(jwks, "alice")
    triage = client.post(
        "/api/v1/triage", json={"question": "How is asthma treated?"}, headers=alice
    )
    _validate_response(spec, "/api/v1/triage", "post", triage)
    hid = triage.get_json()["history_id"]
    cases = [
        ("post", rate(client, alice, hid, ANSWERS[0], helpful=True, reason=None)),
        ("post", rate(client, alice, hid, ANSWERS[0], helpful=False, reason="other")),
        ("post", rate(client, alice, hid, "nope", helpful=True)),
        ("post", rate(client, alice, hid, ANSWERS[0], helpful="no")),
        ("delete", client.delete(url(hid, ANSWERS[0]), headers=alice)),
        ("delete", client.delete(url(hid, ANSWERS[0]))),
    ]
    assert [c[1].status_code for c in cases] == [201, 200, 404, 400, 200, 401]
    for method, resp in cases:
        _validate_response(spec, path, method, resp)
    _validate_response(spec, "/api/v1/history", "get", client.get("/api/v1/history", headers=alice))
