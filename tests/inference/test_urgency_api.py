"""Emergencies as people write them, through the JSON API with the real small model trained by
the test fixtures (`trained_store`): one urgent and one non-urgent message per category.

The messages below were written for this test, not taken from `messages.csv`.
"""

from __future__ import annotations

import pytest

from testkit.net import wait_for

CASES = {
    "stroke": (
        "my grandad's mouth is hanging down on the left and he can't lift his left arm, started 15 min ago",
        "my grandad had a stroke three years ago, what exercises help with his weak left hand?",
    ),
    "heart_attack": (
        "my husband 58 has a heavy crushing pain in the middle of his chest going into his jaw, he is grey and sweating",
        "how long after cardiac rehab can my father start swimming again",
    ),
    "anaphylaxis": (
        "my son ate a cashew and now his lips and tongue are swelling and he is wheezing",
        "what is the difference between a food intolerance and a food allergy",
    ),
    "breathing": (
        "my 2 year old is breathing really fast, the skin between his ribs sucks in and he can't talk",
        "how do I clean my asthma spacer and how often should it be replaced",
    ),
    "bleeding": (
        "I have been throwing up what looks like coffee grounds and my poo is black and sticky, feel dizzy",
        "my poo went a bit red after eating beetroot yesterday, I feel totally fine",
    ),
    "poisoning_overdose": (
        "my friend swallowed about 40 paracetamol tablets an hour ago after a breakup",
        "what is the maximum dose of paracetamol per day for an adult",
    ),
    "self_harm": (
        "i have the pills lined up and i'm going to take them all tonight, i've written goodbye letters",
        "what are the suicide rates in young men compared to women, for a school essay",
    ),
    "seizure": (
        "my wife has been shaking and jerking on the floor for 7 minutes and isn't stopping",
        "can I drive if my epilepsy has been controlled for two years?",
    ),
    "head_injury": (
        "my son fell off his bike and hit his head, now he has been sick twice and is very sleepy and confused",
        "what is the best helmet for a kid learning to ride a bike",
    ),
    "meningitis_sepsis": (
        "my daughter has a high fever and purple spots that don't fade when I press a glass on them",
        "which vaccines protect against meningitis and when are they given",
    ),
    "infant_fever": (
        "my baby is 5 weeks old and his temperature is 38.4, he is feeding less",
        "my 3 year old has a temperature of 38 with a cold but is playing normally, how much calpol can she have",
    ),
    "pregnancy": (
        "I'm 30 weeks pregnant with a terrible headache, flashing lights in my eyes and my face and hands swelled up today",
        "is it safe to eat soft cheese while pregnant",
    ),
    "diabetic": (
        "my type 1 daughter's sugar is 28, she keeps vomiting, breathing deeply and her breath smells like pear drops",
        "what is a good HbA1c target for someone with type 2 diabetes",
    ),
    "vision_loss": (
        "a dark curtain came down over the vision in my right eye an hour ago and I can't see from it",
        "I have had the same few floaters in my eyes for 10 years, is that normal",
    ),
    "testicular": (
        "my 14 year old woke up with sudden agonising pain in one testicle and has vomited",
        "how often should men check their testicles for lumps",
    ),
    "chemical_eye": (
        "drain cleaner splashed in my eye five minutes ago and it burns, I can barely open it",
        "what safety glasses should I wear when using bleach for cleaning",
    ),
    "bite": (
        "I was bitten by a snake on my ankle while hiking, the leg is swelling fast and I feel sick",
        "how do I remove a tick from my dog safely",
    ),
    "burn": (
        "my toddler pulled a kettle of boiling water onto herself, her chest and arm are blistering badly",
        "what should I put on a small burn from touching the oven tray",
    ),
    "choking": (
        "my dad is choking on a piece of steak, he can't speak or cough and is going red",
        "how do I learn back blows for a baby before ours is born",
    ),
    "unconscious": (
        "I found my neighbour on the floor, she won't respond when I shout or shake her",
        "what is the recovery position and when should it be used",
    ),
}


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


def test_every_category_urgent_and_not_urgent_come_out_right(real_app, jwks):
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
    assert wrong == []


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
