"""Cross-validation of the type head's training data over the consumer questions' train and val
splits (development only: the test split and LiveQA are never read here).

Each fold holds out a fifth of the messages labelled by the original templates
(`training.consumer.TEMPLATES`); the head learns from MedQuAD's training questions, the drug
questions, the consumer-style phrasings and the other labelled messages, as `training.train`
does (`shipped`), and each other variant changes one thing:

- `+ answer starts`: also each training answer's first 300 characters, labelled with its type;
- `original templates`: without the messages only `MORE_TEMPLATES` label (those never enter a
  held-out fold, so every variant is scored on the same predictions);
- `prior xW`: the logit shift toward the consumer questions' types at weight W (0 = none).

    python -m training.type_cv            # quick after a training run filled the embedding cache
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from training import data
from training.consumer import CATCH_ALL, TEMPLATES, compile_templates, load_consumer, template_label
from training.model import label_shift, train_head
from training.train import CONSUMER_REPEAT, PRIOR_WEIGHT, head_examples, prepare

FOLDS = 5
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--assignments", type=int, default=2, help="fold assignments (seeds)")
    args = ap.parse_args(argv)
    p = prepare(None, None, data.SEED, progress=True)
    index = {label: i for i, label in enumerate(p.labels)}
    n = len(p.labels)
    x_base, y_base, xv, yv = head_examples(p)
    starts = [data.answer_start(a) for a in p.split.train["answer"]]
    x_starts = p.encode_layers(starts, "cv-answer-starts")
    y_starts = y_base[: len(p.split.train)]  # the training questions' labels come first

    df = load_consumer(p.seed)
    dev = df[df["split"] != "test"].reset_index(drop=True)
    original = compile_templates(TEMPLATES + [CATCH_ALL])
    old = dev["summary"].map(lambda s: template_label(s, original)[0] or "")
    labelled = dev[old.isin(p.labels)].reset_index(drop=True)
    added = dev[(old == "") & dev["category"].isin(p.labels)].reset_index(drop=True)
    print(f"{len(labelled)} messages of the original templates, {len(added)} more")
    x_lab = p.encode_layers(labelled["text"].tolist(), "cv-consumer-labelled")
    y_lab = np.array([index[c] for c in labelled["category"]])
    x_add = p.encode_layers(added["text"].tolist(), "cv-consumer-added")
    y_add = np.array([index[c] for c in added["category"]])

    fits = ("shipped", "+ answer starts", "original templates")
    names = list(fits) + [f"prior x{w}" for w in PRIOR_WEIGHTS if w != PRIOR_WEIGHT]
    results: dict[str, list[bool]] = {name: [] for name in names}
    for a in range(args.assignments):
        fold = np.random.default_rng(p.seed + a).permutation(len(labelled)) % FOLDS
        for f in range(FOLDS):
            tr, te = fold != f, fold == f
            for name in fits:
                xs, ys = [x_base, x_lab[tr]], [y_base, y_lab[tr]]
                if name != "original templates":
                    xs, ys = xs + [x_add], ys + [y_add]
                if name == "+ answer starts":
                    xs, ys = xs + [x_starts], ys + [y_starts]
                cons = np.concatenate(ys[1:3])
                # As training.train: the consumer messages repeated (answer starts once).
                x = np.concatenate([xs[0]] + xs[1:3] * CONSUMER_REPEAT + xs[3:])
                y = np.concatenate([ys[0]] + ys[1:3] * CONSUMER_REPEAT + ys[3:])
                head, _ = train_head(x, y, xv, yv, n, args.epochs, p.seed + f, verbose=0)
                logits = np.asarray(head(x_lab[te], training=False))
                shift = label_shift(cons, y, n)
                results[name] += list((logits + PRIOR_WEIGHT * shift).argmax(axis=1) == y_lab[te])
                if name == "shipped":
                    for w in PRIOR_WEIGHTS:
                        if w != PRIOR_WEIGHT:
                            hit = (logits + w * shift).argmax(axis=1) == y_lab[te]
                            results[f"prior x{w}"] += list(hit)
            print(
                f"assignment {a} fold {f}: "
                + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in results.items()),
                flush=True,
            )
    for name, hits in results.items():
        print(f"{name:20s} type top-1 {np.mean(hits):.3f} over {len(hits)} predictions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
