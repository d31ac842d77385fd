"""Cross-validation of the type head's consumer labels over the consumer questions' train and val
splits (development only: the test split and LiveQA are never read here).

Each fold holds out a fifth of the development messages; the head learns from MedQuAD's
training questions, the drug questions, the consumer-style phrasings (`training.train.
head_examples`) and the other folds' messages, labelled one of two ways:

- `templates`: only messages whose expert summary follows a template, with the template's type;
- `hand labels`: every message, with the type labelled by hand from its summary
  (`training/data/consumer_types.csv`).

Each is read at several weights of the logit shift toward the consumer questions' types, and
scored against the hand labels (every held-out message) and against the template labels (the
held-out messages a template labels).

    python -m training.type_cv            # quick after a training run filled the embedding cache
    python -m training.type_cv --vote     # + the vote of the folds' nearest messages (shipped)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
from keras import ops

from medtriage.layers import HIDDEN, NeighbourVote
from training import data
from training.consumer import load_consumer
from training.model import label_shift, train_head
from training.train import (
    CONSUMER_REPEAT,
    HAND,
    PRIOR_WEIGHT,
    SUMMARY_REPEAT,
    Prepared,
    head_examples,
    prepare,
)

FOLDS = 5
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SOURCES = {"templates": "category", "hand labels": HAND}


def development(
    p: Prepared, summaries: bool = True
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """The development messages (consumer train and val splits with a hand label) and the
    layer means of their text and (if `summaries`) of their expert summaries."""
    df = load_consumer(p.seed)
    dev = df[(df["split"] != "test") & df[HAND].isin(p.labels)].reset_index(drop=True)
    x_dev = p.encode_layers(dev["text"].tolist(), "cv-consumer-dev")
    if not summaries:
        return dev, x_dev, None
    return dev, x_dev, p.encode_layers(dev["summary"].tolist(), "cv-consumer-summaries")


def assign_folds(n: int, seed: int, folds: int = FOLDS) -> np.ndarray:
    """The fold of each of n development messages (one assignment per seed)."""
    return np.random.default_rng(seed).permutation(n) % folds


def fold_head(
    p: Prepared,
    base: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    x_dev: np.ndarray,
    x_sum: np.ndarray | None,
    y: np.ndarray,
    tr: np.ndarray,
    seed: int,
    epochs: int = 30,
    repeat: int = CONSUMER_REPEAT,
    summaries: int = SUMMARY_REPEAT,
    vote: bool = True,
) -> Callable[[np.ndarray, float], np.ndarray]:
    """Train the type head as shipped on `base` (`head_examples`) plus the development messages
    `tr` (their summaries x `summaries`); returns probs(layer means, prior weight) -> the
    type probabilities (or scores, without the vote) of other messages."""
    x_base, y_base, xv, yv = base
    n = len(p.labels)
    cons = y[tr]
    x = np.concatenate([x_base] + [x_dev[tr]] * repeat)
    yy = np.concatenate([y_base] + [cons] * repeat)
    if x_sum is not None:  # the same labels on the summaries' short wording
        x = np.concatenate([x] + [x_sum[tr]] * summaries)
        yy = np.concatenate([yy] + [cons] * summaries)
    head, _ = train_head(x, yy, xv, yv, n, epochs, seed, verbose=0)
    shift = label_shift(cons, yy, n)
    bank = None
    if vote:  # the shipped model's bank: the messages and their summaries
        parts = [x_dev[tr]] + ([x_sum[tr]] if x_sum is not None else [])
        bank_y = np.tile(cons, len(parts))
        bank = NeighbourVote(len(bank_y), n)
        bank.set_bank(np.concatenate(parts)[:, -HIDDEN:], bank_y)

    def probs(x_te: np.ndarray, weight: float = PRIOR_WEIGHT) -> np.ndarray:
        scores = np.asarray(head(x_te, training=False)) + weight * shift
        if bank is None:
            return scores
        return np.asarray(bank([ops.softmax(scores), x_te[:, -HIDDEN:]]))

    return probs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--assignments", type=int, default=2, help="fold assignments (seeds)")
    ap.add_argument("--repeat", type=int, default=CONSUMER_REPEAT, help="consumer repeats")
    ap.add_argument("--folds", type=int, default=FOLDS, help="more folds: more messages trained on")
    ap.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    ap.add_argument(
        "--summaries",
        type=int,
        default=SUMMARY_REPEAT,
        help="the folds' expert summaries, x N (0: messages only)",
    )
    ap.add_argument(
        "--vote",
        action="store_true",
        help="temper with the folds' nearest messages' vote (medtriage.layers.NeighbourVote)",
    )
    args = ap.parse_args(argv)
    p = prepare(None, None, data.SEED, progress=True)
    index = {label: i for i, label in enumerate(p.labels)}
    base = head_examples(p)
    dev, x_dev, x_sum = development(p, summaries=args.summaries > 0)
    # -1: no label from that source (not trained on, not scored against).
    y_src = {
        name: np.array([index.get(c, -1) for c in dev[column]]) for name, column in SOURCES.items()
    }
    print(
        f"{len(dev)} development messages, {int((y_src['templates'] >= 0).sum())} with a "
        f"template label; hand and template labels agree on "
        f"{np.mean((y_src['templates'] == y_src['hand labels'])[y_src['templates'] >= 0]):.3f}"
    )

    # (source, weight, scored against) -> hits
    hits: dict[tuple[str, float, str], list[bool]] = {}
    for a in range(args.assignments):
        fold = assign_folds(len(dev), p.seed + a, args.folds)
        for f in range(args.folds):
            te = fold == f
            for name in args.sources:
                y_all = y_src[name]
                tr = (fold != f) & (y_all >= 0)
                probs = fold_head(
                    p,
                    base,
                    x_dev,
                    x_sum,
                    y_all,
                    tr,
                    seed=p.seed + f,
                    epochs=args.epochs,
                    repeat=args.repeat,
                    summaries=args.summaries,
                    vote=args.vote,
                )
                for w in PRIOR_WEIGHTS:
                    pred = probs(x_dev[te], w).argmax(axis=1)
                    for target, y_true in y_src.items():
                        known = y_true[te] >= 0
                        key = (name, w, target)
                        hits.setdefault(key, []).extend(pred[known] == y_true[te][known])
            print(f"assignment {a} fold {f} done", flush=True)
    print(f"{'trained on':12s} {'prior':>5s}  top-1 vs hand labels   top-1 vs template labels")
    print(f"{args.folds} folds, consumer messages repeated {args.repeat} times")
    for name in args.sources:
        for w in PRIOR_WEIGHTS:
            h, t = hits[(name, w, "hand labels")], hits[(name, w, "templates")]
            print(
                f"{name:12s} x{w:<4}  {np.mean(h):.3f} (n = {len(h)})      "
                f"{np.mean(t):.3f} (n = {len(t)})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
