"""QA retrieval over MedQuAD: BM25 fused with dense embeddings, preferring the predicted category.

Built at training time and published with the model: BM25 term weights (sparse), unit-length
embeddings of each row's question and of question + answer start, and the knowledge base rows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from medtriage.answer import Answer

TOKEN = re.compile(r"[a-z0-9]+")
# Template words carry no topic: "What are the symptoms of X ?" should match on X.
STOPWORDS = frozenset(
    """a about am an and are as at be been being but by can could do does for from has have
    how i if in into is it its me my of on or our should so than that the their them there
    these they this to was we were what when where which who why will with would you your
    he she his her him is are (are) get got any some know tell please thank thanks""".split()
)
RRF_K = 60
CANDIDATES = 100


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25:
    """Okapi BM25 with per-document term weights precomputed into a sparse matrix."""

    def __init__(self, vocab: dict[str, int], weights: sparse.csr_matrix):
        self.vocab = vocab
        self.weights = weights.tocsc()

    @classmethod
    def build(cls, docs: list[str], k1: float = 1.2, b: float = 0.75) -> BM25:
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float32)
        for i, doc in enumerate(docs):
            toks = tokenize(doc)
            lengths[i] = len(toks)
            uniq, cnt = np.unique(toks, return_counts=True)
            for tok, c in zip(uniq, cnt, strict=True):
                rows.append(i)
                cols.append(vocab.setdefault(str(tok), len(vocab)))
                counts.append(c)
        tf = sparse.csr_matrix(
            (np.array(counts, np.float32), (rows, cols)), shape=(len(docs), len(vocab))
        )
        df = np.bincount(cols, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))
        tf = tf.tocoo()
        vals = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        weights = sparse.csr_matrix((vals, (tf.row, tf.col)), shape=tf.shape, dtype=np.float32)
        return cls(vocab, weights)

    def scores(self, query: str) -> np.ndarray:
        cols = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not cols:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "bm25_weights.npz", self.weights.tocsr())
        (directory / "bm25_vocab.json").write_text(json.dumps(self.vocab))

    @classmethod
    def load(cls, directory: Path) -> BM25:
        vocab = json.loads((directory / "bm25_vocab.json").read_text())
        return cls(vocab, sparse.load_npz(directory / "bm25_weights.npz"))


KB_COLUMNS = ["id", "question", "answer", "focus", "url", "category"]


def bm25_text(row: pd.Series) -> str:
    """What BM25 indexes per row: the question, the focus and its synonyms, the answer start."""
    return " ".join([row["question"], row["focus"], row["synonyms"], row["answer"][:600]])


class Ranker(Protocol):
    """What the pipeline asks of a retriever; swap the retriever by implementing this."""

    def search(
        self, text: str, emb: np.ndarray, category_probs: dict[str, float] | None, top_k: int
    ) -> list[dict]:
        """The best `top_k` answers (`Answer.to_dict()`s) for a question and its embedding."""
        ...


class Retriever:
    """Reciprocal rank fusion of BM25, question embeddings and question+answer embeddings."""

    def __init__(self, kb: pd.DataFrame, bm25: BM25, q_emb: np.ndarray, qa_emb: np.ndarray):
        self.kb = kb.reset_index(drop=True)
        self.bm25 = bm25
        self.q_emb = q_emb.astype(np.float32)
        self.qa_emb = qa_emb.astype(np.float32)
        self.categories = self.kb["category"].to_numpy()

    def rankings(self, text: str, emb: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Top candidates of each ranker, best first, and the dense similarity of every row."""
        by_question, by_answer = self.q_emb @ emb, self.qa_emb @ emb
        ranks = []
        for scores in (self.bm25.scores(text), by_question, by_answer):
            top = np.argpartition(-scores, min(CANDIDATES, len(scores) - 1))[:CANDIDATES]
            top = top[np.argsort(-scores[top])]
            ranks.append(top[scores[top] > 0])
        return ranks, np.maximum(by_question, by_answer)

    def search(
        self, text: str, emb: np.ndarray, category_probs: dict[str, float] | None, top_k: int
    ) -> list[dict]:
        """Best rows for the query: fused rank score times a preference for likely categories."""
        ranks, dense = self.rankings(text, emb)
        fused: dict[int, float] = {}
        for ranking in ranks:
            for r, idx in enumerate(ranking):
                fused[int(idx)] = fused.get(int(idx), 0.0) + 1.0 / (RRF_K + r + 1)
        probs = category_probs or {}
        scored = []
        for idx, score in fused.items():
            # A strong preference, not a filter: relevant answers are often under `information`.
            weight = 0.5 + probs.get(self.categories[idx], 0.0)
            scored.append((score * weight, idx))
        scored.sort(reverse=True)
        out, seen = [], set()
        for score, idx in scored:
            row = self.kb.iloc[idx]
            if row["answer"] in seen:
                continue
            seen.add(row["answer"])
            answer = Answer(
                id=row["id"],
                question=row["question"],
                answer=row["answer"],
                focus=row["focus"],
                source_url=row["url"],
                category=row["category"],
                score=round(float(score) * 1000, 3),
                similarity=round(float(dense[idx]), 4),
            )
            out.append(answer.to_dict())
            if len(out) >= top_k:
                break
        return out

    def save(self, directory: Path) -> None:
        self.kb[KB_COLUMNS].to_csv(directory / "kb.csv.gz", index=False)
        self.bm25.save(directory)
        np.save(directory / "emb_question.npy", self.q_emb.astype(np.float16))
        np.save(directory / "emb_question_answer.npy", self.qa_emb.astype(np.float16))

    @classmethod
    def load(cls, directory: Path) -> Retriever:
        kb = pd.read_csv(directory / "kb.csv.gz", keep_default_na=False, dtype=str)
        return cls(
            kb,
            BM25.load(directory),
            np.load(directory / "emb_question.npy"),
            np.load(directory / "emb_question_answer.npy"),
        )
