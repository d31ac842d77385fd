"""The triage model: frozen MiniLM encoder, a small trained head, temperature-scaled softmax.

The saved `.keras` model takes raw strings and returns calibrated class probabilities and the
sentence embedding (which the QA retriever reuses, so a question is encoded once). The head
reads the encoder's layer means (`medtriage.layers.with_layer_means`), as the urgency heads do:
what is asked ("how is it treated", "what causes it") lives in the wording, which the middle
layers keep and the last one, tuned for topic similarity, blurs. In 5-fold cross-validation
over the consumer questions' train and val splits, type top-1 0.605 from the sentence
embedding, 0.660 from the layer means.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from medtriage.layers import (
    LAYER_MEANS,
    NeighbourVote,
    NumberReadings,
    Temperature,
    WordPieceTokenize,
    with_layer_means,
)

HEAD_UNITS = 256
DROPOUT = 0.2
BATCH = 128


def build_head(n_labels: int, seed: int) -> keras.Model:
    """Layer means -> logits."""
    keras.utils.set_random_seed(seed)
    feats = keras.Input(shape=(LAYER_MEANS,), name="layer_means")
    x = layers.Dense(HEAD_UNITS, activation="relu", name="hidden")(feats)
    x = layers.Dropout(DROPOUT, name="dropout")(x)
    logits = layers.Dense(n_labels, name="logits")(x)
    return keras.Model(feats, logits, name="head")


def train_head(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_labels: int,
    epochs: int,
    seed: int,
    verbose: int = 1,
) -> tuple[keras.Model, dict]:
    """Fit the head on precomputed layer means, keeping the best epoch on validation loss."""
    head = build_head(n_labels, seed)
    head.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    hist = head.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=BATCH,
        callbacks=[stop],
        shuffle=True,
        verbose=verbose,
    )
    return head, hist.history


def label_shift(consumer: np.ndarray, mix: np.ndarray, n_labels: int) -> np.ndarray:
    """Log ratio of the consumer questions' label frequencies to the training mix's (add-one
    smoothed): what moves the head's prior from MedQuAD's mix of types to what people ask."""
    cons = np.bincount(consumer, minlength=n_labels) + 1.0
    train = np.bincount(mix, minlength=n_labels) + 1.0
    return np.log(cons / cons.sum()) - np.log(train / train.sum())


def shift_logits(head: keras.Model, shift: np.ndarray) -> None:
    """Add `shift` to the head's logits (its output layer's bias): the saved model keeps it."""
    kernel, bias = head.get_layer("logits").get_weights()
    head.get_layer("logits").set_weights([kernel, bias + shift.astype(bias.dtype)])


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising negative log-likelihood on held-out data (grid search)."""
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 121)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def build_triage_model(
    encoder: keras.Model,
    head: keras.Model,
    temperature: float,
    tokenizer_json: Path,
    urgency: keras.Model | None = None,
    bank: tuple[np.ndarray, np.ndarray] | None = None,
) -> keras.Model:
    """Raw strings -> {"probs": calibrated probabilities, "embedding": sentence embedding},
    plus "urgency" and "urgency_category" when urgency heads are given. The heads read the
    encoder's layer means (`medtriage.layers.with_layer_means`: one encoder call for all); the
    urgency heads also the text's number readings (`medtriage.layers.NumberReadings`). `bank`
    (unit embeddings, label indices) adds the vote of the nearest labelled messages."""
    text = keras.Input(shape=(), dtype="string", name="text")
    tokenize = WordPieceTokenize(name="tokenize")
    tokenize.set_tokenizer_file(tokenizer_json)
    ids, mask = tokenize(text)
    emb, layer_means = with_layer_means(encoder)([ids, mask])
    probs = Temperature(temperature, name="calibrate")(head(layer_means))
    if bank is not None and len(bank[1]):
        vote = NeighbourVote(len(bank[1]), head.output_shape[-1], name="neighbours")
        vote.set_bank(*bank)
        probs = vote([probs, emb])
    outputs = {"probs": probs, "embedding": emb}
    if urgency is not None:
        # `training.urgency.build_heads`: [layer means, number readings] in.
        outputs.update(urgency([layer_means, NumberReadings(name="readings")(text)]))
    return keras.Model(text, outputs, name="medtriage")
