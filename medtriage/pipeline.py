"""A published model version, loaded: raw question in, triage and answers out."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Protocol

import numpy as np
import tensorflow as tf

from medtriage import layers as _layers  # noqa: F401  (registers the custom layers)
from medtriage.batching import Batcher
from medtriage.categories import UNANSWERABLE
from medtriage.focus import INDEX_FILE as FOCUS_FILE
from medtriage.focus import FocusIndex
from medtriage.retrieval import Retriever, SearchResult
from medtriage.store import MANIFEST
from medtriage.summary import canonical_question
from medtriage.urgency import HelpNumbers, UrgencyModel, assess

MODEL_FILE = "triage.keras"
RERANKER_FILE = "reranker.keras"
CONFIG_FILE = "config.json"
UNANSWERABLE_MESSAGE = (
    "This looks like a question about a medicine or supplement. MedTriage's knowledge base has "
    "no drug information; ask a pharmacist or see MedlinePlus Drugs."
)
LOW_CONFIDENCE_MESSAGE = "No answer in the knowledge base is reliable enough for this question."
# A question "asks" every category at least this likely (multi-label, from the softmax).
ASKS_THRESHOLD = 0.25
# A message that names a condition is declined only when `unanswerable` is this sure: on the
# development messages (out-of-fold) 7 fewer answerable ones declined for 1 more unanswerable answered.
DECLINE_NAMED = 0.6


def declines(top: dict, named: bool) -> bool:
    """Whether the top category (label, confidence) means no answer from the knowledge base."""
    return top["label"] == UNANSWERABLE and (not named or top["confidence"] >= DECLINE_NAMED)


def release_freed_memory() -> None:
    """Hand the heap pages that loading freed back to the OS (glibc keeps them otherwise):
    ~25 MiB less resident per worker, measured after 300 triages. A no-op without glibc."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Pipeline(Protocol):
    """What the inference service calls; `TriagePipeline` and the tests' fake implement it."""

    version: str
    labels: list[str]
    metrics: dict
    trained_at: str

    def triage(self, question: str, top_k: int = 3) -> dict:
        """Category, alternatives, urgency, abstention and answers (`Answer.to_dict()`s)."""
        ...


