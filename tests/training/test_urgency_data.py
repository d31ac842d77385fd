"""The urgency data set (`medtriage/data/urgency/messages.csv`): splits that keep paraphrases and
near-copies apart, and every category in every split."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from training.urgency import MESSAGES, OUTSIDE


@pytest.fixture(scope="module")
def messages() -> pd.DataFrame:
    return pd.read_csv(MESSAGES, keep_default_na=False, dtype={"urgent": int})


def test_a_scenario_group_stays_in_one_split(messages: pd.DataFrame) -> None:
    assert messages.groupby("group")["split"].nunique().max() == 1
    assert set(messages["split"]) == {"train", "val", "test"}


def test_every_category_has_urgent_and_other_rows_in_every_split(messages) -> None:
    cells = messages.groupby(["category", "urgent", "split"]).size()
    assert len(cells) == messages["category"].nunique() * 2 * 3
    assert cells.min() >= 3


def test_no_training_row_is_a_near_copy_of_a_test_row(messages: pd.DataFrame) -> None:
    words = [set(re.findall(r"\w+", t.lower())) for t in messages["text"]]
    test = [w for w, s in zip(words, messages["split"], strict=True) if s == "test"]
    rest = [w for w, s in zip(words, messages["split"], strict=True) if s != "test"]
    worst = max(len(a & b) / len(a | b) for a in test for b in rest)
    assert worst <= 0.5, f"word overlap {worst:.2f} between a test row and a training row"


def test_the_outside_set_is_labelled_and_copies_no_row_of_ours(messages: pd.DataFrame) -> None:
    outside = pd.read_csv(OUTSIDE, keep_default_na=False, dtype={"urgent": int})
    assert set(outside["urgent"]) == {0, 1} and set(outside["set"]) == {"a", "b"}
    assert set(outside["category"]) == set(messages["category"])
    ours = [set(re.findall(r"\w+", t.lower())) for t in messages["text"]]
    for text in outside["text"]:
        words = set(re.findall(r"\w+", text.lower()))
        worst = max(len(words & b) / len(words | b) for b in ours)
        assert worst <= 0.5, f"word overlap {worst:.2f} with one of our rows: {text[:60]}"
