"""Type labels from the consumer questions' expert summaries, and the head's shift toward the
consumer questions' mix of types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training import consumer
from training.consumer import (
    CATCH_ALL,
    HAND_LABELS,
    TEMPLATES,
    compile_templates,
    template_label,
)
from training.examples import consumer_examples
from training.model import build_head, label_shift, shift_logits

# The categories a full training run learns (MedQuAD's merged types and `unanswerable`).
MODEL_LABELS = {
    "causes", "complications", "exams and tests", "frequency", "genetic changes", "information",
    "inheritance", "outlook", "prevention", "research", "stages", "susceptibility", "symptoms",
    "treatment", "unanswerable",
}  # fmt: skip


@pytest.mark.parametrize(
    ("summary", "category", "focus"),
    [
        ("What are the treatments for giant cell arteritis?", "treatment", "giant cell arteritis"),
        ("Who manufactures cetirizine?", "unanswerable", None),
        (
            "Where can I get genetic testing for CPTII deficiency?",
            "exams and tests",
            "CPTII deficiency",
        ),
        ("What clinical trials are available for hepatitis C?", "research", "hepatitis C"),
        ("Who is doing research on hydatidiform mole?", "research", "hydatidiform mole"),
        (
            "What new treatments are available for systemic sclerosis?",
            "treatment",
            "systemic sclerosis",
        ),
        ("What are the treatments and prognosis for spg11?", "treatment", "spg11"),
        ("Can epilepsy be cured?", "treatment", "epilepsy"),
        ("How can herpes be prevented?", "prevention", "herpes"),
        (
            "Where can I find support groups for people with digestive disorders?",
            "information",
            "digestive disorders",
        ),
        ("What is lupus?", "information", "lupus"),
        ("Can Cymbalta cause curvature of the spine?", None, None),
    ],
)
def test_template_labels(summary: str, category: str | None, focus: str | None) -> None:
    assert template_label(summary) == (category, focus)


def test_the_added_templates_are_not_in_the_original_set() -> None:
    original = compile_templates(TEMPLATES + [CATCH_ALL])
    assert template_label("Who is doing research on hydatidiform mole?", original) == (None, None)
    assert template_label("What is lupus?", original) == ("information", "lupus")


def test_label_shift_moves_toward_the_consumer_mix() -> None:
    consumer = np.array([0, 0, 0, 1])  # 3:1 (+1 smoothing: 4:2:1 over three labels)
    mix = np.array([0, 1, 1, 1, 2, 2])  # 1:3:2 (+1: 2:4:3)
    shift = label_shift(consumer, mix, 3)
    expected = np.log(np.array([4, 2, 1]) / 7) - np.log(np.array([2, 4, 3]) / 9)
    np.testing.assert_allclose(shift, expected)
    assert shift[0] > 0 > shift[2]


def test_shift_logits_adds_to_the_heads_output() -> None:
    head = build_head(3, seed=1)
    x = np.random.default_rng(0).normal(size=(4, head.input_shape[-1])).astype("float32")
    before = np.asarray(head(x, training=False))
    shift = np.array([0.5, -1.0, 2.0])
    shift_logits(head, shift)
    after = np.asarray(head(x, training=False))
    np.testing.assert_allclose(after - before, np.tile(shift, (4, 1)), atol=1e-5)


def test_hand_labels_cover_every_consumer_question_once() -> None:
    table = pd.read_csv(HAND_LABELS, keep_default_na=False, dtype=str)
    assert list(table.columns) == ["id", "category"]
    assert table["id"].is_unique and len(table) == 1059
    assert set(table["category"]) <= MODEL_LABELS
    assert "question" not in table.columns and "summary" not in table.columns


def test_consumer_examples_take_hand_or_template_labels(tmp_path, monkeypatch) -> None:
    pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "source": "MeQSum",
            "question": ["SUBJECT: lupus MESSAGE: what is lupus", "cure for gout?", "my rash"],
            "summary": ["What is lupus?", "How is gout treated?", "Why do I have a rash?"],
        }
    ).to_csv(tmp_path / "consumer.csv", index=False)
    (tmp_path / "hand.csv").write_text("id,category\na,treatment\nb,treatment\nc,causes\n")
    monkeypatch.setenv("MEDTRIAGE_CONSUMER", str(tmp_path / "consumer.csv"))
    monkeypatch.setattr(consumer, "HAND_LABELS", tmp_path / "hand.csv")
    monkeypatch.setattr(consumer, "TEST_FRACTION", 0.0)
    monkeypatch.setattr(consumer, "VAL_FRACTION", 0.0)
    labels = ["causes", "information", "treatment"]
    texts, by_template = consumer_examples(labels, 0, "train")
    assert dict(zip(texts, by_template, strict=True)) == {
        "lupus what is lupus": "information",
        "cure for gout?": "treatment",
    }
    texts, by_hand = consumer_examples(labels, 0, "train", "hand_category")
    assert dict(zip(texts, by_hand, strict=True)) == {
        "lupus what is lupus": "treatment",
        "cure for gout?": "treatment",
        "my rash": "causes",
    }
    # The head also learns the expert summaries, with the messages' labels.
    texts, by_hand = consumer_examples(labels, 0, "train", "hand_category", text="summary")
    assert dict(zip(texts, by_hand, strict=True)) == {
        "What is lupus?": "treatment",
        "How is gout treated?": "treatment",
        "Why do I have a rash?": "causes",
    }


def test_hand_foci_are_spans_of_their_summaries() -> None:
    df = consumer.load_consumer()
    if df is None:
        pytest.skip("consumer questions not available")
    table = pd.read_csv(consumer.HAND_FOCI, keep_default_na=False, dtype=str)
    assert table["id"].is_unique and set(table["id"]) == set(df["id"])
    named = df[df["hand_focus"] != ""]
    assert len(named) > 700
    assert all(f.lower() in s.lower() for f, s in zip(named["hand_focus"], named["summary"]))
