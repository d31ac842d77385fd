"""Emergencies as people write them, through the JSON API with the real small model trained by
the test fixtures (`trained_store`): urgent and non-urgent messages per category."""

from __future__ import annotations

import pytest

from testkit.net import wait_for
from tests.urgency_cases import CASES, RULE_CASES

# The small fixture model (900 MedQuAD rows) has fewer easy negatives than a full run: it must
# get most of CASES right; every rule case must flag whatever the model says.
MIN_CASES_RIGHT = 0.85


@pytest.fixture(scope="module")
def real_app(trained_store, tmp_path_factory, jwks):
    from inference_service import create_app

    tmp = tmp_path_factory.mktemp("urgency-api")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INFERENCE_DATABASE_URL": f"sqlite:///{tmp}/history.db",
            "USERS_SERVICE_URL": jwks.url,
            "USERS_PUBLIC_URL": "http://users.example",
            "ARTIFACT_STORE": trained_store,
            "MODEL_CACHE_DIR": str(tmp / "cache"),
            "MODEL_POLL_SECONDS": 0,
            "HISTORY_PURGE_SECONDS": 0,
            "EMERGENCY_NUMBER": "112",
            "POISON_HELP": "the poison line 0800 000",
            "CRISIS_LINE": "the crisis line 116 123",
        }
    )
    assert wait_for(lambda: app.extensions["model"].ready, timeout=300), "model did not load"
    yield app
    app.extensions["model"].stop()
    app.extensions["history"].engine.dispose()


def triage(app, jwks, question: str) -> dict:
    headers = {"Authorization": f"Bearer {jwks.key.token(sub='urgency')}"}
    resp = app.test_client().post("/api/v1/triage", json={"question": question}, headers=headers)
    assert resp.status_code == 200, resp.data
    return resp.get_json()


def test_rule_floor_flags_every_category_through_the_api(real_app, jwks):
    for code, text in RULE_CASES.items():
        body = triage(real_app, jwks, text)
        assert body["urgent"], text
        reasons = {r["code"]: r["message"] for r in body["urgent_reasons"]}
        assert code in reasons and "112" in reasons[code], (text, reasons)


def test_every_category_urgent_and_not_urgent_mostly_right(real_app, jwks):
    wrong = []
    for code, (urgent, calm) in CASES.items():
        body = triage(real_app, jwks, urgent)
        if not body["urgent"]:
            wrong.append(f"missed {code}: {urgent}")
        else:
            assert body["urgent_reasons"] and "emergency" in body["urgent_message"]
            for r in body["urgent_reasons"]:
                assert set(r) == {"code", "message"} and "112" in r["message"]
        body = triage(real_app, jwks, calm)
        if body["urgent"]:
            wrong.append(f"false alarm {code}: {calm} -> {body['urgent_reasons']}")
        else:
            assert body["urgent_reasons"] == [] and body["urgent_message"] is None
    right = 1 - len(wrong) / (2 * len(CASES))
    print(f"cases right: {right:.3f}", *wrong, sep="\n")
    assert right >= MIN_CASES_RIGHT, wrong


def test_reasons_carry_the_configured_numbers(real_app, jwks):
    body = triage(real_app, jwks, "I want to kill myself tonight, I have the rope ready")
    reasons = {r["code"]: r["message"] for r in body["urgent_reasons"]}
    assert "self_harm" in reasons and "116 123" in reasons["self_harm"]
    body = triage(real_app, jwks, "my toddler swallowed some of grandma's pills")
    reasons = {r["code"]: r["message"] for r in body["urgent_reasons"]}
    assert "0800 000" in reasons["poisoning_overdose"] and "112" in reasons["poisoning_overdose"]


@pytest.mark.parametrize(
    "question", ["😀😀😀", "\x07\x1b[31m help \u202e", "a" * 2000, "chest " * 333, "   ok?"]
)
def test_odd_input_never_crashes_the_check(real_app, jwks, question):
    body = triage(real_app, jwks, question)
    assert body["urgent"] in (True, False)
    assert (body["urgent_reasons"] == []) is (not body["urgent"])
