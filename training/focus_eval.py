"""Focus recognition accuracy on annotated consumer questions (consumer set, LiveQA Train-1).

A hit is when the top match's condition group holds one of the annotated foci: the annotated
string, normalised, equals one of the group's MedQuAD foci, or recognising the annotated string on
its own lands in the same group (so "macular degeneration" == "age-related macular degeneration").
Many annotated foci are drugs or procedures MedQuAD does not cover; `in_kb_*` restricts to
questions whose annotated focus is a MedQuAD condition. On every consumer message of the
development splits, it also prints how often the top condition is the one the expert summary names.

    python -m training.focus_eval            # consumer train/val (development)
    python -m training.focus_eval --final    # + consumer test and LiveQA Train-1 (report once)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from medtriage.focus import FocusIndex, normalise
from training.data import SHARED_DATA


def data_dir() -> Path:
    """Shared data: $MEDTRIAGE_SHARED_DATA, else the repo's sibling `shared/data`."""
    env = os.environ.get("MEDTRIAGE_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [SHARED_DATA]:
        if (cand / "medquad.csv.gz").exists():
            return cand
    return SHARED_DATA


def focus_accuracy(index: FocusIndex, questions: list[str], gold: list[list[str]]) -> dict:
    """accuracy/coverage overall and on questions whose annotated focus is in MedQuAD."""
    n = hits = covered = n_kb = hits_kb = covered_kb = 0
    for q, foci in zip(questions, gold, strict=True):
        foci = [f for f in foci if f.strip()]
        if not foci:
            continue
        n += 1
        gold_groups = [index.group_of(f) for f in foci]
        in_kb = any(g is not None for g in gold_groups)
        matches = index.recognize(q, limit=1)
        hit = False
        if matches:
            top = matches[0].foci
            keys = {normalise(f) for f in top}
            hit = any(normalise(f) in keys for f in foci) or any(g == top for g in gold_groups)
        hits += hit
        covered += bool(matches)
        if in_kb:
            n_kb += 1
            hits_kb += hit
            covered_kb += bool(matches)
    return {
        "n": n,
        "accuracy": hits / n if n else 0.0,
        "coverage": covered / n if n else 0.0,
        "n_in_kb": n_kb,
        "in_kb_accuracy": hits_kb / n_kb if n_kb else 0.0,
        "in_kb_coverage": covered_kb / n_kb if n_kb else 0.0,
    }


def summary_agreement(index: FocusIndex, split: str) -> tuple[float, int]:
    """Share of a consumer split's messages whose top condition is the one their expert summary
    names (messages whose summary names none are left out); and how many were counted."""
    from training.consumer import load_consumer

    df = load_consumer()
    df = df[df.split == split]
    pairs = [(t, index.recognize(s, limit=1)) for t, s in zip(df.text, df.summary, strict=True)]
    pairs = [(t, g[0].foci) for t, g in pairs if g]
    hits = sum(bool(m := index.recognize(t, limit=1)) and m[0].foci == g for t, g in pairs)
    return (hits / len(pairs) if pairs else 0.0), len(pairs)


def liveqa_set() -> tuple[list[str], list[list[str]]]:
    df = pd.read_csv(data_dir() / "liveqa_train_questions.csv.gz", keep_default_na=False, dtype=str)
    questions = [f"SUBJECT: {s} MESSAGE: {m}" for s, m in zip(df.subject, df.message, strict=True)]
    return questions, [f.split(";") for f in df.focus]


def consumer_set(split: str) -> tuple[list[str], list[list[str]]]:
    os.environ.setdefault("MEDTRIAGE_CONSUMER", str(data_dir() / "consumer_questions.csv.gz"))
    from training.consumer import load_consumer

    df = load_consumer()
    df = df[(df.split == split) & (df.focus_text != "")]
    return list(df.text), [[f] for f in df.focus_text]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--final", action="store_true", help="also consumer test and LiveQA Train-1")
    args = ap.parse_args(argv)
    kb = pd.read_csv(data_dir() / "medquad.csv.gz", keep_default_na=False, dtype=str)
    t0 = time.perf_counter()
    index = FocusIndex.build(kb)
    print(f"index: {len(index.groups)} condition groups, built in {time.perf_counter() - t0:.1f}s")
    sets = {"consumer train": consumer_set("train"), "consumer val": consumer_set("val")}
    if args.final:
        sets["consumer test"] = consumer_set("test")
        sets["liveqa train-1"] = liveqa_set()
    for name, (qs, gold) in sets.items():
        r = focus_accuracy(index, qs, gold)
        print(
            f"{name:15s} n={r['n']:4d} acc={r['accuracy']:.3f} cov={r['coverage']:.3f} | "
            f"in-kb n={r['n_in_kb']:4d} acc={r['in_kb_accuracy']:.3f} cov={r['in_kb_coverage']:.3f}"
        )
    for split in ("train", "val"):
        agree, n = summary_agreement(index, split)
        print(f"consumer {split:5s} top condition = the summary's: {agree:.3f} of {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
