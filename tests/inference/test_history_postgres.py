"""History on PostgreSQL (production's database): store, isolate, and survive an outage."""

from __future__ import annotations

import pytest

from testkit.net import wait_for
from tests.pgserver import postgres_or_skip


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    with postgres_or_skip(tmp_path_factory.mktemp("pg")) as server:
        yield server


def test_history_on_postgres_with_outage(make_app, pg, jwks):
    app = make_app(INFERENCE_DATABASE_URL=pg.create_database("inference_hist"))
    assert wait_for(lambda: app.extensions["model"].ready)
    client = app.test_client()
    alice = {"Authorization": f"Bearer {jwks.key.token(sub='alice')}"}
    bob = {"Authorization": f"Bearer {jwks.key.token(sub='bob')}"}

    def ask(headers):
        return client.post(
            "/api/v1/triage", json={"question": "How is asthma treated?"}, headers=headers
        ).get_json()

    assert ask(alice)["history_saved"] is True
    assert ask(bob)["history_saved"] is True
    body = client.get("/api/v1/history", headers=alice).get_json()
    assert body["total"] == 1 and body["items"][0]["answer_ids"] == [
        "GHR_0000000_Sec1",
        "GHR_0000001_Sec1",
        "GHR_0000002_Sec1",
    ]

    pg.stop()
    try:
        resp = client.get("/api/v1/history", headers=alice)
        assert resp.status_code == 503
        assert resp.get_json()["error"]["code"] == "db_unavailable"
        assert client.delete("/api/v1/history", headers=alice).status_code == 503
        assert ask(alice)["history_saved"] is False  # still answered
    finally:
        pg.start()
    # Back without a restart: pool_pre_ping replaces the dead connections.
    assert wait_for(
        lambda: client.get("/api/v1/history", headers=alice).status_code == 200,
        timeout=20,
        interval=0.5,
    )
    assert client.delete("/api/v1/history", headers=alice).get_json() == {"deleted": 1}
    assert client.get("/api/v1/history", headers=bob).get_json()["total"] == 1
