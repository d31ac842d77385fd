"""The focus comparison every answer-quality figure rests on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.answer_eval import average_precision, relevant_ids
from training.evaluate_common import focus_match


def test_spellings_of_one_name_match() -> None:
    assert focus_match("Ewing sarcoma", ["ewing's sarcoma"])
    assert focus_match("Hirschsprung disease", ["hirschsprung's disease"])
    assert focus_match("Kidney Stones", ["kidney stone"])


def test_either_name_may_contain_the_other_as_whole_words() -> None:
    assert focus_match("Breast Cancer", ["cancer"])
    assert focus_match("Hepatitis", ["hepatitis b"])
    assert not focus_match("Measles", ["sle"])
    assert not focus_match("Platforms", ["ms"])


def test_empty_names_never_match() -> None:
    assert not focus_match("", ["diabetes"])
    assert not focus_match("Diabetes", ["", "glaucoma"])


def test_answerable_rank_metrics_count_as_trec_does() -> None:
    kb = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "focus": ["Glaucoma", "Glaucoma", "Glaucoma", "Asthma", "Glaucoma"],
            "category": ["treatment", "treatment", "symptoms", "treatment", "treatment"],
        }
    )
    link_list = np.array([False, False, False, False, True])  # "e" lists links: never relevant
    relevant = relevant_ids(kb, link_list)(["glaucoma"], ["treatment"])
    assert relevant == {"a", "b"}
    # Relevant at ranks 2 and 3 of two: (1/2 + 2/3) / 2.
    assert average_precision(["c", "a", "b", "d"], relevant) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert average_precision(["d", "c"], relevant) == 0.0
    assert average_precision(["a", "b"], relevant) == 1.0
