"""QA retrieval over MedQuAD: focus first, then the type; BM25 fused with dense embeddings
when no condition is recognised.

Built at training time and published with the model: BM25 term weights (sparse), unit-length
embeddings of each row's question, of question + answer start and of every answer chunk
(`medtriage.passages`), the knowledge base rows, and (optionally) a trained re-ranker.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
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
# Rows of a broader condition named inside the recognised one's name (Muscular Dystrophy for
# facioscapulohumeral muscular dystrophy) join its rows at this score penalty: GARD and GHR
# pages of a rare kind often lack the treatment section the general page has. Chosen on the
# consumer train/val splits (0 / 0.2 / 0.4 / 0.7 / after the condition's own rows).
PARENT_PENALTY = 0.4


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
# Extract choice: a small preference for a passage's first chunk, which usually states the answer.
FIRST_CHUNK_BONUS = 0.03


def bm25_text(row: pd.Series) -> str:
    """What BM25 indexes per row: the question, the focus and its synonyms, the answer start."""
    return " ".join([row["question"], row["focus"], row["synonyms"], row["answer"][:600]])


_NEGATIONS = frozenset("non not no without".split())
_KIND_MARKERS = frozenset("type types autosomal x dominant recessive form".split())
_LISTS = frozenset("and with plus".split())


def _broader(words: list[str], a: int, b: int) -> bool:
    """Whether words[a:b] names a broader condition of the whole name: its ending (English
    puts the head noun last: "facioscapulohumeral muscular dystrophy"), or its opening before
    a kind ("parkinson disease type 9"); never after a negation ("non-small cell lung cancer"
    is no small cell lung cancer) nor one item of a list ("anemia sideroblastic and
    spinocerebellar ataxia"). A syndrome named by its features still slips through."""
    if (a > 0 and words[a - 1] in _NEGATIONS) or _LISTS & set(words[:a]):
        return False
    if b == len(words):
        return True
    rest = words[b]
    return a == 0 and (rest in _KIND_MARKERS or rest.isdigit() or len(rest) == 1)


def focus_key(name: str) -> str:
    return " ".join(name.lower().split())


@dataclass
class SearchResult:
    answers: list[dict] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)


class Ranker(Protocol):
    """What the pipeline asks of a retriever; swap the retriever by implementing this."""

    def search(
        self,
        text: str,
        emb: np.ndarray,
        category_probs: dict[str, float] | None,
        top_k: int,
        foci: list[tuple[str, ...]] | None = None,
    ) -> SearchResult:
        """The best `top_k` answers (`Answer.to_dict()`s) and the link lists (`resources`)."""
        ...


class Scorer(Protocol):
    """A re-ranker: how well each candidate row answers the question (higher is better)."""

    def score(self, query: np.ndarray, cand_q: np.ndarray, cand_qa: np.ndarray) -> np.ndarray: ...


