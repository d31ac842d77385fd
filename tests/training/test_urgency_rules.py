"""Urgency without TensorFlow: the rules floor, how rules and model combine, the wording."""

from __future__ import annotations

import numpy as np
import pytest

from medtriage.redflags import red_flags
from medtriage.urgency import CATEGORY_NAMES, HelpNumbers, UrgencyModel, assess, reason
from tests.urgency_cases import CASES, RULE_CASES
from training.urgency import categories_of, load_messages, pick_threshold

NUMBERS = HelpNumbers("112", "the poison line 0800 123", "the crisis line 116 123")
MODEL = UrgencyModel(0.5, sorted(CATEGORY_NAMES))


def one_hot(code: str) -> np.ndarray:
    v = np.zeros(len(MODEL.categories))
    v[MODEL.categories.index(code)] = 1.0
    return v


def test_every_category_of_the_data_has_a_message():
    assert categories_of(load_messages()) == sorted(CATEGORY_NAMES)


@pytest.mark.parametrize("code", sorted(CATEGORY_NAMES))
def test_reason_names_the_category_and_the_action(code):
    msg = reason(code, NUMBERS)["message"]
    assert msg.startswith(CATEGORY_NAMES[code])
    if code == "self_harm":
        assert "116 123" in msg and "112" in msg
    elif code == "poisoning_overdose":
        assert "0800 123" in msg and "112" in msg
    else:
        assert "112" in msg and "0800" not in msg


def test_default_numbers_assume_no_country():
    msg = " ".join(reason(c, HelpNumbers())["message"] for c in CATEGORY_NAMES)
    assert "911" not in msg and "999" not in msg and "988" not in msg
    assert "your local emergency number" in msg and "a local crisis line" in msg


def test_numbers_from_environment():
    env = {"EMERGENCY_NUMBER": "000", "POISON_HELP": "13 11 26", "CRISIS_LINE": "13 11 14"}
    assert HelpNumbers.from_env(env) == HelpNumbers("000", "13 11 26", "13 11 14")
    assert HelpNumbers.from_env({}) == HelpNumbers()


def test_model_flags_what_the_rules_miss_with_its_category():
    text = "my dad's words came out jumbled and his right hand went limp ten minutes ago"
    assert red_flags(text) == []
    out = assess(text, 0.9, one_hot("stroke"), MODEL, NUMBERS)
    assert out["urgent"] and [r["code"] for r in out["urgent_reasons"]] == ["stroke"]
    assert "emergency" in out["urgent_message"]
    assert not assess(text, 0.1, one_hot("stroke"), MODEL, NUMBERS)["urgent"]


def test_rules_are_a_floor_under_the_model():
    text = "I want to kill myself tonight"
    out = assess(text, 0.0, one_hot("burn"), MODEL, NUMBERS)
    assert out["urgent"] and out["urgent_reasons"][0]["code"] == "self_harm"
    assert "116 123" in out["urgent_reasons"][0]["message"]
    # No learned model (an older version): rules alone.
    assert assess(text, None, None, None, NUMBERS)["urgent"]


def test_reasons_are_empty_when_not_urgent():
    out = assess(
        "What are the treatments for glaucoma?", 0.01, one_hot("vision_loss"), MODEL, NUMBERS
    )
    assert out == {"urgent": False, "urgent_reasons": [], "urgent_message": None, "urgency": 0.01}


@pytest.mark.parametrize(
    "text",
    [
        "my mom had a stroke last year, how can she regain speech?",
        "what is anaphylaxis and is it same as allergy",
        "how many people die of suicide each year? writing an essay",
        "is it true you should cough hard if having a heart attack?",
        "I'm getting a bit breathless walking up hills, no chest pain",
    ],
)
def test_rules_do_not_fire_on_past_events_definitions_or_statistics(text):
    assert red_flags(text) == []


@pytest.mark.parametrize("code", sorted(CATEGORY_NAMES))
def test_rules_floor_covers_every_category(code):
    assert code in red_flags(RULE_CASES[code])


@pytest.mark.parametrize("code", sorted(CATEGORY_NAMES))
def test_rules_never_flag_the_non_urgent_cases(code):
    assert red_flags(CASES[code][1]) == []


@pytest.mark.parametrize(
    "text", ["", "   ", "😀😀😀", "\x00\x07\x1b[31m\u202e", "a" * 2000, "help " * 400, "\ud800x"]
)
def test_odd_input_never_crashes(text):
    assert isinstance(red_flags(text), list)
    out = assess(text, 0.2, one_hot("burn"), MODEL, NUMBERS)
    assert out["urgent"] in (True, False)


@pytest.mark.parametrize("text", ["", "😀😀😀", "\x00\x07 !!! 123"])
def test_no_words_no_model_alarm(text):
    assert not assess(text, 0.99, one_hot("burn"), MODEL, NUMBERS)["urgent"]


def test_threshold_keeps_target_recall():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1, 0.05])
    y = np.array([1, 1, 1, 1, 0, 0, 0])
    t = pick_threshold(p, y, 1.0, false_alarm_budget=0.0)
    assert 0.2 < t <= 0.6 and (p[y == 1] >= t).all()


def test_threshold_spends_false_alarm_budget_on_recall():
    p = np.array([0.9, 0.8, 0.5, 0.3] + [0.7] + [0.1] * 9)
    y = np.array([1, 1, 1, 1] + [0] * 10)
    # Recall 0.75 alone would allow 0.5; a budget of one alarm in ten goes down to 0.3.
    assert 0.3 < pick_threshold(p, y, 0.75, false_alarm_budget=0.0) <= 0.5
    t = pick_threshold(p, y, 0.75, false_alarm_budget=0.1)
    assert 0.1 < t <= 0.3 and ((p >= t) & (y == 0)).sum() == 1


def test_threshold_keeps_recall_over_budget():
    # Reaching the recall target costs more alarms than the budget: recall wins.
    p = np.array([0.9, 0.2, 0.8, 0.7, 0.6, 0.1])
    y = np.array([1, 1, 0, 0, 0, 0])
    t = pick_threshold(p, y, 1.0, false_alarm_budget=0.0)
    assert t <= 0.2 and (p[y == 1] >= t).all()
