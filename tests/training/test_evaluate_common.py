"""The focus comparison every answer-quality figure rests on."""

from __future__ import annotations

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
