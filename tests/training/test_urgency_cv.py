"""The urgency cross-validation's pieces: thresholds by recall, folds judged as shipped, and
batches of data left out of training but still scored."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from medtriage.layers import LAYER_MEANS, READINGS
from medtriage.readings import readings
from training import urgency
from training.urgency_cv import as_shipped, false_alarms_at
from training.urgency_tails import CHECK_TAILS, TRAIN_TAILS, with_tails


def test_recall_threshold_keeps_the_weakest_needed_urgent_score():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.75, 0.2])
    y = np.array([1, 1, 1, 1, 0, 0])
    t = urgency.recall_threshold(p, y, 1.0)
    assert 0.2 < t <= 0.6 and (p[y == 1] >= t).all()
    # One miss allowed in four: the weakest urgent score may fall below.
    assert 0.6 < urgency.recall_threshold(p, y, 0.75) <= 0.7
    assert false_alarms_at(p, y, 1.0) == 0.5
    assert false_alarms_at(p, y, 0.75) == 0.5  # 0.75 >= threshold
    assert false_alarms_at(p, y, 0.5) == 0.0


def test_as_shipped_judges_each_fold_at_the_other_folds_threshold():
    # Fold 0's urgent scores are high, fold 1's low: each fold's threshold comes from the other.
    p = np.array([0.9, 0.8, 0.85, 0.3, 0.25, 0.28])
    y = np.array([1, 1, 0, 1, 1, 0])
    folds = np.array([0, 0, 0, 1, 1, 1])
    pred = as_shipped(p, y, folds)
    # Fold 0 at fold 1's threshold (just under 0.25): all flagged; fold 1 at fold 0's (just
    # under 0.8): nothing flagged.
    assert pred.tolist() == [True, True, True, False, False, False]


@pytest.fixture
def tiny_dev() -> urgency.DevSet:
    rng = np.random.default_rng(0)
    n = 24
    urgent = np.tile([1, 0], n // 2)
    means = rng.normal(size=(n, LAYER_MEANS)).astype("float32")
    means[:, 0] += 3 * urgent  # the label is readable from one feature
    rows = pd.DataFrame(
        {"group": [f"g{i // 2}" for i in range(n)], "category": ["burn"] * n, "urgent": urgent}
    )
    neg = [rng.normal(size=(4, LAYER_MEANS)).astype("float32"), np.zeros((4, READINGS), "float32")]
    return urgency.DevSet(
        rows=rows,
        x=[means, np.zeros((n, READINGS), "float32")],
        urgent=urgent,
        category=np.zeros(n, dtype=int),
        categories=["burn"],
        negatives=neg,
        ruled=np.zeros(n, bool),
    )


def test_out_of_fold_never_trains_on_the_held_fold_nor_unused_rows(tiny_dev, monkeypatch):
    seen: list[int] = []
    real = urgency.train_heads

    def recording(x, urgent, *args, **kwargs):
        seen.append(len(urgent))
        return real(x, urgent, *args, **kwargs)

    monkeypatch.setattr(urgency, "train_heads", recording)
    folds = urgency.folds_of(tiny_dev.rows["group"], 3, seed=1)
    unused = np.zeros(len(folds), bool)
    unused[:4] = True
    options = urgency.HeadOptions(epochs=2)
    oof, cat = urgency.out_of_fold(tiny_dev, folds, 0, options, unused)
    assert seen == [int(((folds != k) & ~unused).sum()) for k in range(3)]
    assert oof.shape == (24,) and ((oof > 0) & (oof < 1)).all() and (cat == 0).all()
    seen.clear()
    urgency.out_of_fold(tiny_dev, folds, 0, options)
    assert seen == [int((folds != k).sum()) for k in range(3)]


def test_calm_endings_are_appended_by_seed_and_carry_no_numbers():
    texts = ["my dad cant lift his arm", "what is a stroke", "baby is 5 weeks, temp 38.2"]
    tailed = with_tails(texts, TRAIN_TAILS, seed=3, keep=[False, True, False])
    assert tailed == with_tails(texts, TRAIN_TAILS, seed=3, keep=[False, True, False])
    assert tailed[1] == texts[1]
    for before, after in ((texts[0], tailed[0]), (texts[2], tailed[2])):
        assert after.startswith(before + " ") and after[len(before) + 1 :] in TRAIN_TAILS
    # The number readings the heads also read stay those of the message itself.
    assert all(readings(t) == readings("") for t in TRAIN_TAILS + CHECK_TAILS)
    assert not set(TRAIN_TAILS) & set(CHECK_TAILS)


def test_heads_train_on_messages_and_their_endings_but_score_what_they_are_given(
    tiny_dev, monkeypatch
):
    rng = np.random.default_rng(1)
    tailed = [tiny_dev.x[0] + rng.normal(scale=0.1, size=tiny_dev.x[0].shape), tiny_dev.x[1]]
    d = replace(tiny_dev, tailed=[a.astype("float32") for a in tailed])
    selected = np.arange(24) < 10
    x, urgent, category = urgency.training_rows(d, selected, urgency.HeadOptions(tails=1.0))
    assert len(x[0]) == 20 and urgent.tolist() == np.tile(d.urgent[:10], 2).tolist()
    assert (x[0][10:] == d.tailed[0][:10]).all() and len(category) == 20
    x, urgent, _ = urgency.training_rows(d, selected, urgency.HeadOptions(tails=0.0))
    assert len(x[0]) == len(urgent) == 10
    x, urgent, _ = urgency.training_rows(d, selected, urgency.HeadOptions(tails=0.5))
    assert 10 < len(x[0]) == len(urgent) < 20
    # The same rows get their endings whichever rows are selected (every fold agrees).
    x_all, _, _ = urgency.training_rows(d, np.ones(24, bool), urgency.HeadOptions(tails=0.5))
    tailed_rows = {tuple(r[:3]) for r in x_all[0][24:]}
    assert {tuple(r[:3]) for r in x[0][10:]} <= tailed_rows

    folds = urgency.folds_of(d.rows["group"], 3, seed=1)
    options = urgency.HeadOptions(epochs=2)
    plain, _ = urgency.out_of_fold(d, folds, 0, options)
    # Scored on other inputs (the label feature wiped out), the same heads score otherwise.
    wiped = [d.x[0].copy(), d.x[1]]
    wiped[0][:, 0] = 0
    other, _ = urgency.out_of_fold(replace(d, scored=wiped), folds, 0, options)
    assert not np.allclose(plain, other)


def test_only_the_rows_that_train_with_an_ending_are_encoded_with_one():
    from types import SimpleNamespace

    from training.train import tailed_urgency

    messages = pd.DataFrame(
        {"text": [f"message {i}" for i in range(12)], "split": ["train"] * 8 + ["test"] * 4}
    )
    layer_means = np.arange(12, dtype="float32")[:, None].repeat(3, axis=1)
    encoded: list[list[str]] = []

    def encode_layers(texts, desc):
        encoded.append(list(texts))
        return np.full((len(texts), 3), -1.0, dtype="float32")

    p = SimpleNamespace(seed=0, encode_layers=encode_layers)
    means, texts = tailed_urgency(p, messages, layer_means, TRAIN_TAILS, share=0.5)
    chosen = urgency.ending_rows(8, 0.5)
    assert len(encoded) == 1 and len(encoded[0]) == int(chosen.sum()) == 4
    for i in range(12):
        ended = i < 8 and chosen[i]
        assert (texts[i] != messages["text"][i]) == ended
        assert (means[i] == -1).all() if ended else (means[i] == layer_means[i]).all()
