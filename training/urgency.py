"""The learned urgency detector: two small heads on the frozen encoder's layer means.

`urgency` (sigmoid) says whether a message needs emergency care now; `urgency_category`
(softmax over the 20 emergency types of `medtriage/data/urgency/messages.csv`) says which kind,
so the answer can name it and the right action. Both read every encoder layer's mean
(`medtriage.layers.with_layer_means`), computed in the same encoder call as the embedding. Trained on the set's train split plus
MedQuAD training questions and consumer-style phrasings as plain informational negatives;
the threshold is chosen for recall on the val split; test is only reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
from keras import layers

from common import REPO_ROOT
from medtriage.layers import LAYER_MEANS
from medtriage.redflags import red_flags

MESSAGES = REPO_ROOT / "medtriage" / "data" / "urgency" / "messages.csv"
TARGET_RECALL = 0.98
UNITS = 128
DROPOUT = 0.3
NEGATIVES = 2000  # informational MedQuAD/consumer-style questions added to training
NEGATIVE_WEIGHT = 0.3  # easy negatives: present, but the hard ones dominate the loss
EPOCHS = 150
# Chosen by 5-fold grouped cross-validation on train+val (false alarms at 0.98 recall):
# layer means 0.10-0.12 against 0.19-0.21 for the last layer's embedding alone.
L2 = 2e-4


def load_messages() -> pd.DataFrame:
    return pd.read_csv(MESSAGES, dtype={"urgent": int})


def categories_of(messages: pd.DataFrame) -> list[str]:
    return sorted(messages["category"].unique())


def build_heads(n_categories: int, seed: int) -> keras.Model:
    """Embedding -> {"urgency": P(emergency), "urgency_category": P(type)}."""
    keras.utils.set_random_seed(seed)
    emb = keras.Input(shape=(LAYER_MEANS,), name="layer_means")
    # Linear (regularised logistic regression): on val it beat a hidden layer at equal recall.
    urgency = layers.Dense(
        1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(L2), name="urgency"
    )(emb)
    c = layers.Dense(UNITS, activation="relu", name="category_hidden")(emb)
    c = layers.Dropout(DROPOUT, name="category_dropout")(c)
    category = layers.Dense(n_categories, activation="softmax", name="urgency_category")(c)
    return keras.Model(emb, {"urgency": urgency, "urgency_category": category}, name="urgency")


@dataclass
class UrgencyFit:
    heads: keras.Model
    categories: list[str]
    threshold: float
    val: dict


def fit_urgency(
    messages: pd.DataFrame,
    emb: np.ndarray,
    negatives: np.ndarray,
    seed: int,
    epochs: int = EPOCHS,
) -> UrgencyFit:
    """Train both heads on the train split (+ easy negatives); pick the threshold on val.

    `emb` holds the messages' layer means, `negatives` those of informational questions
    (NEGATIVES of them are used). The category head learns from every train row (urgent rows and their hard negatives share
    a topic), so it has twice the data; it is only read when a message is urgent.
    """
    cats = categories_of(messages)
    index = {c: i for i, c in enumerate(cats)}
    tr = (messages["split"] == "train").to_numpy()
    neg = negatives[:NEGATIVES]
    x = np.concatenate([emb[tr], neg]).astype("float32")
    y_urg = np.concatenate([messages["urgent"].to_numpy()[tr], np.zeros(len(neg))]).astype(
        "float32"
    )
    y_cat = np.concatenate(
        [messages["category"].map(index).to_numpy()[tr], np.zeros(len(neg), dtype=int)]
    )
    w_urg = np.concatenate([np.ones(tr.sum()), np.full(len(neg), NEGATIVE_WEIGHT)])
    w_cat = np.concatenate([np.ones(tr.sum()), np.zeros(len(neg))])  # negatives have no type
    heads = build_heads(len(cats), seed)
    heads.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={
            "urgency": keras.losses.BinaryCrossentropy(),
            "urgency_category": keras.losses.SparseCategoricalCrossentropy(),
        },
    )
    # A fixed epoch budget: val is kept clean for choosing the threshold.
    heads.fit(
        x,
        {"urgency": y_urg[:, None], "urgency_category": y_cat},
        sample_weight={"urgency": w_urg, "urgency_category": w_cat},
        epochs=epochs,
        batch_size=128,
        shuffle=True,
        verbose=0,
    )
    va = (messages["split"] == "val").to_numpy()
    out = heads(emb[va], training=False)
    p_val = np.asarray(out["urgency"])[:, 0]
    y_val = messages["urgent"].to_numpy()[va]
    # What the service does: a message a rule flags is caught whatever the model says.
    ruled = np.array([bool(red_flags(t)) for t in messages["text"][va]])
    threshold = pick_threshold(np.where(ruled, 1.0, p_val), y_val)
    cat_val = np.asarray(out["urgency_category"]).argmax(1)
    gold_cat = messages["category"].map(index).to_numpy()[va]
    val = {
        **binary_scores(ruled | (p_val >= threshold), y_val),
        "threshold": threshold,
        "category_accuracy_on_urgent": round(float((cat_val == gold_cat)[y_val == 1].mean()), 4),
    }
    return UrgencyFit(heads, cats, threshold, val)


def pick_threshold(p: np.ndarray, y: np.ndarray, target: float = TARGET_RECALL) -> float:
    """The highest threshold keeping recall >= target on (p, y) (p = 1 for rows a rule flags)."""
    pos = np.sort(p[y == 1])
    if not len(pos):
        return 0.5
    allowed_misses = int(np.floor((1 - target) * len(pos) + 1e-9))
    # Just below the weakest urgent score that must still be caught.
    return float(np.nextafter(np.float32(pos[allowed_misses]), np.float32(0)))


def binary_scores(pred: np.ndarray, gold: np.ndarray) -> dict:
    pred, gold = np.asarray(pred, bool), np.asarray(gold).astype(bool)
    tp, fp = int((pred & gold).sum()), int((pred & ~gold).sum())
    n_pos, n_neg = int(gold.sum()), int((~gold).sum())
    return {
        "recall": round(tp / n_pos, 4) if n_pos else None,
        "precision": round(tp / max(tp + fp, 1), 4),
        "false_alarm_rate": round(fp / n_neg, 4) if n_neg else None,
        "n_urgent": n_pos,
        "n_not_urgent": n_neg,
    }


def urgency_report(pipe, split: str = "test") -> dict:
    """Rules alone, model alone and combined on one split of the urgency set, overall and per
    category (a category's non-urgent rows are its hard negatives)."""
    messages = load_messages()
    rows = messages[messages["split"] == split].reset_index(drop=True)
    texts = rows["text"].tolist()
    gold = rows["urgent"].to_numpy().astype(bool)
    rules = np.array([bool(red_flags(t)) for t in texts])
    preds = {"rules": rules}
    if pipe.urgency is not None:
        prob = np.concatenate(
            [pipe.predict_all(texts[i : i + 64])["urgency"][:, 0] for i in range(0, len(texts), 64)]
        )
        preds["model"] = prob >= pipe.urgency.threshold
        # Exactly what the service answers, message by message.
        preds["combined"] = np.array([pipe.urgency_of(t)["urgent"] for t in texts])
    report: dict = {"split": split, "threshold": getattr(pipe.urgency, "threshold", None)}
    for name, pred in preds.items():
        report[name] = binary_scores(pred, gold)
        report[name]["per_category"] = {
            cat: binary_scores(pred[sel], gold[sel])
            for cat in categories_of(messages)
            for sel in [(rows["category"] == cat).to_numpy()]
        }
    if pipe.urgency is not None:
        cat_pred = [
            pipe.urgency_of(t)["urgent_reasons"] for t, g in zip(texts, gold, strict=True) if g
        ]
        cat_gold = rows["category"][gold].tolist()
        report["combined"]["reason_names_category"] = round(
            float(
                np.mean(
                    [g in {r["code"] for r in rs} for rs, g in zip(cat_pred, cat_gold, strict=True)]
                )
            ),
            4,
        )
    return report
