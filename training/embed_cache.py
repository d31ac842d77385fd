"""Cache sentence embeddings on disk, keyed by the texts, so re-training skips encoding."""

from __future__ import annotations

import hashlib

import numpy as np

from common import REPO_ROOT
from training.encoder import embed_texts

CACHE = REPO_ROOT / ".cache" / "embeddings"


def cached_embeddings(encoder, tok, texts: list[str], desc: str, progress: bool) -> np.ndarray:
    """Embeddings of `texts`, read from the cache when the same texts were encoded before
    with the same truncation."""
    limit = (tok.truncation or {}).get("max_length")
    key = hashlib.sha256("\x1e".join([f"max_tokens={limit}", *texts]).encode("utf-8"))
    key = key.hexdigest()[:24]
    path = CACHE / f"{desc}-{key}.npy"
    if path.exists():
        return np.load(path)
    emb = embed_texts(encoder, tok, texts, progress=progress, desc=desc)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, emb)
    except OSError:
        pass  # The cache is an optimisation; a read-only checkout still trains.
    return emb
