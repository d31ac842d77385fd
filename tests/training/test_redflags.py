import pandas as pd
import pytest

from medtriage.redflags import is_urgent, red_flags
from training.evaluate import REDFLAG_CASES, redflag_scores


def test_labelled_set_recall_high_and_precision_complete():
    # Rules are now the high-precision floor; the learned model catches the rest.
    scores = redflag_scores()
    assert scores["n"] == len(pd.read_csv(REDFLAG_CASES)) and scores["n_urgent"] >= 40
    assert scores["recall"] >= 0.95
    assert scores["precision"] == 1.0


def test_rules_miss_only_the_vague_case():
    cases = pd.read_csv(REDFLAG_CASES)
    missed = [
        q for q, u in zip(cases.question, cases.urgent, strict=True) if u and not is_urgent(q)
    ]
    assert missed == ["Pain in my chest when I climb stairs, is it my heart?"]


def test_reasons_name_the_rule():
    assert red_flags("I want to kill myself") == ["self_harm"]
    assert "heart_attack" in red_flags("crushing chest pain spreading to my left arm")
    assert red_flags("What are the treatments for glaucoma?") == []


def test_typographic_apostrophes_are_normalised():
    assert is_urgent("I can’t breathe")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("my 5 week old has 38.4 on the ear thermometer, feeding ok", "infant_fever"),
        ("baby is 9 weeks, temperature 38 exactly, can this wait for monday?", "infant_fever"),
        ("Our son is 18 days old. Temp 38.0 rectal. Born at 37 weeks.", "infant_fever"),
        ("temp of 100.8 F in my 6-week-old", "infant_fever"),
        ("2 hrs ago i swallowed 30 paracetamol, feel fine", "poisoning_overdose"),
        ("she took a whole packet of ibuprofen", "poisoning_overdose"),
        ("32 weeks pregnant, tightenings every 5 minutes and getting stronger", "pregnancy"),
        ("lots of new floaters in my right eye and flashes of light since today", "vision_loss"),
    ],
)
def test_rules_for_numbers_and_ages(text, code):
    assert code in red_flags(text)


@pytest.mark.parametrize(
    "text",
    [
        "my 6 week old feels warm but thermometer says 37.2",
        "2 year old fever 38.5 with a cold, drinking fine",
        "baby born at 38 weeks, now 2 weeks old, feeding well",
        "my 3 week old had a fever last week, all tests were negative",
        "had a fever of 38 for 2 weeks, I'm 40 years old",
        "I took 2 paracetamol for my headache",
        "I've had the same few floaters for years, no flashes",
    ],
)
def test_number_rules_leave_mild_and_older_cases_to_the_model(text):
    assert red_flags(text) == []
