"""Train and evaluate the candidate re-ranker (`medtriage.rerank`) on frozen MiniLM embeddings.

Pairs (query, MedQuAD row) are labelled 1 when the row has the query's focus and type:
- queries from MedQuAD questions and consumer-style paraphrases over the training foci
  (split by focus), and from the consumer questions' `train` split whose template summary gives
  a category and a focus found in MedQuAD;
- per query: positives (same focus and type), hard negatives (same focus, other type; same type,
  a similar focus) and random rows.
Model selection uses the consumer `val` split only; `test` is reported, never tuned on; LiveQA
is never read here.

    python -m training.reranker --train      # fit, save to .cache/reranker/, print val table
    python -m training.reranker --eval       # the re-ranker vs none table (val, and --test)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from common import REPO_ROOT
from medtriage.focus import FocusIndex
from medtriage.layers import HIDDEN
from medtriage.rerank import Reranker, build_reranker
from medtriage.retrieval import Retriever
from training import data

OUT_DIR = REPO_ROOT / ".data" / "reranker"
MIN_NAME = 5  # shorter focus names ("gas", "pain") match inside too many messages
CANDIDATES = 50
CONSUMER_REPEAT = 4.0  # the consumer questions are few but they are the register we serve


@dataclass
class Queries:
    """Query embeddings with their gold focus keys and category (one row per query)."""

    emb: np.ndarray
    foci: list[set[str]]
    category: list[str]
    weight: list[float] = field(default_factory=list)
    # The query's own MedQuAD row (-1 if none): not a positive of itself, that teaches nothing.
    row: list[int] = field(default_factory=list)


@dataclass
class Kb:
    """The MedQuAD rows and their embeddings as the retriever holds them."""

    df: pd.DataFrame
    q: np.ndarray
    qa: np.ndarray

    def __post_init__(self) -> None:
        self.focus = self.df["focus_key"].to_numpy()
        self.cat = self.df["category"].to_numpy()
        self.by_focus: dict[str, np.ndarray] = {
            k: np.asarray(v) for k, v in self.df.groupby("focus_key").indices.items()
        }

    def gold(self, foci: set[str], category: str) -> np.ndarray:
        return np.isin(self.focus, list(foci)) & (self.cat == category)


def similar_foci(kb: Kb, k: int = 5) -> dict[str, list[str]]:
    """Each focus's k nearest foci by their mean question embedding (hard negatives)."""
    keys = sorted(kb.by_focus)
    cent = np.stack([kb.q[kb.by_focus[f]].mean(0) for f in keys])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    out = {}
    for start in range(0, len(keys), 1024):
        sims = cent[start : start + 1024] @ cent.T
        for i, row in enumerate(sims):
            row[start + i] = -1.0
            top = np.argpartition(-row, k)[:k]
            out[keys[start + i]] = [keys[j] for j in top]
    return out


