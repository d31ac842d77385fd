"""Re-ranker against none, by cross-validation over the development messages (the consumer
questions' train and val splits; the test split and LiveQA are never read here).

Each fold holds out a fifth of the messages. Without them, the type head is trained as shipped
(`training.type_cv.fold_head`: hand labels, prior x0.75, the neighbours' vote) and so is the
re-ranker (MedQuAD questions and phrasings, the other folds' template-labelled messages). The
held-out messages that MedQuAD can answer (hand-labelled focus and type) are then answered as
the API answers them (the decline rule, focus first, a published version's focus index and
retriever) with the fold's re-ranker and with none, and scored like `python -m training
evaluate` (MRR@10, MAP@10, first answer relevant; a declined message is a miss).

    python -m training.rerank_cv [--version V] [--assignments 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from medtriage.pipeline import TriagePipeline
from training import data
from training.answer_eval import (
    average_precision,
    consumer_heldout,
    reciprocal_rank,
    relevant_ids,
)
from training.reranker import (
    Kb,
    concat,
    consumer_queries,
    medquad_queries,
    subset,
    train_reranker,
)
from training.train import CONSUMER_REPEAT_RERANK, HAND, head_examples, prepare
from training.type_cv import FOLDS, assign_folds, development, fold_head


def main(argv: list[str] | None = None) -> int:
    from medtriage.store import fetch_version, open_store, resolve_version

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="artifact store URI (default: $ARTIFACT_STORE)")
    ap.add_argument("--version", default="latest", help="whose focus index and retriever")
    ap.add_argument("--assignments", type=int, default=2, help="fold assignments (seeds)")
    args = ap.parse_args(argv)
    store = open_store(args.store)
    version = resolve_version(store, args.version)
    p = prepare(None, None, data.SEED, progress=True)
    with tempfile.TemporaryDirectory(prefix="medtriage-cv-") as tmp:
        pipe = TriagePipeline.load(fetch_version(store, version, Path(tmp)))
    retriever = pipe.retriever
    kb = Kb(p.df, retriever.q_emb, retriever.qa_emb)
    medquad = medquad_queries(kb, p.split.train, p.encoder, p.tok, p.progress)
    val = medquad_queries(kb, p.split.val, p.encoder, p.tok, p.progress, with_paraphrases=False)
    consumer = consumer_queries(p.encoder, p.tok, kb, p.progress)
    c_text = np.concatenate([consumer[s][0]["text"].to_numpy() for s in ("train", "val")])
    c_queries = concat(consumer["train"][1], consumer["val"][1], weights=[1.0, 1.0])

    base = head_examples(p)
    dev, x_dev, x_sum = development(p)
    y = np.array([p.labels.index(c) for c in dev[HAND]])
    # A message written twice counts once, in the fold of its first copy.
    row_of = {t: i for i, t in reversed(list(enumerate(dev["text"])))}
    asked = pd.concat([consumer_heldout(s, labels="hand")[0] for s in ("train", "val")])
    relevant = relevant_ids(retriever.kb, retriever.link_list)
    asked = asked.assign(
        relevant=[relevant(f, c) for f, c in zip(asked["foci"], asked["categories"], strict=True)]
    )
    asked = asked[asked["relevant"].map(bool) & asked["text"].isin(row_of)]
    asked = asked.drop_duplicates("text").reset_index(drop=True)
    _, emb = pipe.predict(asked["text"].tolist())
    matches = [pipe.recognize(t) for t in asked["text"]]
    print(f"{len(dev)} development messages, {len(asked)} with an answer in MedQuAD")

    scores: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for a in range(args.assignments):
        fold = assign_folds(len(dev), p.seed + a)
        fold_of = {t: fold[i] for t, i in row_of.items()}
        for f in range(FOLDS):
            held = fold == f
            probs = np.zeros((len(dev), len(p.labels)))
            probs[held] = fold_head(p, base, x_dev, x_sum, y, ~held, seed=p.seed + f)(x_dev[held])
            trained = np.array([fold_of.get(t, -1) != f for t in c_text])
            queries = concat(
                medquad, subset(c_queries, trained), weights=[1, CONSUMER_REPEAT_RERANK]
            )
            reranker, _ = train_reranker(queries, val, kb, seed=p.seed)
            for name, scorer in (("re-ranker", reranker), ("none", None)):
                retriever.reranker = scorer
                for i, text in enumerate(asked["text"]):
                    if fold_of[text] != f:
                        continue
                    found, _ = pipe.answer(text, probs[row_of[text]], emb[i], matches[i], 10)
                    ids = [x["id"] for x in found.answers]
                    rel = asked["relevant"][i]
                    scores.setdefault((a, name), []).append(
                        (reciprocal_rank(ids, rel), average_precision(ids, rel))
                    )
            print(f"assignment {a} fold {f} done", flush=True)
    print(f"{'assignment':10s} {'ranked by':10s}    n  MRR@10  MAP@10  first relevant")
    for (a, name), rows in sorted(scores.items()):
        rr, ap = np.array(rows).T
        # First relevant as `training.answer_eval.quality` counts it: a reciprocal rank of 1.
        first = np.mean(rr == 1.0)
        print(
            f"{a:<10d} {name:10s} {len(rows):4d}  {rr.mean():.3f}   {ap.mean():.3f}   {first:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
