"""End to end: rate answers of the real (small) model through the API, report and export the
ratings with `python -m training feedback`, and train with them (`train --feedback`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from medtriage.store import fetch_version, open_store
from testkit.net import wait_for
from tests.conftest import REPO, TEST_LIMIT
from training.feedback import load_feedback_pairs

pytestmark = pytest.mark.slow


def run_training(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def test_rate_report_export_and_train_with_feedback(make_app, trained_store, jwks, tmp_path):
    db = f"sqlite:///{tmp_path}/inference.db"
    app = make_app(
        INFERENCE_DATABASE_URL=db,
        MODEL_SOURCE=None,
        ARTIFACT_STORE=trained_store,
        MODEL_CACHE_DIR=str(tmp_path / "models"),
        MODEL_POLL_SECONDS=0,
    )
    assert wait_for(lambda: app.extensions["model"].ready, timeout=300, interval=0.5)
    client = app.test_client()
    alice = {"Authorization": f"Bearer {jwks.key.token(sub='alice')}"}
    bob = {"Authorization": f"Bearer {jwks.key.token(sub='bob')}"}
    rated: list[tuple[str, str, bool]] = []
    version = None
    for headers, question, marks in [
        (alice, "What are the treatments for glaucoma?", [True, False]),
        (bob, "What are the symptoms of asthma?", [False, False, True]),
    ]:
        body = client.post(
            "/api/v1/triage", json={"question": question, "top_k": 3}, headers=headers
        ).get_json()
        version = body["model_version"]
        assert body["history_id"] is not None and len(body["answers"]) >= len(marks), body
        for answer, helpful in zip(body["answers"], marks, strict=False):
            resp = client.post(
                f"/api/v1/answers/{body['history_id']}/{answer['id']}/feedback",
                json={"helpful": helpful, "reason": None if helpful else "wrong_topic"},
                headers=headers,
            )
            assert resp.status_code == 201, resp.get_json()
            rated.append((question, answer["id"], helpful))
    # A changed rating counts once, with its latest value.
    q, aid, _ = rated[0]
    hid = client.get("/api/v1/history", headers=alice).get_json()["items"][0]["id"]
    resp = client.post(
        f"/api/v1/answers/{hid}/{aid}/feedback",
        json={"helpful": False, "reason": "too_technical"},
        headers=alice,
    )
    assert resp.status_code == 200
    rated[0] = (q, aid, False)
    app.extensions["history"].engine.dispose()

    # The report: per version, answers rated and the helpful share; the most unhelpful answers.
    out = run_training("feedback", "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    helpful = sum(h for _, _, h in rated)
    assert summary["versions"] == {
        version: {
            "rated": len(rated),
            "helpful": helpful,
            "helpful_share": round(helpful / len(rated), 4),
        }
    }
    unhelpful = {a for _, a, h in rated if not h}
    assert {a["answer_id"] for a in summary["most_unhelpful"]} == unhelpful
    text = run_training("feedback", "--db", db)
    assert (
        text.returncode == 0
        and version in text.stdout
        and "most often rated unhelpful" in text.stdout
    )

    # The export, JSONL and CSV, read back as the same labelled pairs.
    for name in ("pairs.jsonl", "pairs.csv"):
        path = tmp_path / name
        out = run_training("feedback", "--db", db, "--export", str(path))
        assert out.returncode == 0, out.stderr
        assert load_feedback_pairs(path) == rated

    # Train on the same small sample with the pairs: the report says how many were used.
    store = f"file://{tmp_path / 'store'}"
    out = run_training(
        "train", "--store", store, "--limit", str(TEST_LIMIT), "--epochs", "1",
        "--feedback", str(tmp_path / "pairs.jsonl"),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    model_dir = fetch_version(open_store(store), "latest", tmp_path / "fetched")
    report = json.loads((model_dir / "metrics.json").read_text())
    assert report["feedback_pairs_loaded"] == len(rated)
    assert report["feedback_pairs_used"] == len(rated)  # the same sample: every answer is in it


def test_feedback_command_errors(tmp_path):
    out = run_training("feedback", "--db", f"sqlite:///{tmp_path}/empty.db")
    assert out.returncode == 2 and "no answer_feedback table" in out.stderr
    out = run_training(
        "train", "--store", f"file://{tmp_path}/s", "--feedback", str(tmp_path / "missing.jsonl")
    )
    assert out.returncode == 2 and "does not exist" in out.stderr
