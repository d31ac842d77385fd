"""The custom Keras layers a saved model needs: the MiniLM (BERT) encoder, a tokenizer layer
taking raw strings, the number readings of raw strings, temperature scaling and the vote of
the nearest labelled consumer messages.

Importing this module registers them, so `keras.saving.load_model` can rebuild `triage.keras`.
The tokenizer layer keeps `tokenizer.json` as a Keras asset: the model takes raw strings with no
separate preprocessing code at serving time. Loading the pretrained weights is training's job
(`training/encoder.py`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops
from tokenizers import Tokenizer

from medtriage.readings import SIZE as READINGS
from medtriage.readings import readings

HIDDEN = 384
HEADS = 12
LAYERS = 6
INTERMEDIATE = 1536
VOCAB = 30522
MAX_POSITIONS = 512
LN_EPS = 1e-12
# People tell the story first and ask last: 17% of consumer messages pass 128 tokens, 2% 256.
MAX_TOKENS = 256
LAYER_MEANS = HIDDEN * (LAYERS + 1)  # width of `with_layer_means` features


def encode_batch(tok: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask, padded to the longest text of the batch."""
    encs = tok.encode_batch(list(texts))
    width = max((len(e.ids) for e in encs), default=1)
    ids = np.zeros((len(encs), width), dtype=np.int32)
    mask = np.zeros((len(encs), width), dtype=np.int32)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return ids, mask


