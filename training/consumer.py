"""Real consumer questions with expert summaries (`consumer_questions.csv.gz`): labels from the
summaries, and a fixed held-out split.

Two kinds of label. About 450 summaries read like MedQuAD questions ("What are the treatments
for X?"): the template gives the category and the focus. Every summary also has a category and
a focus labelled by hand (`training/data/`), which the type head learns from; the template
labels stay for comparison. Questions about medicines get `unanswerable`. The split is by `id`
with a fixed seed: `test` is never trained on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from medtriage.categories import UNANSWERABLE
from training.data import SEED, SHARED_DATA

TEST_FRACTION = 0.25
VAL_FRACTION = 0.15
# Every summary's type, labelled by hand from the summary alone (ids and labels only: the
# messages are not ours to publish); `training/data/README.md` says how.
HAND_LABELS = Path(__file__).resolve().parent / "data" / "consumer_types.csv"
# The condition each summary asks about, as written in it (empty: a medicine or no condition).
HAND_FOCI = Path(__file__).resolve().parent / "data" / "consumer_foci.csv"

# (category, pattern with an optional `focus` group), tried in order on the summary.
_F = r"(?P<focus>[^?]+?)"
_WHICH = r"(the )?(best |recommended |non-surgical |latest |available |possible |current )?"
TEMPLATES: list[tuple[str, str]] = [
    (
        UNANSWERABLE,
        r"side effects?|dosage|dose of|interactions? (of|between|with)|contraindicat"
        r"|who (makes|manufactures)|ingredients?|generic (version|form)",
    ),
    (
        "treatment",
        rf"^what (are|is) {_WHICH}(treatments?|therap(y|ies)|cures?|medications?|remed(y|ies)) (for|of) {_F}\??$",
    ),
    ("treatment", rf"^is there (a|an|any) (cure|treatment) for {_F}\??$"),
    ("treatment", rf"^how (is|are|can) {_F} (be )?(treated|cured|managed)\??$"),
    ("treatment", rf"^(what treats|how (can i|to) (treat|cure|manage|get rid of)) {_F}\??$"),
    ("causes", rf"^what (are the )?(causes?|caused?) (of )?{_F}\??$"),
    ("causes", rf"^what could cause {_F}\??$"),
    ("symptoms", rf"^what are (the )?(symptoms|signs)( and symptoms)? of {_F}\??$"),
    ("exams and tests", rf"^how (is|are|can) {_F} (be )?(diagnosed|detected|tested)\??$"),
    ("inheritance", rf"^is {_F} (inherited|genetic|hereditary)\??$"),
    (
        "inheritance",
        rf"^(how is {_F} inherited|what are the inheritance patterns? (for|of) .+)\??$",
    ),
    ("prevention", rf"^(how (can|do) (i |you )?(prevent|avoid)|how to prevent) {_F}\??$"),
    ("prevention", rf"^can {_F} be prevented\??$"),
    ("outlook", rf"^what is the (outlook|prognosis|life expectancy) (for|of) {_F}\??$"),
    ("complications", rf"^what (are the )?complications of {_F}\??$"),
    ("complications", rf"^what can {_F} lead to\??$"),
    (
        "information",
        rf"^where can i (find|get) (more |the latest )?information (on|about) {_F}\??$",
    ),
]
# More summaries with one clear type (research, genetic testing, "what treatments are
# available", support groups); kept apart so `training.type_cv` can compare with and without.
MORE_TEMPLATES: list[tuple[str, str]] = [
    (
        "treatment",
        rf"^what (new |non-drug |drug |alternative |natural/alternative |drugs/)?"
        rf"(treatments?|therapies) (are|is) available for {_F}\??$",
    ),
    (
        "treatment",
        rf"^what are (the )?(non-drug |drug |alternative |non-steriod |latest evidence based )"
        rf"treatments? (for|to) {_F}\??$",
    ),
    ("treatment", rf"^what (are|is) the treatments? and (prognosis|outlook|recovery) for {_F}\??$"),
    ("treatment", rf"^can {_F} be cured\??$"),
    ("treatment", rf"^are there (any )?(treatments|herbal medicines) for {_F}\??$"),
    (
        "research",
        rf"^(what is the latest research on|who is doing research on|where can i find "
        rf"(the latest research on|clinical trials (for|on))|what clinical trials are available "
        rf"for|are there clinical trials for) {_F}\??$",
    ),
    ("exams and tests", rf"^where can i get genetic testing for {_F}\??$"),
    ("exams and tests", rf"^(is|are) there (a |any )?(blood |genetic |dna )?tests? for {_F}\??$"),
    ("prevention", rf"^how (can|is|are) {_F} (be )?prevented\??$"),
    ("information", rf"^where can i find support groups for (people with )?{_F}\??$"),
]
# Last: "What is X?" when nothing more specific matched.
CATCH_ALL = (
    "information",
    r"^what (is|are) (an? )?(?P<focus>(?!.*\b(treatments?|causes?|symptoms?|prognosis|best|normal|risks?|difference)\b)[^?]+?)\??$",
)


def compile_templates(templates: list[tuple[str, str]]) -> list[tuple[str, re.Pattern]]:
    return [(cat, re.compile(p, re.I)) for cat, p in templates]


_COMPILED = compile_templates(TEMPLATES + MORE_TEMPLATES + [CATCH_ALL])


def template_label(
    summary: str, compiled: list[tuple[str, re.Pattern]] | None = None
) -> tuple[str | None, str | None]:
    """(category, focus as written) of a summary that follows a template, else (None, None)."""
    text = " ".join(summary.split()).strip()
    for category, pattern in compiled or _COMPILED:
        match = pattern.search(text)
        if match:
            focus = match.groupdict().get("focus")
            if focus:
                # "X, including cost" / "X and what are the treatments for it": keep X.
                focus = re.split(r",| and (what|how|where|is|can|are)\b| including ", focus)[0]
            return category, focus.strip(" .") if focus else None
    return None, None


def consumer_path() -> Path:
    return Path(os.environ.get("MEDTRIAGE_CONSUMER", SHARED_DATA / "consumer_questions.csv.gz"))


def message_text(question: str) -> str:
    """The message as a person wrote it, without MeQSum's SUBJECT:/MESSAGE: markers."""
    text = re.sub(r"\b(SUBJECT|MESSAGE)\s*:\s*", " ", question)
    return " ".join(text.split())


