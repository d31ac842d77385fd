"""MedQuAD and LiveQA loading, cleaning, labels and the held-out split."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common import REPO_ROOT
from medtriage.categories import MERGED_QTYPES, UNANSWERABLE  # noqa: F401 - re-exported
from medtriage.store import sha256_file

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CACHE_DIR = REPO_ROOT / ".data"
SEED = 20261122

# LiveQA consumer types -> our categories (table in ../shared/data/README.md).
LIVEQA_TO_CATEGORY = {
    "treatment": "treatment",
    "information": "information",
    "cause": "causes",
    "prognosis": "outlook",
    "diagnosis": "exams and tests",
    "symptom": "symptoms",
    "inheritance": "inheritance",
    "prevention": "prevention",
    "genetic changes": "genetic changes",
    "complication": "complications",
}
# Drug questions: MedQuAD's public part has no answers for them.
LIVEQA_UNANSWERABLE = {
    "side effects",
    "indication",
    "usage",
    "contraindication",
    "tapering",
    "dosage",
    "interaction",
    "storage and disposal",
    "ingredient",
}


def medquad_path(path: str | Path | None = None) -> Path:
    """Explicit path, else $MEDTRIAGE_DATA, else ../shared/data, else download and cache."""
    chosen = path or os.environ.get("MEDTRIAGE_DATA")
    if chosen:
        return Path(chosen)
    shared = SHARED_DATA / "medquad.csv.gz"
    if shared.exists():
        return shared
    cached = CACHE_DIR / "medquad.csv.gz"
    if cached.exists():
        return cached
    from training.medquad_xml import download_medquad

    return download_medquad(CACHE_DIR)


def load_medquad(path: str | Path | None = None) -> tuple[pd.DataFrame, str]:
    """Cleaned MedQuAD table and the sha256 of the file it came from."""
    src = medquad_path(path)
    df = pd.read_csv(src, keep_default_na=False, dtype=str)
    return clean(df), sha256_file(src)


def clean(df: pd.DataFrame) -> pd.DataFrame:
    """Drop empty answers and exact duplicate pairs; add the `category` label."""
    df = df[df["answer"].str.strip() != ""]
    df = df.drop_duplicates(subset=["question", "answer"]).copy()
    df["category"] = df["qtype"].map(lambda q: MERGED_QTYPES.get(q, q))
    df["focus_key"] = df["focus"].str.lower().str.strip()
    return df.reset_index(drop=True)


def labels_of(df: pd.DataFrame) -> list[str]:
    """Sorted categories, with the unanswerable class last."""
    return sorted(df["category"].unique()) + [UNANSWERABLE]


@dataclass
class Split:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def split_by_focus(
    df: pd.DataFrame, test: float = 0.2, val: float = 0.1, seed: int = SEED
) -> Split:
    """Held-out split by focus: no disease appears in two parts. Fixed seed."""
    foci = np.array(sorted(df["focus_key"].unique()))
    rng = np.random.default_rng(seed)
    rng.shuffle(foci)
    n_test, n_val = int(len(foci) * test), int(len(foci) * val)
    part = {f: "test" for f in foci[:n_test]}
    part.update({f: "val" for f in foci[n_test : n_test + n_val]})
    where = df["focus_key"].map(lambda f: part.get(f, "train"))
    return Split(*(df[where == p].reset_index(drop=True) for p in ("train", "val", "test")))


def answer_start(answer: str, chars: int = 300) -> str:
    """The first few hundred characters, cut at a word boundary."""
    text = " ".join(answer.split())
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0]


def liveqa_path() -> Path:
    return Path(os.environ.get("MEDTRIAGE_LIVEQA", SHARED_DATA / "liveqa_train_questions.csv.gz"))


def load_consumer_questions() -> pd.DataFrame | None:
    """LiveQA consumer questions for evaluation only; None where the file is absent."""
    path = liveqa_path()
    if not path.exists():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    df["text"] = (df["subject"].str.strip() + ". " + df["message"].str.strip()).str.strip(". ")
    types = df["qtypes"].str.split(";")
    df["categories"] = types.map(
        lambda ts: sorted({LIVEQA_TO_CATEGORY[t] for t in ts if t in LIVEQA_TO_CATEGORY})
    )
    df["drug_only"] = types.map(lambda ts: all(t in LIVEQA_UNANSWERABLE for t in ts))
    df["foci"] = df["focus"].map(lambda f: [x.strip().lower() for x in f.split(";") if x.strip()])
    df["subq"] = df["subquestions"].map(json.loads)
    return df
