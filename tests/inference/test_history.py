"""History: stored per user, visible and deletable only by its owner, purged after retention."""

from __future__ import annotations

import io
import logging
import shutil
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from common.logs import JsonFormatter
from inference_service.history import HistoryEntry


def ask(client, token, question="How is asthma treated?", top_k=2):
    return client.post(
        "/api/v1/triage",
        json={"question": question, "top_k": top_k},
        headers={"Authorization": f"Bearer {token}"},
    )


def history(client, token, **params):
    return client.get(
        "/api/v1/history", query_string=params, headers={"Authorization": f"Bearer {token}"}
    )


def test_answered_questions_are_stored_for_their_owner(client, jwks):
    alice, bob = jwks.key.token(sub="alice"), jwks.key.token(sub="bob")
    assert ask(client, alice, "How is asthma treated?").status_code == 200
    assert ask(client, alice, "I have chest pain and cannot breathe").status_code == 200
    assert ask(client, bob, "What causes gout?").status_code == 200

    body = history(client, alice).get_json()
    assert body["total"] == 2 and body["retention_days"] == 30
    newest, oldest = body["items"]
    assert newest["question"] == "I have chest pain and cannot breathe" and newest["urgent"]
    assert oldest["question"] == "How is asthma treated?"
    assert oldest["category"] == "treatment"
    assert oldest["answer_ids"] == ["GHR_0000000_Sec1", "GHR_0000001_Sec1"]
    assert oldest["model_version"] == "v1"
    assert oldest["latency_ms"] >= 0 and oldest["created_at"].endswith("Z")

    bob_items = history(client, bob).get_json()["items"]
    assert [i["question"] for i in bob_items] == ["What causes gout?"]


def test_pagination(client, jwks):
    token = jwks.key.token(sub="pager")
    for i in range(5):
        ask(client, token, f"question number {i}")
    body = history(client, token, limit=2, offset=1).get_json()
    assert body["total"] == 5
    assert [i["question"] for i in body["items"]] == ["question number 3", "question number 2"]
    assert history(client, token, limit=0).status_code == 400
    assert history(client, token, limit="x").status_code == 400
    assert history(client, token, offset=-1).status_code == 400


def test_delete_removes_only_the_callers_history(client, jwks):
    alice, bob = jwks.key.token(sub="alice"), jwks.key.token(sub="bob")
    ask(client, alice)
    ask(client, alice)
    ask(client, bob)
    resp = client.delete("/api/v1/history", headers={"Authorization": f"Bearer {alice}"})
    assert resp.status_code == 200 and resp.get_json() == {"deleted": 2}
    assert history(client, alice).get_json()["items"] == []
    assert history(client, bob).get_json()["total"] == 1


def test_history_requires_a_token(client):
    assert client.get("/api/v1/history").status_code == 401
    assert client.delete("/api/v1/history").status_code == 401


def test_retention_hides_and_purges_old_entries(app, client, jwks):
    token = jwks.key.token(sub="old")
    ask(client, token, "an old question")
    ask(client, token, "a new question")
    store = app.extensions["history"]
    with sa.orm.Session(store.engine) as session, session.begin():
        entry = session.scalars(
            sa.select(HistoryEntry).where(HistoryEntry.question == "an old question")
        ).one()
        entry.created_at = datetime.now(UTC) - timedelta(days=31)
    # Past retention: not shown even before the purge runs...
    assert [i["question"] for i in history(client, token).get_json()["items"]] == ["a new question"]
    # ...and deleted by it.
    assert store.purge() == 1
    with sa.orm.Session(store.engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry)) == 1


def test_retention_is_configurable(make_app, jwks):
    from testkit.net import wait_for

    app = make_app(HISTORY_RETENTION_DAYS=0)
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    token = jwks.key.token(sub="ephemeral")
    ask(client, token)
    assert history(client, token).get_json()["items"] == []
    assert app.extensions["history"].purge() == 1


def test_question_text_never_logged(client, jwks):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        token = jwks.key.token(sub="private")
        ask(client, token, "my embarrassing rash zebra-unicorn")
        ask(client, token, "please explode zebra-unicorn")  # the pipeline fails: 500
        history(client, token)
        client.delete("/api/v1/history", headers={"Authorization": f"Bearer {token}"})
    finally:
        logging.getLogger().removeHandler(handler)
    logged = buffer.getvalue()
    assert "zebra-unicorn" not in logged
    assert "/api/v1/triage" in logged  # the access log itself is there


def test_database_down_then_recovers(make_app, jwks, tmp_path):
    """A DB that cannot be opened gives 503 JSON; once it is back, no restart is needed."""
    from testkit.net import wait_for

    db_dir = tmp_path / "later"
    app = make_app(INFERENCE_DATABASE_URL=f"sqlite:///{db_dir}/h.db")
    shutil.rmtree(db_dir)  # gone, and the pooled connections dropped: sqlite cannot open it
    app.extensions["history"].engine.dispose()
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    token = jwks.key.token(sub="dbdown")
    resp = history(client, token)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "db_unavailable"
    # Triage still answers; it says the history was not saved.
    body = ask(client, token).get_json()
    assert body["history_saved"] is False and body["answers"]
    db_dir.mkdir()
    assert history(client, token).status_code == 200
    assert ask(client, token).get_json()["history_saved"] is True
    assert history(client, token).get_json()["total"] == 1
