"""The inference service's Alembic migrations, on SQLite and PostgreSQL.

Databases made before migrations existed (the history table from `create_all`, no version
table) are stamped at the baseline and upgraded with their rows kept; new ones are built from
the migrations; the schema the migrations build is the one the models describe.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.db import make_engine
from inference_service.history import VERSION_TABLE, Base, alembic_config, migrate
from testkit.net import wait_for
from tests.pgserver import postgres_or_skip

# The history table exactly as the old `Base.metadata.create_all` made it.
_LEGACY = sa.MetaData()
sa.Table(
    "inference_history",
    _LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("category", sa.String(64), nullable=True),
    sa.Column("urgent", sa.Boolean, nullable=False),
    sa.Column("abstained", sa.Boolean, nullable=False),
    sa.Column("answer_ids", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    with postgres_or_skip(tmp_path_factory.mktemp("pg")) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/inference.db"
    return request.getfixturevalue("pg").create_database(f"mig_{tmp_path.name[-12:]}".lower())


def _legacy_database(url: str) -> None:
    engine = make_engine(url)
    _LEGACY.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            _LEGACY.tables["inference_history"].insert(),
            {
                "user_id": "alice",
                "question": "How is asthma treated?",
                "category": "treatment",
                "urgent": False,
                "abstained": False,
                "answer_ids": '["GHR_0000000_Sec1", "GHR_0000001_Sec1"]',
                "model_version": "v1",
                "latency_ms": 3.0,
                "created_at": datetime.now(UTC),
            },
        )
    engine.dispose()


def _schema_diff(engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return compare_metadata(ctx, Base.metadata)


def test_fresh_database_matches_the_models(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    assert _schema_diff(engine) == []
    with engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")) == "0002"
    engine.dispose()


def test_downgrade_and_upgrade_again(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert not sa.inspect(engine).has_table("answer_feedback")
    migrate(engine)
    assert _schema_diff(engine) == []
    engine.dispose()


def test_database_made_by_create_all_is_upgraded_and_keeps_its_rows(db_url, make_app, jwks):
    _legacy_database(db_url)
    app = make_app(INFERENCE_DATABASE_URL=db_url)
    assert wait_for(lambda: app.extensions["model"].ready)
    engine = app.extensions["history"].engine
    assert _schema_diff(engine) == []
    client = app.test_client()
    alice = {"Authorization": f"Bearer {jwks.key.token(sub='alice')}"}
    item = client.get("/api/v1/history", headers=alice).get_json()["items"][0]
    assert item["question"] == "How is asthma treated?" and item["feedback"] == {}
    # The old entry's answers can be rated now.
    resp = client.post(
        f"/api/v1/answers/{item['id']}/GHR_0000001_Sec1/feedback",
        json={"helpful": False, "reason": "wrong_topic"},
        headers=alice,
    )
    assert resp.status_code == 201
    assert client.delete("/api/v1/history", headers=alice).get_json() == {"deleted": 1}
