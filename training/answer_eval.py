"""Answer quality on real consumer questions: focus, type, focus-and-type hits and summary
agreement, for today's fused ranker, plain BM25 over MedQuAD questions, and the focus-first
ranker with and without the re-ranker — one run, the same questions.

Two sets: the held-out part of the consumer questions (labels from template summaries; never
trained on) and LiveQA Train-1 (annotated foci and types; evaluation only).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from medtriage.retrieval import BM25
from training.evaluate_common import focus_match

K = 10


def reciprocal_rank(ids: list[str], relevant: str | set[str]) -> float:
    """Reciprocal rank of the first relevant id in the top K (one target id, or a set)."""
    targets = {relevant} if isinstance(relevant, str) else relevant
    for rank, i in enumerate(ids[:K], 1):
        if i in targets:
            return 1.0 / rank
    return 0.0


def average_precision(ids: list[str], relevant: set[str]) -> float:
    """Average precision at K, over min(|relevant|, K) as TREC's MAP@10 counts it."""
    hits, total = 0, 0.0
    for rank, i in enumerate(ids[:K], 1):
        if i in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), K)


def relevant_ids(kb: pd.DataFrame, link_list: np.ndarray) -> Callable[[list[str], list[str]], set]:
    """A function giving the ids of the answers (not link lists) about one of `foci` of one of
    `categories`: the judged-relevant set as the annotation defines it."""
    by_focus: dict[str, list[int]] = {}
    for i, f in enumerate(kb["focus"].astype(str)):
        by_focus.setdefault(f, []).append(i)
    ids, cats = kb["id"].to_numpy(), kb["category"].to_numpy()

    def relevant(foci: list[str], categories: list[str]) -> set:
        rows = [i for f, rs in by_focus.items() if focus_match(f, foci) for i in rs]
        return {ids[i] for i in rows if cats[i] in categories and not link_list[i]}

    return relevant


class Rankers:
    """Rankings of one question by each system, from one model call."""

    def __init__(self, pipe):
        self.pipe = pipe
        kb = pipe.retriever.kb
        self.kb = kb
        self.bm25 = BM25.build(kb["question"].tolist())

    def rank(self, text: str) -> dict[str, list[dict]]:
        pipe, r = self.pipe, self.pipe.retriever
        probs, emb = pipe.predict_one(text)
        cats = {pipe.labels[i]: float(p) for i, p in enumerate(probs)}
        foci = [m.foci for m in pipe.recognize(text)]
        top = np.argsort(-self.bm25.scores(text))[:K]
        bm25 = [
            {
                "id": self.kb.iloc[i]["id"],
                "focus": self.kb.iloc[i]["focus"],
                "category": self.kb.iloc[i]["category"],
            }
            for i in top
        ]
        # The shipped ranker as the API returns it: nothing when the service declines, which
        # the held-out judgments count as a miss.
        served = pipe.triage(text, top_k=K)
        out = {
            "bm25_questions": bm25,
            "fused (before)": r.search(text, emb, cats, K).answers,
            "focus_first": served["answers"],
        }
        if r.reranker is not None:
            reranker, r.reranker = r.reranker, None
            try:
                without = r.search(text, emb, cats, K, foci).answers
                out["focus_first_no_reranker"] = [] if served["abstained"] else without
            finally:
                r.reranker = reranker
        return out