def build_pairs(
    queries: Queries, kb: Kb, near: dict[str, list[str]], seed: int, per_kind: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(query index, row index, label, weight) arrays; rows are MedQuAD indices."""
    rng = np.random.default_rng(seed)
    qi, ri, y, wt = [], [], [], []

    def add(q: int, rows: np.ndarray, label: int, n: int) -> None:
        if queries.row:
            rows = rows[rows != queries.row[q]]
        if len(rows) == 0:
            return
        pick = rng.choice(rows, size=min(n, len(rows)), replace=False)
        weight = queries.weight[q] if queries.weight else 1.0
        qi.extend([q] * len(pick))
        ri.extend(pick.tolist())
        y.extend([label] * len(pick))
        wt.extend([weight] * len(pick))

    for q, (foci, cat) in enumerate(zip(queries.foci, queries.category, strict=True)):
        same_focus = np.concatenate([kb.by_focus[f] for f in foci if f in kb.by_focus] or [[]])
        same_focus = same_focus.astype(int)
        pos = same_focus[kb.cat[same_focus] == cat]
        add(q, pos, 1, per_kind)
        add(q, same_focus[kb.cat[same_focus] != cat], 0, per_kind + 1)
        nearby = [r for f in foci for g in near.get(f, []) for r in kb.by_focus[g]]
        nearby = np.asarray(nearby, dtype=int)
        add(q, nearby[kb.cat[nearby] == cat] if len(nearby) else nearby, 0, per_kind)
        add(q, rng.integers(0, len(kb.df), size=per_kind), 0, per_kind)
    return np.array(qi), np.array(ri), np.array(y, np.float32), np.array(wt, np.float32)


def pair_arrays(queries: Queries, kb: Kb, pairs: tuple) -> tuple[list[np.ndarray], np.ndarray]:
    qi, ri, y, _ = pairs
    return [queries.emb[qi], kb.q[ri], kb.qa[ri]], y


@dataclass
class ExtraPairs:
    """Labelled pairs from outside the templates (people's ratings of answers, through
    `python -m training feedback --export`): query embeddings, MedQuAD row indices, labels."""

    emb: np.ndarray
    rows: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


FEEDBACK_WEIGHT = 2.0  # a person's judgement of an answer they were shown: worth two template pairs


def feedback_rows(
    pairs: list[tuple[str, str, bool]], kb: Kb
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(question, MedQuAD id, helpful) pairs as questions, row indices and labels; pairs whose
    answer id is not in the knowledge base are left out."""
    row_of = {str(i): r for r, i in enumerate(kb.df["id"])}
    kept = [(q, row_of[a], h) for q, a, h in pairs if a in row_of]
    return (
        [q for q, _, _ in kept],
        np.array([r for _, r, _ in kept], dtype=int),
        np.array([float(h) for _, _, h in kept], dtype=np.float32),
    )


def feedback_pairs(pairs: list[tuple[str, str, bool]], kb: Kb, enc, tok) -> ExtraPairs:
    """The pairs with their questions encoded (never cached on disk: they are health data)."""
    from training.encoder import embed_texts

    questions, rows, labels = feedback_rows(pairs, kb)
    emb = embed_texts(enc, tok, questions) if questions else np.zeros((0, kb.q.shape[1]))
    return ExtraPairs(np.asarray(emb, np.float32), rows, labels)


def with_extra_pairs(
    x: list[np.ndarray], y: np.ndarray, weight: np.ndarray, kb: Kb, extra: ExtraPairs | None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The training pairs with the extra ones appended (weighted FEEDBACK_WEIGHT)."""
    if extra is None or not len(extra):
        return x, y, weight
    extra_x = [extra.emb, kb.q[extra.rows], kb.qa[extra.rows]]
    return (
        [np.concatenate([a, b]).astype(np.float32) for a, b in zip(x, extra_x, strict=True)],
        np.concatenate([y, extra.labels]).astype(np.float32),
        np.concatenate([weight, np.full(len(extra), FEEDBACK_WEIGHT, np.float32)]),
    )


def train_reranker(
    train: Queries,
    val: Queries,
    kb: Kb,
    seed: int = data.SEED,
    epochs: int = 30,
    units: int = 128,
    verbose: int = 0,
    extra_pairs: ExtraPairs | None = None,
) -> tuple[Reranker, dict]:
    """Fit the pair model; keep the epoch with the best validation loss. extra_pairs (people's
    ratings) are added to the training pairs only, never to the validation ones."""
    near = similar_foci(kb)
    tr = build_pairs(train, kb, near, seed)
    va = build_pairs(val, kb, near, seed + 1)
    x, y = pair_arrays(train, kb, tr)
    x, y, weight = with_extra_pairs(x, y, tr[3], kb, extra_pairs)
    xv, yv = pair_arrays(val, kb, va)
    reranker, hist = fit_pairs(x, y, weight, xv, yv, units, seed, epochs, verbose)
    info = {"pairs": len(y), "positives": int(y.sum()), "val_pairs": len(yv)}
    info["feedback_pairs_used"] = len(extra_pairs) if extra_pairs is not None else 0
    info["epochs"] = len(hist["loss"])
    info["val_loss"] = round(float(min(hist["val_loss"])), 4)
    return reranker, info


def fit_pairs(
    x: list[np.ndarray],
    y: np.ndarray,
    weight: np.ndarray | None,
    xv: list[np.ndarray],
    yv: np.ndarray,
    units: int = 128,
    seed: int = data.SEED,
    epochs: int = 30,
    verbose: int = 0,
) -> tuple[Reranker, dict]:
    """Binary cross-entropy on (u, v, w) pairs; early stopping on the validation pairs."""
    model = build_reranker(units=units, seed=seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    hist = model.fit(
        x,
        y,
        sample_weight=weight,
        validation_data=(xv, yv),
        epochs=epochs,
        batch_size=256,
        callbacks=[stop],
        shuffle=True,
        verbose=verbose,
    )
    return Reranker(model), hist.history


# --- data: MedQuAD embeddings, paraphrases, consumer questions --------------------------------


def load_kb(progress: bool = False) -> tuple[Kb, data.Split, object, object]:
    """Cleaned MedQuAD with the retriever's embeddings (cached on disk, as training makes them)."""
    from training.embed_cache import cached_embeddings
    from training.encoder import load_pretrained_encoder, load_tokenizer

    df, _ = data.load_medquad()
    df["row"] = np.arange(len(df))
    split = data.split_by_focus(df, seed=data.SEED)
    enc, tok = load_pretrained_encoder(), load_tokenizer()
    q = cached_embeddings(enc, tok, df["question"].tolist(), "kb-question", progress)
    a_text = [data.answer_start(a) for a in df["answer"]]
    a = cached_embeddings(enc, tok, a_text, "kb-answer", progress)
    qa = q + a
    qa /= np.linalg.norm(qa, axis=1, keepdims=True)
    return Kb(df, q, qa), split, enc, tok


def medquad_queries(
    kb: Kb, split_df: pd.DataFrame, enc, tok, progress: bool, with_paraphrases: bool = True
) -> Queries:
    """MedQuAD questions of a split plus consumer-style paraphrases over its foci."""
    from training import unanswerable
    from training.embed_cache import cached_embeddings
    from training.encoder import layer_means_model
    from training.examples import training_texts
    from training.paraphrases import paraphrases

    rows = split_df["row"].to_numpy()
    emb = [kb.q[rows]]
    foci = [{f} for f in split_df["focus_key"]]
    cats = split_df["category"].tolist()
    own = rows.tolist()
    if not with_paraphrases:
        return Queries(emb[0], foci, cats, [1.0] * len(cats), own)
    # The texts the type head learns from after the questions (drug questions, then
    # paraphrases), encoded once through the layer-means model: their tail is the embedding.
    drugs = unanswerable.drug_split(data.SEED)["train"]
    texts, _ = training_texts(split_df, drugs, data.SEED, answer_starts=False)
    layers = cached_embeddings(
        layer_means_model(enc), tok, texts[len(split_df) :], "extra-layers", progress
    )
    extra = np.ascontiguousarray(layers[:, -HIDDEN:])
    focus_names = sorted(split_df["focus"].unique())
    para, para_cat = paraphrases(focus_names, set(split_df["category"]), data.SEED)
    key_of = dict(zip(split_df["focus"], split_df["focus_key"], strict=False))
    emb.append(extra[len(extra) - len(para) :])
    foci += [{key_of[focus_names[i // 2]]} for i in range(len(para))]
    cats += para_cat
    own += [-1] * len(para)
    return Queries(np.concatenate(emb), foci, cats, [1.0] * len(cats), own)


def consumer_queries(
    enc, tok, kb: Kb, progress: bool, labels: str = "template"
) -> dict[str, tuple[pd.DataFrame, Queries]]:
    """Consumer questions with a category and a focus found in MedQuAD, per split.

    `labels`: "template" (the summary's template gives both) or "hand" (the hand labels,
    `training/data/`, where a summary has them; the template's otherwise)."""
    from training.consumer import load_consumer
    from training.embed_cache import cached_embeddings

    c = load_consumer()
    if c is None:
        return {}
    if labels == "hand":
        c = c.assign(
            category=c["hand_category"].where(c["hand_category"] != "", c["category"]),
            focus_text=c["hand_focus"].where(c["hand_focus"] != "", c["focus_text"]),
        )
    index = FocusIndex.build(kb.df)

    def foci_of(focus_text: str) -> set[str]:
        matches = index.recognize(focus_text, limit=1)
        return set(matches[0].foci) if matches else set()

    c = c[(c["category"] != "") & (c["category"] != data.UNANSWERABLE) & (c["focus_text"] != "")]
    c = c.assign(foci=c["focus_text"].map(foci_of))
    c = c[c["foci"].map(bool)].reset_index(drop=True)
    emb = cached_embeddings(enc, tok, c["text"].tolist(), "consumer", progress)
    out = {}
    for part in ("train", "val", "test"):
        sel = (c["split"] == part).to_numpy()
        rows = c[sel].reset_index(drop=True)
        out[part] = (rows, Queries(emb[sel], rows["foci"].tolist(), rows["category"].tolist()))
    return out


def concat(*qs: Queries, weights: list[float]) -> Queries:
    return Queries(
        np.concatenate([q.emb for q in qs]),
        [f for q in qs for f in q.foci],
        [c for q in qs for c in q.category],
        [w for q, wq in zip(qs, weights, strict=True) for w in [wq] * len(q.category)],
        [r for q in qs for r in (q.row or [-1] * len(q.category))],
    )


def subset(q: Queries, keep: np.ndarray) -> Queries:
    """The queries where `keep` is true."""
    idx = np.flatnonzero(keep)
    return Queries(
        q.emb[idx],
        [q.foci[i] for i in idx],
        [q.category[i] for i in idx],
        [q.weight[i] for i in idx] if q.weight else [],
        [q.row[i] for i in idx] if q.row else [],
    )


# --- evaluation --------------------------------------------------------------------------------


def rank_metrics(orders: list[np.ndarray], golds: list[np.ndarray]) -> dict:
    """MRR@10, hit@1, hit@3 of the first gold candidate; orders index into each gold mask."""
    rr, h1, h3 = [], [], []
    for order, gold in zip(orders, golds, strict=True):
        hits = np.flatnonzero(gold[order][:10])
        first = int(hits[0]) if len(hits) else None
        rr.append(1.0 / (first + 1) if first is not None else 0.0)
        h1.append(first == 0)
        h3.append(first is not None and first < 3)
    n = len(orders)
    mean = lambda xs: round(float(np.mean(xs)), 4) if n else None  # noqa: E731
    return {"mrr@10": mean(rr), "hit@1": mean(h1), "hit@3": mean(h3), "n": n}


def evaluate_reranker(
    reranker: Reranker,
    retriever: Retriever,
    questions: pd.DataFrame,
    queries: Queries,
    category_probs: Callable[[str], dict[str, float] | None] | None = None,
    n_candidates: int = CANDIDATES,
) -> dict:
    """Re-ranker vs none on labelled consumer questions, in two candidate settings:
    `fused`: the top `n_candidates` of `Retriever.search` (today's order);
    `focus`: every row of the gold focus (what focus-first selection gives when it is right).
    Gold: the row's focus and type both match the label."""
    kb_focus = retriever.kb["focus"].str.lower().str.strip().to_numpy()
    kb_cat = retriever.categories
    row_of = {rid: i for i, rid in enumerate(retriever.kb["id"])}
    orders: dict[str, dict[str, list]] = {"fused": {}, "focus": {}}
    golds: dict[str, list] = {"fused": [], "focus": []}
    recall = []
    for text, emb, foci, cat in zip(
        questions["text"], queries.emb, queries.foci, queries.category, strict=True
    ):
        gold = np.isin(kb_focus, list(foci)) & (kb_cat == cat)
        probs = category_probs(text) if category_probs else None
        found = retriever.search(text, emb, probs, n_candidates).answers
        fused = np.array([row_of[r["id"]] for r in found], dtype=int)
        recall.append(bool(gold[fused].any()) if len(fused) else False)
        focus_rows = np.flatnonzero(np.isin(kb_focus, list(foci)))
        rank_of = {int(r): i for i, r in enumerate(fused)}
        for setting, cand in (("fused", fused), ("focus", focus_rows)):
            golds[setting].append(gold[cand])
            dense = np.maximum(retriever.q_emb[cand] @ emb, retriever.qa_emb[cand] @ emb)
            score = reranker.score(emb, retriever.q_emb[cand], retriever.qa_emb[cand])
            # Rows outside the fused list keep their dense order, after the fused ones.
            fused_key = np.array([-rank_of.get(int(r), len(fused)) for r in cand]) + 1e-3 * dense
            # Re-ranker fused with today's order by reciprocal rank: keeps BM25's lexical hits.
            both = _rrf(np.argsort(-fused_key, kind="stable")) + _rrf(np.argsort(-score))
            for name, key in (
                ("fused", fused_key),
                ("dense", dense),
                ("reranker", score),
                ("rr+fused", both),
            ):
                orders[setting].setdefault(name, []).append(np.argsort(-key, kind="stable"))
    report: dict = {"n": len(questions)}
    report["gold_in_fused_candidates"] = round(float(np.mean(recall)), 4) if recall else None
    for setting in ("fused", "focus"):
        report[setting] = {
            name: rank_metrics(o, golds[setting]) for name, o in orders[setting].items()
        }
    return report


def _rrf(order: np.ndarray, k: int = 10) -> np.ndarray:
    """Reciprocal-rank score of each item given an order (best first)."""
    out = np.zeros(len(order))
    out[order] = 1.0 / (k + 1 + np.arange(len(order)))
    return out


def format_table(name: str, report: dict) -> str:
    lines = [
        f"{name}: {report['n']} questions; gold in fused top-{CANDIDATES}: "
        f"{report['gold_in_fused_candidates']}",
        f"{'candidates':<22}{'order':<10}{'MRR@10':>8}{'hit@1':>8}{'hit@3':>8}",
    ]
    for setting, label in (("fused", f"fused top-{CANDIDATES}"), ("focus", "gold-focus rows")):
        for order, m in report[setting].items():
            lines.append(
                f"{label:<22}{order:<10}{m['mrr@10']:>8.3f}{m['hit@1']:>8.3f}{m['hit@3']:>8.3f}"
            )
    return "\n".join(lines)


def build_retriever(kb: Kb) -> Retriever:
    from medtriage.retrieval import BM25, bm25_text

    bm25 = BM25.build([bm25_text(r) for _, r in kb.df.iterrows()])
    return Retriever(kb.df, bm25, kb.q, kb.qa)


def benchmark(reranker: Reranker, n: int = 50, repeat: int = 2000) -> dict:
    """Per-call cost of `score` (numpy) and of a fixed-signature tf.function over the model."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    u = rng.normal(size=384).astype(np.float32)
    cq, cqa = rng.normal(size=(2, n, 384)).astype(np.float32)
    spec = tf.TensorSpec((None, 384), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((384,), tf.float32), spec, spec])
    def call(q, a, b):
        return reranker.model([tf.broadcast_to(q[None], tf.shape(a)), a, b], training=False)

    def timed(fn) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        return round((time.perf_counter() - start) / repeat * 1e3, 4)

    return {
        "n": n,
        "numpy_ms": timed(lambda: reranker.score(u, cq, cqa)),
        "tf_function_ms": timed(lambda: call(u, cq, cqa).numpy()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m training.reranker")
    ap.add_argument("--train", action="store_true", help="fit and save to --out")
    ap.add_argument("--eval", action="store_true", help="print re-ranker vs none (val)")
    ap.add_argument("--test", action="store_true", help="also the consumer test split")
    ap.add_argument("--bench", action="store_true", help="time score() for n=50")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--consumer-weight", type=float, default=CONSUMER_REPEAT)
    ap.add_argument("--pairs", choices=["template", "hand"], default="template",
                    help="consumer labels the training pairs take")  # fmt: skip
    ap.add_argument("--eval-labels", choices=["template", "hand"], default="template",
                    help="consumer labels the evaluation reads")  # fmt: skip
    ap.add_argument("--progress", action="store_true")
    ap.add_argument(
        "--feedback", help="labelled pairs from `python -m training feedback --export` (opt in)"
    )
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(data.SEED)
    kb, split, enc, tok = load_kb(args.progress)
    consumer = consumer_queries(enc, tok, kb, args.progress, args.pairs)
    # Built again only when the evaluation reads other labels than the training pairs.
    judged = (
        consumer
        if args.eval_labels == args.pairs
        else consumer_queries(enc, tok, kb, args.progress, args.eval_labels)
    )
    if args.train:
        started = time.perf_counter()
        med_train = medquad_queries(kb, split.train, enc, tok, args.progress)
        med_val = medquad_queries(kb, split.val, enc, tok, args.progress, with_paraphrases=False)
        train = concat(med_train, consumer["train"][1], weights=[1.0, args.consumer_weight])
        val = concat(med_val, consumer["val"][1], weights=[1.0, 1.0])
        extra = None
        if args.feedback:
            from training.feedback import load_feedback_pairs

            extra = feedback_pairs(load_feedback_pairs(args.feedback), kb, enc, tok)
        reranker, info = train_reranker(train, val, kb, units=args.units, extra_pairs=extra)
        info["seconds"] = round(time.perf_counter() - started, 1)
        reranker.save(args.out)
        print(f"trained: {info}; saved {args.out / 'reranker.keras'}")
    reranker = Reranker.load(args.out)
    if args.eval or args.train:
        retriever = build_retriever(kb)
        parts = ["val", "test"] if args.test else ["val"]
        for part in parts:
            rows, q = judged[part]
            print(format_table(f"consumer {part}", evaluate_reranker(reranker, retriever, rows, q)))
    if args.bench:
        print(benchmark(reranker))


if __name__ == "__main__":
    main()