@keras.saving.register_keras_serializable(package="medtriage")
class WordPieceTokenize(layers.Layer):
    """Raw strings in, (ids, mask) out; tokenizer.json travels inside the .keras file."""

    def __init__(self, max_tokens: int = MAX_TOKENS, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.max_tokens = max_tokens
        self._json: str | None = None
        self._tok: Tokenizer | None = None

    def set_tokenizer_file(self, path: Path) -> None:
        self._json = Path(path).read_text(encoding="utf-8")
        self._tok = None

    def _tokenizer(self) -> Tokenizer:
        if self._tok is None:
            tok = Tokenizer.from_str(self._json)
            tok.no_padding()
            tok.enable_truncation(max_length=self.max_tokens)
            self._tok = tok
        return self._tok

    def _encode(self, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        strings = [t.decode("utf-8", "replace") for t in texts.reshape(-1)]
        return encode_batch(self._tokenizer(), strings)

    def call(self, texts):
        ids, mask = tf.numpy_function(self._encode, [texts], [tf.int32, tf.int32], stateful=False)
        ids.set_shape([None, None])
        mask.set_shape([None, None])
        return ids, mask

    def compute_output_spec(self, texts):
        spec = keras.KerasTensor((None, None), dtype="int32")
        return spec, keras.KerasTensor((None, None), dtype="int32")

    def save_assets(self, dir_path: str) -> None:
        Path(dir_path, "tokenizer.json").write_text(self._json or "", encoding="utf-8")

    def load_assets(self, dir_path: str) -> None:
        self.set_tokenizer_file(Path(dir_path, "tokenizer.json"))

    def get_config(self) -> dict:
        return {**super().get_config(), "max_tokens": self.max_tokens}


@keras.saving.register_keras_serializable(package="medtriage")
class NumberReadings(layers.Layer):
    """Raw strings in, their number readings out: (batch, READINGS) float32.

    `medtriage.readings.readings` of each string (a baby's age, the temperature, weeks of
    pregnancy, pills taken, how long ago...), which the urgency heads read next to the
    encoder's layer means. Pure Python run by `tf.numpy_function`, as the tokenizer is."""

    def __init__(self, size: int = READINGS, **kwargs):
        if size != READINGS:
            raise ValueError(
                f"this model's number readings have {size} values; medtriage.readings gives "
                f"{READINGS}: load it with the version of medtriage it was trained with"
            )
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.size = size

    def _read(self, texts: np.ndarray) -> np.ndarray:
        rows = [readings(t.decode("utf-8", "replace")) for t in texts.reshape(-1)]
        return np.asarray(rows, dtype=np.float32).reshape(-1, self.size)

    def call(self, texts):
        out = tf.numpy_function(self._read, [texts], tf.float32, stateful=False)
        out.set_shape([None, self.size])
        return out

    def compute_output_spec(self, texts):
        return keras.KerasTensor((None, self.size), dtype="float32")

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="medtriage")
class BertEmbeddings(layers.Layer):
    """Word + position + token-type(0) embeddings, then LayerNorm."""

    def build(self, input_shape):
        self.word = self.add_weight(shape=(VOCAB, HIDDEN), name="word", trainable=False)
        self.position = self.add_weight(shape=(MAX_POSITIONS, HIDDEN), name="position")
        self.token_type = self.add_weight(shape=(2, HIDDEN), name="token_type")
        self.norm = layers.LayerNormalization(epsilon=LN_EPS, name="norm")
        self.norm.build((None, None, HIDDEN))

    def call(self, ids):
        length = ops.shape(ids)[1]
        x = ops.take(self.word, ids, axis=0)
        x = x + self.position[None, :length, :] + self.token_type[None, 0:1, :]
        return self.norm(x)


@keras.saving.register_keras_serializable(package="medtriage")
class BertLayer(layers.Layer):
    """One post-LayerNorm transformer block, as in BERT."""

    def build(self, input_shape):
        def dense(name, units):
            d = layers.Dense(units, name=name)
            d.build((None, None, HIDDEN if name != "ffn_out" else INTERMEDIATE))
            return d

        self.q, self.k, self.v = dense("q", HIDDEN), dense("k", HIDDEN), dense("v", HIDDEN)
        self.attn_out = dense("attn_out", HIDDEN)
        self.attn_norm = layers.LayerNormalization(epsilon=LN_EPS, name="attn_norm")
        self.attn_norm.build((None, None, HIDDEN))
        self.ffn_in = dense("ffn_in", INTERMEDIATE)
        self.ffn_out = dense("ffn_out", HIDDEN)
        self.ffn_norm = layers.LayerNormalization(epsilon=LN_EPS, name="ffn_norm")
        self.ffn_norm.build((None, None, HIDDEN))

    def _heads(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, HEADS, HIDDEN // HEADS)), (0, 2, 1, 3))

    # A batch is padded to its longest text; the dense layers (most of the work) need only
    # the real tokens, so they run on those alone: the same outputs at real tokens, zeros at
    # padding (which every reader masks). One long message in a batch of short ones no longer
    # multiplies everyone's cost. Always gathered, even without padding: a tf.cond choosing
    # the path traced both branches and added 3 s to every model load, while the gather costs
    # a batch of one nothing measurable. Read when a model is traced; False gives the padded
    # computation back (benchmarks compare them).
    unpad = True

    def call(self, x, mask):
        return self._unpadded(x, mask) if self.unpad else self._padded(x, mask)

    def _attend(self, q, k, v, mask):
        b, t = ops.shape(q)[0], ops.shape(q)[1]
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float(np.sqrt(HIDDEN // HEADS))
        bias = (1.0 - ops.cast(mask, q.dtype))[:, None, None, :] * -1e9
        probs = ops.softmax(scores + bias, axis=-1)
        return ops.reshape(ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3)), (b, t, HIDDEN))

    def _rest(self, x, ctx):
        x = self.attn_norm(x + self.attn_out(ctx))
        h = ops.gelu(self.ffn_in(x), approximate=False)
        return self.ffn_norm(x + self.ffn_out(h))

    def _padded(self, x, mask):
        ctx = self._attend(self.q(x), self.k(x), self.v(x), mask)
        return self._rest(x, ctx)

    def _unpadded(self, x, mask):
        where = tf.where(ops.cast(mask, "bool"))  # (n, 2): batch row and position of real tokens
        shape = tf.cast(tf.shape(x), tf.int64)
        flat = tf.gather_nd(x, where)  # (n, HIDDEN)
        qkv = tf.concat([self.q(flat), self.k(flat), self.v(flat)], axis=-1)
        wide = shape * tf.constant([1, 1, 3], tf.int64)
        q, k, v = tf.split(tf.scatter_nd(where, qkv, wide), 3, axis=-1)
        ctx = tf.gather_nd(self._attend(q, k, v, mask), where)
        return tf.scatter_nd(where, self._rest(flat, ctx), shape)


@keras.saving.register_keras_serializable(package="medtriage")
class MeanPool(layers.Layer):
    """Masked mean over tokens, L2-normalised (sentence-transformers' pooling + Normalize)."""

    def call(self, x, mask):
        m = ops.cast(mask, x.dtype)[:, :, None]
        pooled = ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)
        return pooled / ops.maximum(ops.norm(pooled, axis=-1, keepdims=True), 1e-12)


def build_encoder() -> keras.Model:
    """(ids, mask) -> unit-length 384-d sentence embedding."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    mask = keras.Input(shape=(None,), dtype="int32", name="mask")
    x = BertEmbeddings(name="embeddings")(ids)
    for i in range(LAYERS):
        x = BertLayer(name=f"layer_{i}")(x, mask)
    out = MeanPool(name="pool")(x, mask)
    return keras.Model([ids, mask], out, name="minilm")


def with_layer_means(encoder: keras.Model) -> keras.Model:
    """(ids, mask) -> [embedding, layer means], sharing the encoder's weights.

    Layer means: each transformer layer's masked mean (L2-normalised) and the embedding,
    concatenated (HIDDEN * (LAYERS + 1) values). The urgency heads read them: the middle layers
    keep more of the wording ("can't lift his arm now" against "recovering from a stroke") than
    the last one, which is tuned for topic similarity. The encoder still runs once.
    """
    ids, mask = encoder.inputs
    means = [
        MeanPool(name=f"layer_{i}_mean")(encoder.get_layer(f"layer_{i}").output, mask)
        for i in range(LAYERS)
    ]
    feats = layers.Concatenate(name="layer_means")([*means, encoder.output])
    return keras.Model(encoder.inputs, [encoder.output, feats], name="minilm_layers")


@keras.saving.register_keras_serializable(package="medtriage")
class Temperature(layers.Layer):
    """Softmax of logits / T, with T fitted on held-out data after training."""

    def __init__(self, temperature: float = 1.0, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def call(self, logits):
        return ops.softmax(logits / self.temperature, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="medtriage")
class NeighbourVote(layers.Layer):
    """Temper the head's probabilities with a vote of the nearest labelled consumer messages.

    [probs, unit sentence embedding] -> probs x (vote + floor), renormalised; the vote is the
    labels of the `k` most similar bank entries, weighted by exp((cos - best cos) / t). The
    head generalises from thousands of templated questions; the vote keeps what a few hundred
    real messages say directly (type top-1 0.640 -> 0.650, `python -m training.type_cv
    --vote`). A product, not a blend: a confident head keeps its answer and its calibration
    (a 0.6/0.4 blend took MedQuAD test ECE from 0.011 to 0.25). The bank rides in the weights.
    """

    def __init__(
        self,
        bank_size: int,
        n_labels: int,
        k: int = 10,
        temperature: float = 0.1,
        floor: float = 0.5,
        **kwargs,
    ):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.bank_size, self.n_labels = int(bank_size), int(n_labels)
        self.k, self.temperature, self.floor = min(int(k), self.bank_size), temperature, floor

    def build(self, input_shape) -> None:
        self.bank = self.add_weight(
            shape=(self.bank_size, HIDDEN), initializer="zeros", trainable=False, name="bank"
        )
        self.votes = self.add_weight(
            shape=(self.bank_size, self.n_labels), initializer="zeros", trainable=False,
            name="votes",
        )  # fmt: skip

    def set_bank(self, embeddings: np.ndarray, labels: np.ndarray) -> None:
        """The bank's unit embeddings and their label indices."""
        if not self.built:
            self.build(None)
        self.bank.assign(embeddings.astype("float32"))
        self.votes.assign(np.eye(self.n_labels, dtype="float32")[labels])

    def call(self, inputs):
        probs, emb = inputs
        sims = ops.matmul(emb, ops.transpose(self.bank))
        top, idx = ops.top_k(sims, self.k)
        w = ops.exp((top - top[:, :1]) / self.temperature)
        vote = ops.sum(w[:, :, None] * ops.take(self.votes, idx, axis=0), axis=1)
        tempered = probs * (vote / ops.sum(w, axis=1, keepdims=True) + self.floor)
        return tempered / ops.sum(tempered, axis=1, keepdims=True)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "bank_size": self.bank_size,
            "n_labels": self.n_labels,
            "k": self.k,
            "temperature": self.temperature,
            "floor": self.floor,
        }
