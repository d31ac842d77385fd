"""Grouped cross-validation of the urgency heads over the urgency set's train and val splits
(development only: the test split is never read here).

For each variant of `training.urgency.HeadOptions` and each fold assignment (whole scenario
groups per fold), every row gets an out-of-fold score; rules count as served (a row a rule
flags is caught). Printed per variant, averaged over the assignments:

- false alarms on the hard negatives at out-of-fold recall 0.97 / 0.98 / 0.99 (how well the
  scores separate: lower is better);
- "as shipped": the threshold `pick_threshold` chooses from the other folds' scores, applied
  to each held-out fold: the recall and false alarms to expect on unseen messages.

With `--endings-check`, each variant is also scored on the held-out folds' messages with a calm
ending from `training.urgency_tails.CHECK_TAILS` appended (never trained on), at the threshold
chosen on the plain messages: how much a mild last question costs.

    python -m training.urgency_cv                 # after a training run filled the cache
    python -m training.urgency_cv --assignments 5 --variants shipped "hidden 256"
    python -m training.urgency_cv --batch=-z- --per-category   # what a batch of data adds
    python -m training.urgency_cv --variants shipped "no endings" --endings-check
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np
import pandas as pd

from training import data, urgency
from training.train import prepare, tailed_urgency, urgency_negatives
from training.urgency_tails import CHECK_TAILS, TRAIN_TAILS

VARIANTS = {
    "shipped": urgency.HeadOptions(),  # L2 3e-5, a quarter of messages with calm endings
    "hidden 256": urgency.HeadOptions(hidden=256),
    "L2 3e-4": urgency.HeadOptions(l2=3e-4),
    "L2 1e-4": urgency.HeadOptions(l2=1e-4),  # before session 11
    "L2 1e-5": urgency.HeadOptions(l2=1e-5),
    "easy negatives x1": urgency.HeadOptions(negative_weight=1.0),
    "120 epochs": urgency.HeadOptions(epochs=120),
    "no endings": urgency.HeadOptions(tails=0.0),  # before session 13
    "endings x0.5": urgency.HeadOptions(tails=0.5),
    "endings x1": urgency.HeadOptions(tails=1.0),
    "endings x1, 30 epochs": urgency.HeadOptions(tails=1.0, epochs=30),
}
RECALLS = (0.97, 0.98, 0.99)


def false_alarms_at(
    p: np.ndarray, y: np.ndarray, target: float, applied: np.ndarray | None = None
) -> float:
    """False alarms at the threshold giving `target` recall on scores p, counted on
    `applied` (other scores of the same rows; default p)."""
    applied = p if applied is None else applied
    return float((applied[y == 0] >= urgency.recall_threshold(p, y, target)).mean())


def as_shipped(
    p: np.ndarray, y: np.ndarray, folds: np.ndarray, applied: np.ndarray | None = None
) -> np.ndarray:
    """Each fold judged at the threshold the other folds' scores p choose, on its `applied`
    scores (default p)."""
    applied = p if applied is None else applied
    pred = np.zeros(len(y), dtype=bool)
    for k in range(folds.max() + 1):
        held = folds == k
        pred[held] = applied[held] >= urgency.pick_threshold(p[~held], y[~held])
    return pred


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", type=int, default=3, help="fold assignments (seeds)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--per-category", action="store_true", help="as-shipped figures per category")
    ap.add_argument(
        "--batch",
        help="a group-id part (e.g. --batch=-z-): each variant also trained without those rows; "
        "both scored on the other rows only",
    )
    ap.add_argument(
        "--endings-check", action="store_true", help="also score messages with calm endings"
    )
    args = ap.parse_args(argv)
    p = prepare(None, None, data.SEED, progress=True)
    messages = urgency.load_messages()
    emb = p.encode_layers(messages["text"].tolist(), "urgency-layers")
    d = urgency.dev_set(
        messages, emb, *urgency_negatives(p), tailed=tailed_urgency(p, messages, emb, TRAIN_TAILS)
    )
    checked = None
    if args.endings_check:
        checked = urgency.dev_inputs(messages, *tailed_urgency(p, messages, emb, CHECK_TAILS))
    y = d.urgent
    print(f"{len(y)} development messages ({int(y.sum())} urgent), {args.assignments} assignments")
    head = "  ".join(f"FA@{r}" for r in RECALLS)
    print(f"{'variant':20s} {head}  as shipped: recall  false alarms")
    # (printed label, variant, rows never trained on, scored with calm endings); scored: the
    # rows every run is judged on.
    runs = [(name, name, None, False) for name in args.variants]
    if checked is not None:
        runs = [
            (f"{n}{e}", n, None, c)
            for n in args.variants
            for e, c in (("", False), (", ends", True))
        ]
    scored = np.ones(len(y), bool)
    if args.batch:
        batch = d.rows["group"].str.contains(args.batch, regex=False).to_numpy()
        scored = ~batch
        runs = [
            (f"{name} {label} {args.batch}", name, unused, False)
            for name in args.variants
            for label, unused in (("with", None), ("without", batch))
        ]
        print(f"{int(batch.sum())} rows in batch {args.batch}; scored on the other rows")
    gold = np.tile(y[scored], args.assignments)
    cats = pd.Series(np.tile(d.rows["category"].to_numpy()[scored], args.assignments))
    for label, name, unused, check in runs:
        options = VARIANTS[name]
        at = {r: [] for r in RECALLS}
        preds = []
        for a in range(args.assignments):
            folds = urgency.folds_of(d.rows["group"], urgency.FOLDS, p.seed + a)
            oof, _ = urgency.out_of_fold(d, folds, p.seed + a, options, unused)
            score = np.where(d.ruled, 1.0, oof)[scored]
            applied = score
            if check:  # the same heads (same seeds), scored on the messages with endings
                d_check = replace(d, scored=checked)
                oof_c, _ = urgency.out_of_fold(d_check, folds, p.seed + a, options, unused)
                applied = np.where(d.ruled, 1.0, oof_c)[scored]
            for r in RECALLS:
                at[r].append(false_alarms_at(score, y[scored], r, applied))
            preds.append(as_shipped(score, y[scored], folds[scored], applied))
        pred = np.concatenate(preds)
        shipped = urgency.binary_scores(pred, gold)
        cells = "  ".join(f"{np.mean(at[r]):7.3f}" for r in RECALLS)
        print(
            f"{label:20s} {cells}  {shipped['recall']:6.3f}  {shipped['false_alarm_rate']:6.3f}",
            flush=True,
        )
        if args.per_category:
            for c, s in urgency.per_category(pred, gold, cats, d.categories).items():
                print(
                    f"    {c:20s} recall {s['recall']:.3f}  false alarms {s['false_alarm_rate']:.3f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