def hand_labels(path: Path | None = None, column: str = "category") -> dict[str, str]:
    """id -> `column` (category, or focus with HAND_FOCI), labelled by hand; empty when the
    file is absent."""
    path = path or HAND_LABELS
    if not path.exists():
        return {}
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    return dict(zip(table["id"], table[column], strict=True))


def load_consumer(seed: int = SEED) -> pd.DataFrame | None:
    """Every consumer question with `text`, `category` (from a template, else ""),
    `hand_category` and `hand_focus` (by hand, else ""), `focus_text` (from the template) and
    `split`; None if absent."""
    path = consumer_path()
    if not path.exists():
        return None
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    df["text"] = df["question"].map(message_text)
    labels = df["summary"].map(template_label)
    df["category"] = labels.map(lambda x: x[0] or "")
    df["focus_text"] = labels.map(lambda x: x[1] or "")
    df["hand_category"] = df["id"].map(hand_labels()).fillna("")
    df["hand_focus"] = df["id"].map(hand_labels(HAND_FOCI, "focus")).fillna("")
    ids = np.array(sorted(df["id"]))
    rng = np.random.default_rng(seed)
    rng.shuffle(ids)
    n_test, n_val = int(len(ids) * TEST_FRACTION), int(len(ids) * VAL_FRACTION)
    part = {i: "test" for i in ids[:n_test]}
    part.update({i: "val" for i in ids[n_test : n_test + n_val]})
    df["split"] = df["id"].map(lambda i: part.get(i, "train"))
    return df


def consumer_hand_labelled(split: str, seed: int = SEED) -> pd.DataFrame | None:
    """The consumer questions of one split that have a hand label (None without the data)."""
    df = load_consumer(seed)
    if df is None:
        return None
    return df[(df["split"] == split) & (df["hand_category"] != "")].reset_index(drop=True)
