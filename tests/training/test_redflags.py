import pandas as pd

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
