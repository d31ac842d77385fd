"""Feedback pairs: the export's formats read back, bad files rejected, the report's arithmetic."""

from __future__ import annotations

import pytest

from training.feedback import export, load_feedback_pairs, summarize


def rating(question, answer_id, helpful, version="v1", reason=None):
    return {
        "question": question,
        "answer_id": answer_id,
        "helpful": helpful,
        "reason": reason,
        "model_version": version,
        "category": "treatment",
        "focus": "Asthma",
        "rank": 1,
        "rated_at": "2026-12-01T00:00:00Z",
    }


RATINGS = [
    rating('How is asthma treated, "really"?\nline two', "A1", True),
    rating("How is asthma treated?", "A2", False, reason="wrong_topic"),
    rating("What causes gout?", "A2", False, version="v2", reason="too_technical"),
    rating("What causes gout?", "A3", False, version="v2"),
    rating("What causes gout, again?", "A3", True, version="v2"),
]


@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.csv", "pairs.CSV"])
def test_export_reads_back_as_pairs(tmp_path, name):
    path = tmp_path / "out" / name
    assert export(RATINGS, path) == len(RATINGS)
    assert load_feedback_pairs(path) == [
        (r["question"], r["answer_id"], r["helpful"]) for r in RATINGS
    ]
    assert not list(path.parent.glob("*.tmp"))


def test_summary_per_version_and_most_unhelpful():
    summary = summarize(RATINGS, top=1)
    assert summary["ratings"] == 5
    assert summary["versions"] == {
        "v1": {"rated": 2, "helpful": 1, "helpful_share": 0.5},
        "v2": {"rated": 3, "helpful": 1, "helpful_share": 0.3333},
    }
    assert summary["most_unhelpful"] == [
        {
            "answer_id": "A2",
            "unhelpful": 2,
            "rated": 2,
            "reasons": {"wrong_topic": 1, "too_technical": 1},
        }
    ]
    assert [a["answer_id"] for a in summarize(RATINGS)["most_unhelpful"]] == ["A2", "A3"]
    assert summarize(RATINGS)["most_unhelpful"][1]["reasons"] == {"none given": 1}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"question": "q", "answer_id": "A1"}\n', "missing field"),
        ('{"question": "q", "answer_id": "A1", "helpful": "maybe"}\n', "true or false"),
        ("[1, 2]\n", "not a JSON object"),
        ("not json\n", "not a JSON object"),
        ('{"question": " ", "answer_id": "A1", "helpful": true}\n', "must not be empty"),
    ],
)
def test_bad_files_say_where(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_feedback_pairs(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_feedback_pairs(tmp_path / "nope.jsonl")


def test_feedback_pairs_join_the_rerankers_training_pairs():
    import numpy as np
    import pandas as pd

    from training.reranker import FEEDBACK_WEIGHT, ExtraPairs, Kb, feedback_rows, with_extra_pairs

    df = pd.DataFrame(
        {
            "id": ["A1", "A2", "A3"],
            "focus_key": ["gout", "gout", "asthma"],
            "category": ["treatment", "causes", "treatment"],
        }
    )
    rng = np.random.default_rng(0)
    q, qa = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    kb = Kb(df, q, qa)
    pairs = [("how to treat gout", "A1", True), ("gout?", "ZZZ", False), ("asthma", "A3", False)]
    questions, rows, labels = feedback_rows(pairs, kb)
    assert questions == ["how to treat gout", "asthma"]  # ZZZ is not in this knowledge base
    assert rows.tolist() == [0, 2] and labels.tolist() == [1.0, 0.0]

    extra = ExtraPairs(rng.normal(size=(2, 4)).astype(np.float32), rows, labels)
    x = [np.zeros((5, 4), np.float32)] * 3
    y, weight = np.zeros(5, np.float32), np.ones(5, np.float32)
    x2, y2, w2 = with_extra_pairs(x, y, weight, kb, extra)
    assert [a.shape for a in x2] == [(7, 4)] * 3
    assert np.array_equal(x2[0][5:], extra.emb)
    assert np.array_equal(x2[1][5:], q[[0, 2]]) and np.array_equal(x2[2][5:], qa[[0, 2]])
    assert y2.tolist() == [0.0] * 5 + [1.0, 0.0]
    assert w2.tolist() == [1.0] * 5 + [FEEDBACK_WEIGHT] * 2
    assert with_extra_pairs(x, y, weight, kb, None) == (x, y, weight)