class Retriever:
    """Focus-first ranking with a re-ranker; reciprocal rank fusion of BM25, question
    embeddings and question+answer embeddings as the fallback."""

    def __init__(
        self,
        kb: pd.DataFrame,
        bm25: BM25,
        q_emb: np.ndarray,
        qa_emb: np.ndarray,
        chunk_texts: list[str] | None = None,
        chunk_offsets: np.ndarray | None = None,
        chunk_emb: np.ndarray | None = None,
        reranker: Scorer | None = None,
        rerank_weight: float = 1.0,
        topics: Iterable[str] = (),
    ):
        from medtriage.passages import chunks, is_link_list

        self.kb = kb.reset_index(drop=True)
        self.bm25 = bm25
        self.q_emb = q_emb.astype(np.float32)
        self.qa_emb = qa_emb.astype(np.float32)
        self.categories = self.kb["category"].to_numpy()
        self.answers = self.kb["answer"].tolist()
        # Plain lists per column: a DataFrame row lookup costs ~0.1 ms, per shown answer.
        self.columns = {c: self.kb[c].tolist() for c in ("id", "question", "focus", "url")}
        self.link_list = np.array([is_link_list(a) for a in self.answers], dtype=bool)
        if chunk_texts is None:  # an index published before chunking: one chunk per row
            chunk_texts = [chunks(a)[0] for a in self.answers]
            chunk_offsets = np.arange(len(self.answers) + 1)
            chunk_emb = self.qa_emb
        self.chunk_texts = chunk_texts
        self.chunk_offsets = np.asarray(chunk_offsets, dtype=np.int64)
        # Kept in float16 (half the memory); only a few rows' chunks are scored per question.
        self.chunk_emb = np.asarray(chunk_emb, dtype=np.float16)
        self.reranker = reranker
        self.rerank_weight = rerank_weight
        self.by_focus: dict[str, list[int]] = {}
        for i, name in enumerate(self.kb["focus"]):
            self.by_focus.setdefault(focus_key(name), []).append(i)
        self.set_topics(topics)

    def set_topics(self, topics: Iterable[str]) -> None:
        """Foci that are topics, not conditions ("Blood", "Surgery"): never a broader condition."""
        from medtriage.focus import normalise, tokens

        skip = {focus_key(t) for t in topics}
        by_name: dict[str, list[str]] = {}
        for key in self.by_focus:
            if key not in skip:
                by_name.setdefault(normalise(key), []).append(key)
        self.parents: dict[str, list[str]] = {}
        for key in self.by_focus:
            toks, words = tokens(key), normalise(key).split()
            # Never part of a hyphenated name: Charcot-Marie-Tooth disease is no "tooth disease".
            joined = [a > 0 and "-" in key[toks[a - 1][2] : toks[a][1]] for a in range(len(toks))]
            subs = {
                " ".join(words[a:b])
                for a in range(len(words))
                for b in range(a + 1, len(words) + 1)
                if b - a < len(words) and not joined[a] and _broader(words, a, b)
            }
            found = [k for sub in sorted(subs) for k in by_name.get(sub, ())]
            if found:
                self.parents[key] = found

    def rankings(self, text: str, emb: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Top candidates of each ranker, best first, and the dense similarity of every row."""
        by_question, by_answer = self.q_emb @ emb, self.qa_emb @ emb
        ranks = []
        for scores in (self.bm25.scores(text), by_question, by_answer):
            top = np.argpartition(-scores, min(CANDIDATES, len(scores) - 1))[:CANDIDATES]
            top = top[np.argsort(-scores[top])]
            ranks.append(top[scores[top] > 0])
        return ranks, np.maximum(by_question, by_answer)

    def fused(
        self, text: str, emb: np.ndarray, category_probs: dict[str, float] | None
    ) -> tuple[list[tuple[float, int]], np.ndarray]:
        """(score, row) best first by rank fusion times a preference for likely categories."""
        ranks, dense = self.rankings(text, emb)
        fused: dict[int, float] = {}
        for ranking in ranks:
            for r, idx in enumerate(ranking):
                fused[int(idx)] = fused.get(int(idx), 0.0) + 1.0 / (RRF_K + r + 1)
        probs = category_probs or {}
        # A strong preference, not a filter: relevant answers are often under `information`.
        scored = [
            (score * (0.5 + probs.get(self.categories[idx], 0.0)) * 1000, idx)
            for idx, score in fused.items()
        ]
        scored.sort(reverse=True)
        return scored, dense

    def focus_rows(
        self, emb: np.ndarray, category_probs: dict[str, float] | None, foci: tuple[str, ...]
    ) -> list[tuple[float, int]]:
        """(score, row) of every row about one condition, and of the broader conditions its
        names contain (less): type first, then the re-ranker."""
        own_keys = {focus_key(f) for f in foci}
        own = sorted({i for k in own_keys for i in self.by_focus.get(k, [])})
        if not own:
            return []
        broader = {k for o in own_keys for k in self.parents.get(o, ()) if k not in own_keys}
        rows = own + sorted({i for k in broader for i in self.by_focus[k]} - set(own))
        idx = np.array(rows)
        if self.reranker is not None:
            fit = self.reranker.score(emb, self.q_emb[idx], self.qa_emb[idx])
        else:
            fit = np.maximum(self.q_emb[idx] @ emb, self.qa_emb[idx] @ emb)
        probs = category_probs or {}
        type_fit = np.array([probs.get(self.categories[i], 0.0) for i in rows])
        scores = type_fit + self.rerank_weight * np.asarray(fit, dtype=np.float64)
        scores[len(own) :] -= PARENT_PENALTY
        return sorted(zip((float(x) * 10 for x in scores), rows, strict=True), reverse=True)

    def similarity(self, row: int, emb: np.ndarray) -> float:
        """Dense similarity of one row to the question (its question or question + answer)."""
        return max(float(self.q_emb[row] @ emb), float(self.qa_emb[row] @ emb))

    def extract(self, row: int, emb: np.ndarray) -> str:
        """The chunk (one to three sentences) of a passage closest to the question."""
        a, b = self.chunk_offsets[row], self.chunk_offsets[row + 1]
        sims = self.chunk_emb[a:b].astype(np.float32) @ emb
        sims[0] += FIRST_CHUNK_BONUS
        return self.chunk_texts[a + int(np.argmax(sims))]

    def search(
        self,
        text: str,
        emb: np.ndarray,
        category_probs: dict[str, float] | None,
        top_k: int,
        foci: list[tuple[str, ...]] | None = None,
    ) -> SearchResult:
        """Answers about the recognised conditions first (in order), then the fused ranking."""
        from medtriage.passages import link_titles

        focused: list[tuple[float, int]] = []
        for group in foci or []:
            focused.extend(self.focus_rows(emb, category_probs, group))

        def ordered():
            yield from focused
            # The fused ranking costs a full BM25 and two dense passes (memory-bound, most of
            # a question's time): only when the recognised conditions did not fill the answers.
            if len(result.answers) < top_k:
                yield from self.fused(text, emb, category_probs)[0]

        result, seen, seen_rows = SearchResult(), set(), set()
        col = self.columns
        for pos, (score, idx) in enumerate(ordered()):
            if len(result.answers) >= top_k and (result.resources or pos >= len(focused)):
                break
            if idx in seen_rows or self.answers[idx] in seen:
                continue
            seen_rows.add(idx)
            seen.add(self.answers[idx])
            if self.link_list[idx]:
                for title in link_titles(self.answers[idx], limit=4):
                    result.resources.append({"title": title, "url": col["url"][idx]})
                continue
            if len(result.answers) >= top_k:
                continue
            answer = Answer(
                id=col["id"][idx],
                question=col["question"][idx],
                answer=self.answers[idx],
                extract=self.extract(idx, emb),
                focus=col["focus"][idx],
                source_url=col["url"][idx],
                category=str(self.categories[idx]),
                score=round(float(score), 3),
                similarity=round(float(self.similarity(idx, emb)), 4),
            )
            result.answers.append(answer.to_dict())
        return result

    def save(self, directory: Path) -> None:
        self.kb[KB_COLUMNS].to_csv(directory / "kb.csv.gz", index=False)
        self.bm25.save(directory)
        np.save(directory / "emb_question.npy", self.q_emb.astype(np.float16))
        np.save(directory / "emb_question_answer.npy", self.qa_emb.astype(np.float16))
        np.save(directory / "emb_chunks.npy", self.chunk_emb.astype(np.float16))
        np.save(directory / "chunk_offsets.npy", self.chunk_offsets)
        with gzip.open(directory / "chunks.json.gz", "wt", encoding="utf-8") as f:
            json.dump(self.chunk_texts, f)

    @classmethod
    def load(cls, directory: Path, reranker: Scorer | None = None, **kwargs) -> Retriever:
        kb = pd.read_csv(directory / "kb.csv.gz", keep_default_na=False, dtype=str)
        chunk_texts = chunk_offsets = chunk_emb = None
        if (directory / "chunks.json.gz").exists():
            with gzip.open(directory / "chunks.json.gz", "rt", encoding="utf-8") as f:
                chunk_texts = json.load(f)
            chunk_offsets = np.load(directory / "chunk_offsets.npy")
            chunk_emb = np.load(directory / "emb_chunks.npy")
        return cls(
            kb,
            BM25.load(directory),
            np.load(directory / "emb_question.npy"),
            np.load(directory / "emb_question_answer.npy"),
            chunk_texts,
            chunk_offsets,
            chunk_emb,
            reranker,
            **kwargs,
        )
