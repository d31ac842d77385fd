"""Cross-validation of the type head's training data over the consumer questions' train and val
splits (development only: the test split and LiveQA are never read here).

Each fold holds out a fifth of the messages labelled by the original templates
(`training.consumer.TEMPLATES`); the head learns from MedQuAD's training split and the other
labelled messages: those of the original templates (`template`), or also those only
`MORE_TEMPLATES` label (`more`; they never enter a held-out fold, so both variants are scored
on the same predictions).

    python -m training.type_cv            # needs a training run's embedding cache to be quick
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from training import data, unanswerable
from training.consumer import (
    CATCH_ALL,
    TEMPLATES,
    compile_templates,
    load_consumer,
    template_label,
)
from training.examples import training_texts
from training.model import label_shift, train_head
from training.train import CONSUMER_REPEAT, prepare

FOLDS = 5
PRIOR_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--assignments", type=int, default=2, help="fold assignments (seeds)")
    args = ap.parse_args(argv)
    p = prepare(None, None, data.SEED, progress=True)
    index = {label: i for i, label in enumerate(p.labels)}
    x_text, y_text = training_texts(p.split.train, p.drugs["train"], p.seed)
    rows, vrows = p.split.train["row"].to_numpy(), p.split.val["row"].to_numpy()
    extra = p.encode_layers(x_text[2 * len(p.split.train) :], "extra-layers")
    x_base = np.concatenate([p.kb_q_layers[rows], p.kb_a_layers[rows], extra])
    y_base = np.array([index[label] for label in y_text])
    val_drugs = unanswerable.questions(p.drugs["val"], p.seed + 1)
    xv = np.concatenate([p.kb_q_layers[vrows], p.encode_layers(val_drugs, "cv-val-drugs")])
    yv = np.array(
        [index[c] for c in p.split.val["category"]] + [index[data.UNANSWERABLE]] * len(val_drugs)
    )

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

    variants = ["template", "more"] + [f"more, prior x{a}" for a in PRIOR_WEIGHTS]
    results: dict[str, list[bool]] = {name: [] for name in variants}
    for a in range(args.assignments):
        fold = np.random.default_rng(p.seed + a).permutation(len(labelled)) % FOLDS
        for f in range(FOLDS):
            tr, te = fold != f, fold == f
            for name in ("template", "more"):
                xs = [x_base] + [x_lab[tr]] * CONSUMER_REPEAT
                ys = [y_base] + [y_lab[tr]] * CONSUMER_REPEAT
                if name == "more":
                    xs += [x_add] * CONSUMER_REPEAT
                    ys += [y_add] * CONSUMER_REPEAT
                y_all = np.concatenate(ys)
                head, _ = train_head(
                    np.concatenate(xs),
                    y_all,
                    xv,
                    yv,
                    len(p.labels),
                    args.epochs,
                    p.seed + f,
                    verbose=0,
                )
                logits = np.asarray(head(x_lab[te], training=False))
                results[name] += list(logits.argmax(axis=1) == y_lab[te])
                if name == "more":
                    cons = np.concatenate([y_lab[tr], y_add])
                    shift = label_shift(cons, y_all, len(p.labels))
                    for w in PRIOR_WEIGHTS:
                        pred = (logits + w * shift).argmax(axis=1)
                        results[f"more, prior x{w}"] += list(pred == y_lab[te])
            print(
                f"assignment {a} fold {f}: "
                + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in results.items()),
                flush=True,
            )
    for name, hits in results.items():
        print(f"{name:9s} type top-1 {np.mean(hits):.3f} over {len(hits)} predictions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
