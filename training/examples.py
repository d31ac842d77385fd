"""What the triage head learns from: a sample of MedQuAD for quick runs, and the training texts."""

from __future__ import annotations

import pandas as pd

from training import data, unanswerable
from training.paraphrases import paraphrases


def sample(df: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """A stratified sample (by category) of about `limit` rows, for quick runs and tests."""
    if not limit or limit >= len(df):
        return df
    frac = limit / len(df)
    parts = [
        g.sample(max(2, int(round(len(g) * frac))), random_state=seed) if len(g) > 2 else g
        for _, g in df.groupby("category")
    ]
    return pd.concat(parts).sort_index().reset_index(drop=True)


def training_texts(
    split_df: pd.DataFrame, drugs: list[str], seed: int, answer_starts: bool = True
) -> tuple[list, list]:
    """Texts labelled with a category, in order: the split's questions, their answer starts
    (unless `answer_starts` is False), drug questions (unanswerable) and consumer-style
    phrasings over the split's foci."""
    texts = split_df["question"].tolist()
    labels = split_df["category"].tolist()
    if answer_starts:
        texts += [data.answer_start(a) for a in split_df["answer"]]
        labels *= 2
    drug_q = unanswerable.questions(drugs, seed)
    para_q, para_y = paraphrases(sorted(split_df["focus"].unique()), set(labels), seed)
    return texts + drug_q + para_q, labels + [data.UNANSWERABLE] * len(drug_q) + para_y


def consumer_examples(
    labels: list[str], seed: int, split: str, column: str = "category", text: str = "text"
) -> tuple[list[str], list[str]]:
    """Consumer messages (or, with `text="summary"`, their expert summaries) of one split whose
    `column` (`category`: the summary's template; `hand_category`: labelled by hand) gives a
    category we have."""
    from training.consumer import load_consumer

    df = load_consumer(seed)
    if df is None:
        return [], []
    rows = df[(df["split"] == split) & df[column].isin(labels) & (df[text].str.strip() != "")]
    return rows[text].tolist(), rows[column].tolist()