class TriagePipeline:
    """Load once per process; `triage` is thread-safe.

    `batch_max` > 1 turns on dynamic micro-batching: concurrent single-question model calls
    (`predict_all([q])`, `predict_one`, and so `triage`) share one model call of up to
    `batch_max` questions, waiting at most `batch_wait_ms` for company
    (`medtriage.batching`). 1 calls the model directly.
    """

    def __init__(
        self,
        model_dir: Path,
        version: str | None = None,
        numbers: HelpNumbers | None = None,
        batch_max: int = 1,
        batch_wait_ms: float = 2.0,
    ):
        import keras

        model_dir = Path(model_dir)
        self.config = json.loads((model_dir / CONFIG_FILE).read_text())
        # A published version has a manifest; training evaluates one before publishing it.
        manifest_path = model_dir / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        self.version: str = manifest.get("version") or version or "unpublished"
        self.trained_at: str = manifest.get("created_at", "")
        self.labels: list[str] = self.config["labels"]
        metrics_path = model_dir / "metrics.json"
        self.metrics: dict = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        self.model = keras.saving.load_model(model_dir / MODEL_FILE)
        # A traced graph over the model, not model.predict: predict costs tens of ms per call.
        # Its concrete function skips tf.function's per-call signature lookup (~0.2 ms).
        self._call = tf.function(
            lambda texts: self.model(texts, training=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
        ).get_concrete_function()
        # Versions published before focus recognition / re-ranking load without them.
        self.focus = FocusIndex.load(model_dir) if (model_dir / FOCUS_FILE).exists() else None
        reranker = None
        if (model_dir / RERANKER_FILE).exists():
            from medtriage.rerank import Reranker

            reranker = Reranker.load(model_dir)
        self.retriever = Retriever.load(
            model_dir,
            reranker,
            rerank_weight=self.config.get("rerank_weight", 1.0),
            topics=self.focus.topics() if self.focus is not None else (),
        )
        # Older versions have no urgency heads: rules alone then.
        self.urgency = UrgencyModel.from_config(self.config)
        self.numbers = numbers or HelpNumbers()
        self.predict(["warm up the model"])
        release_freed_memory()
        self.batcher: Batcher | None = None
        if batch_max > 1:
            self.batcher = Batcher(
                self._predict_rows, batch_max, batch_wait_ms, name="model-batcher"
            )

    @classmethod
    def load(
        cls, model_dir: Path, version: str | None = None, numbers: HelpNumbers | None = None,
        batch_max: int = 1, batch_wait_ms: float = 2.0,
    ) -> TriagePipeline:  # fmt: skip
        return cls(model_dir, version, numbers, batch_max, batch_wait_ms)

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and embeddings for a batch of raw strings."""
        out = self._predict_all_direct(texts)
        return out["probs"], out["embedding"]

    def _predict_rows(self, texts: list[str]) -> list[dict[str, np.ndarray]]:
        """Every output of the model for each text, one dict per text (own copies)."""
        out = self._predict_all_direct(texts)
        return [{k: v[i].copy() for k, v in out.items()} for i in range(len(texts))]

    def predict_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embedding of one question (batched with concurrent callers
        when batching is on)."""
        out = self.predict_all([text])
        return out["probs"][0], out["embedding"][0]

    def predict_all(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Every output of the model for a batch: probs, embedding and, if trained, urgency.

        With batching on, one text goes through the batcher (shares a model call with
        concurrent ones); the result has the same shapes (a batch of one) either way."""
        if self.batcher is not None and len(texts) == 1:
            row = self.batcher(texts[0])
            return {k: v[None, ...] for k, v in row.items()}
        return self._predict_all_direct(texts)

    def _predict_all_direct(self, texts: list[str]) -> dict[str, np.ndarray]:
        out = self._call(tf.constant(list(texts), dtype=tf.string))
        return {k: np.asarray(v) for k, v in out.items()}

    def urgency_of(self, text: str, out: dict[str, np.ndarray] | None = None) -> dict:
        """Rules + model: urgent, urgent_reasons, urgent_message for one message."""
        out = self.predict_all([text]) if out is None else out
        prob = out["urgency"][0, 0] if "urgency" in out else None
        cats = out["urgency_category"][0] if "urgency_category" in out else None
        return assess(text, prob, cats, self.urgency, self.numbers)

    def recognize(self, question: str) -> list:
        """The conditions the question names (`medtriage.focus.FocusMatch`), best first."""
        return self.focus.recognize(question) if self.focus is not None else []

    def ranked(self, probs: np.ndarray) -> list[dict]:
        """Every category with its confidence (4 decimals, as shown), likeliest first."""
        order = np.argsort(-probs)
        return [{"label": self.labels[i], "confidence": round(float(probs[i]), 4)} for i in order]

    def answer(
        self, question: str, probs: np.ndarray, emb: np.ndarray, matches: list, top_k: int
    ) -> tuple[SearchResult, str | None]:
        """The answers to a question with these category probabilities, embedding and
        recognised conditions, and why there are none when the service declines."""
        if declines(self.ranked(probs)[0], bool(matches)):
            return SearchResult(), UNANSWERABLE_MESSAGE
        cat_probs = {label: float(p) for label, p in zip(self.labels, probs, strict=True)}
        found = self.retriever.search(question, emb, cat_probs, top_k, [m.foci for m in matches])
        top_sim = max((a["similarity"] for a in found.answers), default=0.0)
        # A recognised condition is evidence enough; otherwise abstain on chatter.
        if not matches and top_sim < self.config["min_similarity"]:
            found.answers = []
            return found, LOW_CONFIDENCE_MESSAGE
        return found, None

    def triage(self, question: str, top_k: int = 3) -> dict:
        """Focus, category, alternatives, urgency, abstention and answers for one question."""
        out = self.predict_all([question])
        probs, emb = out["probs"][0], out["embedding"][0]
        urgency = self.urgency_of(question, out)
        matches = self.recognize(question)
        ranked = self.ranked(probs)
        best = ranked[0]
        found, reason = self.answer(question, probs, emb, matches, top_k)
        focus = matches[0] if matches else None
        asked = ranked[1] if best["label"] == UNANSWERABLE and reason is None else best
        return {
            "focus": self.focus.to_dict(focus) if focus else None,
            # What is answered: the likeliest category the knowledge base has.
            "question_summary": canonical_question(
                asked["label"], focus.matched if focus else None
            ),
            "category": best,
            "categories": [r["label"] for r in ranked if r["confidence"] >= ASKS_THRESHOLD]
            or [best["label"]],
            "alternatives": ranked[1:3],
            "urgent": urgency["urgent"],
            "urgent_reasons": urgency["urgent_reasons"],
            "urgent_message": urgency["urgent_message"],
            "abstained": reason is not None,
            "abstain_reason": reason,
            "answers": found.answers,
            "resources": found.resources,
            "model_version": self.version,
        }
