"""Evaluation on held-out data: MedQuAD test split (by focus) and LiveQA consumer questions.

The LiveQA questions are only ever read here. The TF-IDF + logistic-regression baseline is
trained on the same training texts in the same run, so the two are compared like for like.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline

from common import REPO_ROOT
from medtriage.redflags import is_urgent
from training import data, unanswerable
from training.answer_eval import consumer_heldout, quality
from training.consumer import consumer_hand_labelled
from training.examples import sample, training_texts
from training.urgency import outside_report, urgency_report

REDFLAG_CASES = REPO_ROOT / "medtriage" / "data" / "redflag_cases.csv"


def train_baseline(split: data.Split, drugs: dict, seed: int):
    """TF-IDF + logistic regression on the same texts the Keras head learns from."""
    texts, labels = training_texts(split.train, drugs["train"], seed)
    clf = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=10.0),
    )
    return clf.fit(texts, labels)


def classification_scores(probs: np.ndarray, labels: list[str], gold: list[str]) -> dict:
    pred = [labels[i] for i in probs.argmax(axis=1)]
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4),
        "n": len(gold),
    }


def consumer_scores(probs: np.ndarray, labels: list[str], gold: list[list[str]]) -> dict:
    """top1: the predicted category is one of the annotated ones; top2: one of the best two."""
    order = np.argsort(-probs, axis=1)
    hit1 = [labels[o[0]] in g for o, g in zip(order, gold, strict=True)]
    hit2 = [bool({labels[o[0]], labels[o[1]]} & set(g)) for o, g in zip(order, gold, strict=True)]
    return {
        "top1": round(float(np.mean(hit1)), 4) if gold else None,
        "top2": round(float(np.mean(hit2)), 4) if gold else None,
        "n": len(gold),
    }


def hand_scores(probs: np.ndarray, labels: list[str], rows: pd.DataFrame) -> dict:
    """Type top-1/top-2 against the hand labels: every message, and those MedQuAD could answer
    (not `unanswerable`)."""
    gold = [[c] for c in rows["hand_category"]]
    answerable = (rows["hand_category"] != data.UNANSWERABLE).to_numpy()
    return {
        "all": consumer_scores(probs, labels, gold),
        "answerable": consumer_scores(
            probs[answerable], labels, [g for g, a in zip(gold, answerable, strict=True) if a]
        ),
    }


def expected_calibration_error(probs: np.ndarray, labels: list[str], gold: list[str]) -> float:
    conf = probs.max(axis=1)
    correct = np.array([labels[i] == g for i, g in zip(probs.argmax(axis=1), gold, strict=True)])
    bins = np.linspace(0, 1, 11)
    ece = 0.0
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return round(float(ece), 4)


def redflag_scores() -> dict:
    cases = pd.read_csv(REDFLAG_CASES)
    pred = cases["question"].map(is_urgent).to_numpy()
    gold = cases["urgent"].astype(bool).to_numpy()
    tp = int((pred & gold).sum())
    return {
        "precision": round(tp / max(int(pred.sum()), 1), 4),
        "recall": round(tp / max(int(gold.sum()), 1), 4),
        "n": len(cases),
        "n_urgent": int(gold.sum()),
    }


def answer_quality(pipe, liveqa: pd.DataFrame | None) -> dict:
    """Focus, type and ranking quality on the held-out consumer questions and on LiveQA."""
    out = {}
    heldout = consumer_heldout("test")
    if heldout is not None:
        out["consumer_test"] = quality(pipe, heldout[0], heldout[1])
        by_hand = consumer_heldout("test", labels="hand")
        out["consumer_test_hand"] = quality(pipe, by_hand[0], by_hand[1])
    if liveqa is not None and len(liveqa):
        out["liveqa"] = quality(pipe, liveqa)
    return out


def evaluate_pipeline(
    pipe, df, split: data.Split, drugs: dict, seed: int, version: str, progress: bool = False
) -> dict:
    """The full evaluation report of a loaded pipeline, with the baseline beside it."""
    from tqdm import tqdm

    steps = tqdm(total=5, desc="evaluating", unit="part", disable=not progress)
    labels = pipe.labels
    test_q = split.test["question"].tolist()
    test_gold = split.test["category"].tolist()
    drug_q = unanswerable.questions(drugs["test"], seed + 2)
    consumer = data.load_consumer_questions()
    answerable = consumer[consumer["categories"].map(bool)] if consumer is not None else None
    hand = consumer_hand_labelled("test", seed)
    baseline = train_baseline(split, drugs, seed)
    steps.update()

    def baseline_probs(texts: list[str]) -> np.ndarray:
        p = baseline.predict_proba(texts)
        cols = [
            list(baseline.classes_).index(lab) if lab in baseline.classes_ else None
            for lab in labels
        ]
        return np.stack([p[:, c] if c is not None else np.zeros(len(texts)) for c in cols], 1)

    report: dict = {"version": version, "labels": labels}
    for name, predict in (("model", lambda t: pipe.predict(t)[0]), ("baseline", baseline_probs)):
        probs = predict(test_q) if test_q else np.zeros((0, len(labels)))
        entry = {"medquad": classification_scores(probs, labels, test_gold) if test_q else None}
        if name == "model" and test_q:
            entry["medquad"]["ece"] = expected_calibration_error(probs, labels, test_gold)
            report["confusion"] = confusion_matrix(
                test_gold, [labels[i] for i in probs.argmax(1)], labels=labels
            ).tolist()
        d_probs = predict(drug_q)
        entry["unanswerable_recall"] = round(
            float(np.mean([labels[i] == data.UNANSWERABLE for i in d_probs.argmax(1)])), 4
        )
        if answerable is not None and len(answerable):
            c_probs = predict(answerable["text"].tolist())
            entry["consumer"] = consumer_scores(c_probs, labels, answerable["categories"].tolist())
        if hand is not None and len(hand):
            entry["consumer_test_hand"] = hand_scores(predict(hand["text"].tolist()), labels, hand)
        report[name] = entry
    steps.update()
    if answerable is not None and len(answerable):
        abstained = [pipe.triage(t)["abstained"] for t in answerable["text"]]
        report["model"]["consumer"]["abstained"] = round(float(np.mean(abstained)), 4)
        report["always_treatment_consumer_top1"] = round(
            float(np.mean(["treatment" in g for g in answerable["categories"]])), 4
        )
    steps.update()
    report["answers"] = answer_quality(pipe, answerable)
    steps.update()
    report["red_flags"] = redflag_scores()
    report["urgency"] = urgency_report(pipe, "test")
    if pipe.urgency is not None:
        report["urgency_outside"] = outside_report(pipe)
    steps.update()
    steps.close()
    # The val split trains the heads now; their cross-validated figures come from training.
    if "cross_validated" in (pipe.config.get("urgency") or {}):
        report["urgency_cv"] = pipe.config["urgency"]["cross_validated"]
    report["split"] = {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    return report


def main(args) -> None:
    """`python -m training evaluate`: fetch a published version and print its report."""
    from medtriage.pipeline import TriagePipeline
    from medtriage.store import fetch_version, open_store, resolve_version

    store = open_store(args.store)
    version = resolve_version(store, args.version)
    with tempfile.TemporaryDirectory(prefix="medtriage-eval-") as tmp:
        model_dir = fetch_version(store, version, Path(tmp))
        pipe = TriagePipeline.load(model_dir)
        cfg = pipe.config
        df, _ = data.load_medquad(args.data)
        df = sample(df, cfg.get("limit"), cfg["seed"])
        split = data.split_by_focus(df, seed=cfg["seed"])
        drugs = unanswerable.drug_split(cfg["seed"])
        # Progress on stderr; stdout is the JSON report.
        report = evaluate_pipeline(pipe, df, split, drugs, cfg["seed"], version, progress=True)
    report.pop("confusion", None)
    print(json.dumps(report, indent=2))
