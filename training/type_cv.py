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

import numpy as np
from keras import ops

from medtriage.layers import HIDDEN, NeighbourVote
from training import data
from training.consumer import load_consumer
from training.model import label_shift, train_head
from training.train import CONSUMER_REPEAT, HAND, SUMMARY_REPEAT, head_examples, prepare

FOLDS = 5
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SOURCES = {"templates": "category", "hand labels": HAND}


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
    n = len(p.labels)
    x_base, y_base, xv, yv = head_examples(p)

    df = load_consumer(p.seed)
    dev = df[(df["split"] != "test") & df["hand_category"].isin(p.labels)].reset_index(drop=True)
    x_dev = p.encode_layers(dev["text"].tolist(), "cv-consumer-dev")
    x_sum = (
        p.encode_layers(dev["summary"].tolist(), "cv-consumer-summaries")
        if args.summaries
        else None
    )
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
        fold = np.random.default_rng(p.seed + a).permutation(len(dev)) % args.folds
        for f in range(args.folds):
            te = fold == f
            for name in args.sources:
                y_all = y_src[name]
                tr = (fold != f) & (y_all >= 0)
                cons = y_all[tr]
                x = np.concatenate([x_base] + [x_dev[tr]] * args.repeat)
                y = np.concatenate([y_base] + [cons] * args.repeat)
                if x_sum is not None:  # the same labels on the summaries' short wording
                    x = np.concatenate([x] + [x_sum[tr]] * args.summaries)
                    y = np.concatenate([y] + [cons] * args.summaries)
                head, _ = train_head(x, y, xv, yv, n, args.epochs, p.seed + f, verbose=0)
                logits = np.asarray(head(x_dev[te], training=False))
                shift = label_shift(cons, y, n)
                vote = None
                if args.vote:  # the shipped model's bank: the messages and their summaries
                    bank = [x_dev[tr]] + ([x_sum[tr]] if x_sum is not None else [])
                    bank_y = np.tile(cons, len(bank))
                    vote = NeighbourVote(len(bank_y), n)
                    vote.set_bank(np.concatenate(bank)[:, -HIDDEN:], bank_y)
                for w in PRIOR_WEIGHTS:
                    scores = logits + w * shift
                    if vote is not None:
                        scores = np.asarray(vote([ops.softmax(scores), x_dev[te][:, -HIDDEN:]]))
                    pred = scores.argmax(axis=1)
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
