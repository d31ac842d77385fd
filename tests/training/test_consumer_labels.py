"""Type labels from the consumer questions' expert summaries, and the head's shift toward the
consumer questions' mix of types."""

from __future__ import annotations

import numpy as np
import pytest

from training.consumer import CATCH_ALL, TEMPLATES, compile_templates, template_label
from training.model import build_head, label_shift, shift_logits


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