def quality(pipe, questions: pd.DataFrame, summaries: list[str] | None = None) -> dict:
    """`questions` has `text`, `foci` (annotated, lower-case) and `categories` (gold list)."""
    rankers = Rankers(pipe)
    texts = questions["text"].tolist()
    probs, _ = pipe.predict(texts) if texts else (np.zeros((0, len(pipe.labels))), None)
    order = np.argsort(-probs, axis=1)
    gold_cats = questions["categories"].tolist()
    top1 = [pipe.labels[o[0]] in g for o, g in zip(order, gold_cats, strict=True)]
    top2 = [
        bool({pipe.labels[o[0]], pipe.labels[o[1]]} & set(g))
        for o, g in zip(order, gold_cats, strict=True)
    ]
    focus_hits, systems = [], {}
    refs: list[str | None] = [None] * len(texts)
    if summaries is not None:
        # The answer the expert summary itself gets first, when MedQuAD can answer it (a
        # recognised condition and an answerable category): the target for summary agreement.
        for i, s in enumerate(summaries):
            if s and pipe.recognize(s):
                res = pipe.triage(s, top_k=1)
                if res["answers"] and not res["abstained"]:
                    refs[i] = res["answers"][0]["id"]
    relevant_of = relevant_ids(rankers.kb, pipe.retriever.link_list)
    for i, (text, foci, cats) in enumerate(zip(texts, questions["foci"], gold_cats, strict=True)):
        matches = pipe.recognize(text)
        focus_hits.append(bool(matches) and any(focus_match(f, foci) for f in matches[0].foci))
        relevant = relevant_of(foci, cats)
        for name, ranked in rankers.rank(text).items():
            s = systems.setdefault(
                name, {"ft1": [], "ft3": [], "f1": [], "agree": [], "ap": [], "rr": []}
            )
            ft = [focus_match(a["focus"], foci) and a["category"] in cats for a in ranked]
            if relevant:  # MedQuAD answers it: rank metrics as TREC computes them
                ids = [a["id"] for a in ranked]
                s["ap"].append(average_precision(ids, relevant))
                s["rr"].append(reciprocal_rank(ids, relevant))
            s["ft1"].append(bool(ft[:1]) and ft[0])
            s["ft3"].append(any(ft[:3]))
            s["f1"].append(bool(ranked) and focus_match(ranked[0]["focus"], foci))
            if refs[i] is not None:
                s["agree"].append(reciprocal_rank([a["id"] for a in ranked], refs[i]))

    def mean(xs: list) -> float | None:
        return round(float(np.mean(xs)), 4) if xs else None

    return {
        "n": len(texts),
        "focus_accuracy": mean(focus_hits),
        "type_top1": mean(top1),
        "type_top2": mean(top2),
        "rankers": {
            name: {
                "focus_hit@1": mean(s["f1"]),
                "focus_and_type_hit@1": mean(s["ft1"]),
                "focus_and_type_hit@3": mean(s["ft3"]),
                "summary_agreement_mrr@10": mean(s["agree"]),
                "n_summary": len(s["agree"]),
                # Over questions MedQuAD answers (a row of an annotated focus and type).
                "answerable_mrr@10": mean(s["rr"]),
                "answerable_map@10": mean(s["ap"]),
                "answerable_first_relevant": mean([r == 1.0 for r in s["rr"]]),
                "n_answerable": len(s["rr"]),
            }
            for name, s in systems.items()
        },
    }


def consumer_heldout(
    split: str = "test", seed: int | None = None, labels: str = "template"
) -> tuple[pd.DataFrame, list[str]] | None:
    """The consumer questions of one split with a type (not `unanswerable`) and a focus, plus
    their summaries. `labels`: "template" (both from the summary's template) or "hand" (both
    labelled by hand, `training/data/`)."""
    from training.consumer import load_consumer
    from training.data import SEED

    df = load_consumer(seed if seed is not None else SEED)
    if df is None:
        return None
    if labels == "hand":
        df = df.assign(category=df["hand_category"], focus_text=df["hand_focus"])
    rows = df[(df["split"] == split) & (df["category"] != "") & (df["category"] != "unanswerable")]
    rows = rows[rows["focus_text"] != ""].copy()
    rows["foci"] = rows["focus_text"].map(lambda f: [f.lower().strip()])
    rows["categories"] = rows["category"].map(lambda c: [c])
    return rows.reset_index(drop=True), rows["summary"].tolist()
