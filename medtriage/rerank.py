"""Re-ranker of MedQuAD candidates: does this MedQuAD question answer the person's question?

A small Keras pair model over frozen MiniLM embeddings (question entailment in spirit): inputs
u = the consumer question's embedding, v = a candidate's question embedding, w = its
question+answer-start embedding; output P(the candidate has the right focus and type).
Candidates' embeddings are precomputed by the retriever, so a call costs a few small matrix
products. The artifact is a Keras model (`reranker.keras`); at load the dense weights are copied
to numpy, because a Keras/TF call costs far more than the arithmetic for n <= 100.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

HIDDEN = 384
MODEL_FILE = "reranker.keras"


@keras.saving.register_keras_serializable(package="medtriage")
class PairFeatures(layers.Layer):
    """[u*v, |u-v|, u*w, cos(u,v), cos(u,w), cos(v,w)] of unit-length embeddings."""

    def call(self, u, v, w):
        cos = [
            ops.sum(u * v, axis=-1, keepdims=True),
            ops.sum(u * w, axis=-1, keepdims=True),
            ops.sum(v * w, axis=-1, keepdims=True),
        ]
        return ops.concatenate([u * v, ops.abs(u - v), u * w, *cos], axis=-1)

    def compute_output_shape(self, u_shape, v_shape=None, w_shape=None):
        return (*u_shape[:-1], 3 * u_shape[-1] + 3)


def pair_features(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The numpy twin of `PairFeatures` (u may be one row, broadcast over candidates)."""
    cos = [(u * v).sum(-1, keepdims=True), (u * w).sum(-1, keepdims=True)]
    cos.append((v * w).sum(-1, keepdims=True))
    return np.concatenate([u * v, np.abs(u - v), u * w, *cos], axis=-1)


def build_reranker(units: int = 128, dropout: float = 0.2, seed: int = 0) -> keras.Model:
    """(u, v, w) -> P(relevant)."""
    keras.utils.set_random_seed(seed)
    u = keras.Input(shape=(HIDDEN,), name="query")
    v = keras.Input(shape=(HIDDEN,), name="cand_q")
    w = keras.Input(shape=(HIDDEN,), name="cand_qa")
    x = PairFeatures(name="features")(u, v, w)
    x = layers.Dense(units, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(1, activation="sigmoid", name="score")(x)
    return keras.Model([u, v, w], out, name="reranker")


class Reranker:
    """Load once per process; `score` is thread-safe (read-only numpy)."""

    def __init__(self, model: keras.Model):
        self.model = model
        hidden, score = model.get_layer("hidden"), model.get_layer("score")
        # float32 copies: the whole forward pass is two matmuls, no Keras call per request.
        self._w1 = ops.convert_to_numpy(hidden.kernel).astype(np.float32)
        self._b1 = ops.convert_to_numpy(hidden.bias).astype(np.float32)
        self._w2 = ops.convert_to_numpy(score.kernel).astype(np.float32)[:, 0]
        self._b2 = float(ops.convert_to_numpy(score.bias)[0])

    @classmethod
    def load(cls, directory: str | Path) -> Reranker:
        return cls(keras.saving.load_model(Path(directory) / MODEL_FILE))

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.model.save(Path(directory) / MODEL_FILE)

    def score(self, query_emb: np.ndarray, cand_q: np.ndarray, cand_qa: np.ndarray) -> np.ndarray:
        """P(relevant) of each of n candidates, shape (n,); higher is better."""
        cand_q = np.asarray(cand_q, dtype=np.float32).reshape(-1, HIDDEN)
        cand_qa = np.asarray(cand_qa, dtype=np.float32).reshape(-1, HIDDEN)
        if len(cand_q) == 0:
            return np.zeros(0, dtype=np.float32)
        u = np.asarray(query_emb, dtype=np.float32).reshape(1, HIDDEN)
        h = pair_features(u, cand_q, cand_qa) @ self._w1 + self._b1
        logits = np.maximum(h, 0.0) @ self._w2 + self._b2
        # sigmoid without overflow warnings for large negative logits
        return np.exp(-np.logaddexp(0.0, -logits)).astype(np.float32)

    def score_keras(
        self, query_emb: np.ndarray, cand_q: np.ndarray, cand_qa: np.ndarray
    ) -> np.ndarray:
        """The same scores through the Keras model (reference for tests and benchmarks)."""
        n = len(cand_q)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        u = np.broadcast_to(np.asarray(query_emb, np.float32).reshape(1, HIDDEN), (n, HIDDEN))
        out = self.model([u, np.asarray(cand_q, np.float32), np.asarray(cand_qa, np.float32)])
        return np.asarray(out, dtype=np.float32)[:, 0]
