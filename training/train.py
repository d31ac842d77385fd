"""`python -m training train`: data -> triage model + QA index -> evaluation -> published version."""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from medtriage.focus import FocusIndex
from medtriage.layers import HIDDEN, LAYER_MEANS
from medtriage.passages import chunks
from medtriage.pipeline import CONFIG_FILE, MODEL_FILE, TriagePipeline
from medtriage.rerank import Reranker
from medtriage.retrieval import BM25, Retriever, bm25_text
from medtriage.store import ArtifactStore, new_version_id, open_store
from training import data, unanswerable, urgency
from training.embed_cache import cached_embeddings
from training.encoder import (
    layer_means_model,
    load_pretrained_encoder,
    load_tokenizer,
    tokenizer_json_path,
)
from training.evaluate import evaluate_pipeline
from training.examples import consumer_examples, sample, training_texts
from training.feedback import load_feedback_pairs
from training.model import (
    build_triage_model,
    fit_temperature,
    label_shift,
    shift_logits,
    train_head,
)
from training.publish import publish_version
from training.report import write_report
from training.reranker import (
    Kb,
    concat,
    consumer_queries,
    feedback_pairs,
    medquad_queries,
    train_reranker,
)
from training.urgency_tails import TRAIN_TAILS, with_tails

CONSUMER_REPEAT = 3
# The same messages' expert summaries, with the same labels, this many times: the type's
# wording without the story. `python -m training.type_cv --summaries N` (hand labels, prior
# x0.75, 1,590 predictions): 0.612 without, 0.618 / 0.626 / 0.622 with N = 1 / 3 / 6.
SUMMARY_REPEAT = 3
# Which label of a consumer question the head learns: `hand_category` (by hand, every message)
# or `category` (the summary's template, when it follows one).
HAND = "hand_category"
# How far the head's prior moves from MedQuAD's mix of types toward the consumer questions'
# (`training.model.label_shift`): in `python -m training.type_cv`, type top-1 (hand labels)
# 0.608 without, 0.609 / 0.611 / 0.613 / 0.613 at 0.25 / 0.5 / 0.75 / 1.
PRIOR_WEIGHT = 0.75
# The re-ranker sees each consumer question this many times against MedQuAD's (chosen on the
# consumer val split by training/reranker.py).
CONSUMER_REPEAT_RERANK = 4.0
# Chunks kept per answer (p99 is 31): the tail of the longest sections is not indexed.
MAX_CHUNKS = 32


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pick_threshold(model, retriever: Retriever) -> float:
    """Abstain below the best answer similarity that off-topic questions reach (98th
    percentile, plus a margin): below it a question looks no more medical than chatter."""
    embs = np.asarray(model(tf.constant(unanswerable.OFF_TOPIC), training=False)["embedding"])
    sims = np.maximum(embs @ retriever.q_emb.T, embs @ retriever.qa_emb.T).max(axis=1)
    return round(float(np.percentile(sims, 98)) + 0.05, 4)


@dataclass
class Prepared:
    """The data every step works on: MedQuAD, its held-out split and the encoded rows."""

    df: pd.DataFrame
    data_sha: str
    split: data.Split
    labels: list[str]
    drugs: dict
    encoder: keras.Model
    tok: object
    kb_q: np.ndarray
    kb_q_layers: np.ndarray  # the questions' layer means (the heads' input); kb_q is their tail
    kb_a: np.ndarray  # each answer's first chunk, embedded
    seed: int
    limit: int | None
    progress: bool
    chunk_texts: list[str]
    chunk_offsets: np.ndarray
    chunk_emb: np.ndarray
    layer_means: keras.Model  # the encoder with layer means out (`layer_means_model`)

    def encode_layers(self, texts: list[str], desc: str) -> np.ndarray:
        """Layer means of `texts` (what the heads read), cached on disk like the embeddings."""
        return cached_embeddings(self.layer_means, self.tok, texts, desc, self.progress)


def prepare(data_path: str | None, limit: int | None, seed: int, progress: bool) -> Prepared:
    """Load and split MedQuAD; encode every question and answer chunk (cached on disk)."""
    df, data_sha = data.load_medquad(data_path)
    df = sample(df, limit, seed)
    df["row"] = np.arange(len(df))
    split = data.split_by_focus(df, seed=seed)
    labels = data.labels_of(df)
    log(
        f"{len(df)} rows, {len(labels)} labels; split train/val/test = "
        f"{len(split.train)}/{len(split.val)}/{len(split.test)} (by focus)"
    )
    encoder, tok = load_pretrained_encoder(), load_tokenizer()
    features = layer_means_model(encoder)
    per_row = [chunks(a, q)[:MAX_CHUNKS] for a, q in zip(df["answer"], df["question"], strict=True)]
    chunk_offsets = np.cumsum([0] + [len(c) for c in per_row])
    chunk_texts = [c for row in per_row for c in row]
    log(
        f"encoding {len(df)} MedQuAD questions and {len(chunk_texts)} answer chunks with MiniLM "
        "(cached on disk)"
    )
    # One encoder pass gives both: the layer means end with the sentence embedding.
    kb_q_layers = cached_embeddings(
        features, tok, df["question"].tolist(), "kb-question-layers", progress
    )
    kb_q = np.ascontiguousarray(kb_q_layers[:, -HIDDEN:])
    chunk_emb = cached_embeddings(encoder, tok, chunk_texts, "answer chunks", progress)
    kb_a = chunk_emb[chunk_offsets[:-1]]  # each answer's first chunk stands for its start
    drugs = unanswerable.drug_split(seed)
    return Prepared(
        df,
        data_sha,
        split,
        labels,
        drugs,
        encoder,
        tok,
        kb_q,
        kb_q_layers,
        kb_a,
        seed,
        limit,
        progress,
        chunk_texts,
        chunk_offsets,
        chunk_emb,
        features,
    )


def build_index(p: Prepared) -> Retriever:
    """The QA index over every MedQuAD row: BM25, question / question+answer embeddings, and
    the embeddings of every answer chunk (so the right part of a long section is found)."""
    log("building the QA index over every MedQuAD row")
    kb_qa = p.kb_q + p.kb_a
    kb_qa /= np.linalg.norm(kb_qa, axis=1, keepdims=True)
    bm25 = BM25.build([bm25_text(r) for _, r in p.df.iterrows()])
    return Retriever(p.df, bm25, p.kb_q, kb_qa, p.chunk_texts, p.chunk_offsets, p.chunk_emb)


def head_examples(p: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The type head's examples besides consumer messages, as layer means and label indices:
    for training, the training questions, drug questions (`unanswerable`) and consumer-style
    phrasings over the training foci; for validation, the validation questions and drug
    questions. (`fit_head` adds the consumer messages; `training.type_cv` its folds of them.)"""
    index = {label: i for i, label in enumerate(p.labels)}
    # Not the answer starts: they taught the head that narrative text (what a person's message
    # looks like too) means whatever its answer was about; type top-1 0.671 with them, 0.697
    # without (`python -m training.type_cv`).
    texts, labels = training_texts(p.split.train, p.drugs["train"], p.seed, answer_starts=False)
    rows, vrows = p.split.train["row"].to_numpy(), p.split.val["row"].to_numpy()
    # The questions are rows of the knowledge base: reuse their layer means.
    x = np.concatenate([p.kb_q_layers[rows], p.encode_layers(texts[len(rows) :], "extra-layers")])
    val_drugs = unanswerable.questions(p.drugs["val"], p.seed + 1)
    xv = np.concatenate([p.kb_q_layers[vrows], p.encode_layers(val_drugs, "val-drug-layers")])
    v_labels = p.split.val["category"].tolist() + [data.UNANSWERABLE] * len(val_drugs)
    y = np.array([index[label] for label in labels])
    yv = np.array([index[label] for label in v_labels])
    return x, y, xv, yv


def consumer_layers(p: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The consumer train split's messages and expert summaries with their hand labels, as
    layer means and label indices: (messages, labels, summaries, labels)."""
    index = {label: i for i, label in enumerate(p.labels)}
    out = []
    for text, desc in (("text", "consumer-layers"), ("summary", "consumer-summary-layers")):
        texts, labels = consumer_examples(p.labels, p.seed, "train", HAND, text=text)
        x = p.encode_layers(texts, desc) if texts else np.zeros((0, LAYER_MEANS), "float32")
        out += [x, np.array([index[label] for label in labels], dtype=int)]
    return tuple(out)


def neighbour_bank(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """What `medtriage.layers.NeighbourVote` votes with: the consumer train split's messages
    and summaries (sentence embeddings, the layer means' last part) and their hand labels."""
    c_x, c_y, s_x, s_y = consumer_layers(p)
    return np.concatenate([c_x, s_x])[:, -HIDDEN:], np.concatenate([c_y, s_y])


def fit_head(p: Prepared, epochs: int) -> tuple[keras.Model, dict, np.ndarray, np.ndarray]:
    """Train the head on the frozen encoder's layer means; returns it, its history and the
    validation features and labels (for calibration)."""
    index = {label: i for i, label in enumerate(p.labels)}
    x, y, xv, yv = head_examples(p)
    # Real consumer wording (the consumer questions' train split, types labelled by hand from
    # the expert summaries), repeated so a few hundred messages weigh against thousands of
    # templated questions. Hand labels, not only the template-labelled part: type top-1 0.613
    # against 0.545 over 1,590 cross-validated predictions (`python -m training.type_cv`).
    c_x, c_y, s_x, s_y = consumer_layers(p)
    x = np.concatenate([x] + [c_x] * CONSUMER_REPEAT + [s_x] * SUMMARY_REPEAT)
    y = np.concatenate([y] + [c_y] * CONSUMER_REPEAT + [s_y] * SUMMARY_REPEAT)
    cv_text, cv_lab = consumer_examples(p.labels, p.seed, "val", HAND)
    xv = np.concatenate([xv, p.encode_layers(cv_text, "consumer-val-layers")])
    yv = np.concatenate([yv, np.array([index[label] for label in cv_lab], dtype=int)])
    log(f"training the head on {len(x)} examples for up to {epochs} epochs")
    head, history = train_head(
        x, y, xv, yv, len(p.labels), epochs, p.seed, verbose=2 if p.progress else 0
    )
    if len(c_y):  # without consumer questions there is no prior to move toward
        shift = PRIOR_WEIGHT * label_shift(c_y, y, len(p.labels))
        shift_logits(head, shift)
        log(
            "logit shift toward consumer questions: "
            + ", ".join(f"{name} {v:+.2f}" for name, v in zip(p.labels, shift, strict=True))
        )
    return head, history, xv, yv


def fit_reranker(
    p: Prepared, retriever: Retriever, feedback: list[tuple[str, str, bool]]
) -> tuple[Reranker, dict]:
    """The pair model that orders a condition's rows: MedQuAD questions and consumer-style
    paraphrases of the training foci, the consumer questions' train split, and people's
    ratings (`--feedback`, training pairs only)."""
    log("training the re-ranker on question pairs")
    kb = Kb(p.df, retriever.q_emb, retriever.qa_emb)
    train = medquad_queries(kb, p.split.train, p.encoder, p.tok, p.progress)
    val = medquad_queries(kb, p.split.val, p.encoder, p.tok, p.progress, with_paraphrases=False)
    consumer = consumer_queries(p.encoder, p.tok, kb, p.progress)
    if consumer:
        train = concat(train, consumer["train"][1], weights=[1.0, CONSUMER_REPEAT_RERANK])
        val = concat(val, consumer["val"][1], weights=[1.0, 1.0])
    extra = feedback_pairs(feedback, kb, p.encoder, p.tok) if feedback else None
    reranker, info = train_reranker(
        train, val, kb, seed=p.seed, verbose=2 if p.progress else 0, extra_pairs=extra
    )
    log(f"re-ranker: {info}")
    return reranker, info


def urgency_negatives(p: Prepared) -> tuple[np.ndarray, list[str]]:
    """MedQuAD training questions (layer means, texts): the heads' easy informational negatives."""
    train_rows = p.split.train["row"].to_numpy()
    rng = np.random.default_rng(p.seed)
    rows = train_rows[
        rng.choice(len(train_rows), min(urgency.NEGATIVES, len(train_rows)), replace=False)
    ]
    return p.kb_q_layers[rows], p.df["question"].to_numpy()[rows].tolist()


def tailed_urgency(
    p: Prepared, messages: pd.DataFrame, layer_means: np.ndarray, tails: Sequence[str],
    share: float = 1.0,
) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """(layer means, texts) of the urgency messages, `share` of the development rows with a
    calm ending (`urgency_tails`, the rows `urgency.ending_rows` picks); only those are
    encoded, the rest keep `layer_means` (the test split's never get an ending)."""
    is_dev = (messages["split"] != "test").to_numpy()
    changed = np.zeros(len(messages), dtype=bool)
    changed[np.flatnonzero(is_dev)[urgency.ending_rows(int(is_dev.sum()), share)]] = True
    texts = with_tails(messages["text"].tolist(), tails, p.seed, keep=~changed)
    means = np.array(layer_means, copy=True)
    if changed.any():
        ended = [t for t, c in zip(texts, changed, strict=True) if c]
        means[changed] = p.encode_layers(ended, "urgency-layers with endings")
    return means, texts


def fit_urgency(p: Prepared) -> urgency.UrgencyFit:
    """The urgency heads on the urgency set's train and val splits (+ MedQuAD training
    questions as informational negatives), read from the encoder's layer means; threshold by
    cross-validation over those splits (`training.urgency.fit_urgency`)."""
    messages = urgency.load_messages()
    emb = p.encode_layers(messages["text"].tolist(), "urgency-layers")
    fit = urgency.fit_urgency(
        messages,
        emb,
        *urgency_negatives(p),
        p.seed,
        # Only the rows that train with an ending are encoded with one.
        tailed=tailed_urgency(p, messages, emb, TRAIN_TAILS, urgency.TAILS),
    )
    cv = {k: v for k, v in fit.cross_validated.items() if k != "per_category"}
    log(f"urgency: threshold {fit.threshold:.4f}, cross-validated {cv}")
    return fit


def calibrate(head: keras.Model, xv: np.ndarray, yv: np.ndarray) -> float:
    """Temperature scaling on the validation split."""
    temperature = fit_temperature(np.asarray(head(xv, training=False)), yv)
    log(f"temperature {temperature:.3f}")
    return temperature


def save_model(
    out: Path, p: Prepared, head, temperature: float, retriever: Retriever, urg=None
) -> dict:
    """Write the end-to-end model, the index and config.json (once) into `out`."""
    heads = urg.heads if urg is not None else None
    bank = neighbour_bank(p)
    model = build_triage_model(p.encoder, head, temperature, tokenizer_json_path(), heads, bank)
    model.save(out / MODEL_FILE)
    retriever.save(out)
    log("building the focus index (MedQuAD conditions, synonyms, abbreviations)")
    FocusIndex.build(p.df).save(out)
    config = {
        "labels": p.labels,
        "temperature": temperature,
        "seed": p.seed,
        "limit": p.limit,
        "min_similarity": pick_threshold(model, retriever),
    }
    if urg is not None:
        config["urgency"] = {
            "threshold": urg.threshold,
            "categories": urg.categories,
            "cross_validated": urg.cross_validated,
        }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    return config


def evaluate(
    out: Path, p: Prepared, version: str, history: dict, started: float, extra: dict
) -> dict:
    """Load the saved model back (end to end from raw strings), evaluate it, write the report."""
    log("loading the saved model back and evaluating on held-out data")
    pipe = TriagePipeline.load(out, version=version)
    report = evaluate_pipeline(pipe, p.df, p.split, p.drugs, p.seed, version, p.progress)
    report.update(extra)
    report["seed"] = p.seed
    report["training_seconds"] = round(time.time() - started, 1)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    write_report(out, report, history, p.labels)
    return report


def extra_pairs(p: Prepared, pairs: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """The feedback pairs the re-ranker can learn from: (question, MedQuAD id, helpful) whose
    answer is in this run's knowledge base (a --limit sample may not hold every rated answer).

    `fit_reranker` encodes their questions and adds them to the re-ranker's training pairs."""
    known = set(p.df["id"].astype(str))
    return [pair for pair in pairs if pair[1] in known]


def train(
    data_path: str | None,
    store: ArtifactStore,
    epochs: int = 30,
    limit: int | None = None,
    seed: int = data.SEED,
    progress: bool = True,
    feedback: str | None = None,
) -> str:
    """Train, evaluate, publish; returns the new version id.

    feedback: labelled pairs from `python -m training feedback --export` (opt in)."""
    started = time.time()
    keras.utils.set_random_seed(seed)
    pairs = load_feedback_pairs(feedback) if feedback else []
    p = prepare(data_path, limit, seed, progress)
    feedback_pairs_kept = extra_pairs(p, pairs)
    if feedback:
        log(
            f"feedback: {len(pairs)} labelled pairs in {feedback}, {len(feedback_pairs_kept)} of "
            "them about answers in this knowledge base, added to the re-ranker's training pairs"
        )
    report_extra = {
        "feedback_pairs_loaded": len(pairs),
        "feedback_pairs_used": len(feedback_pairs_kept),
    }
    retriever = build_index(p)
    head, history, xv, yv = fit_head(p, epochs)
    temperature = calibrate(head, xv, yv)
    reranker, rerank_info = fit_reranker(p, retriever, feedback_pairs_kept)
    urg = fit_urgency(p)
    version = new_version_id(p.data_sha)
    with tempfile.TemporaryDirectory(prefix="medtriage-train-") as tmp:
        out = Path(tmp)
        save_model(out, p, head, temperature, retriever, urg)
        reranker.save(out)
        (out / "history.json").write_text(json.dumps(history))
        evaluate(out, p, version, history, started, {**report_extra, "reranker": rerank_info})
        log("publishing")
        manifest_extra = manifest_fields(p.data_sha, p.labels)
        publish_version(store, out, version, manifest_extra, progress=progress)
    log(f"published {version} to {store.uri} in {time.time() - started:.0f} s")
    return version


def manifest_fields(data_sha: str, labels: list[str]) -> dict:
    import sklearn
    import tensorflow as tf

    return {
        "data_sha256": data_sha,
        "labels": labels,
        "model_file": MODEL_FILE,
        "libraries": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }


def main(args) -> None:
    store = open_store(args.store)
    version = train(
        args.data,
        store,
        epochs=args.epochs,
        limit=args.limit,
        feedback=getattr(args, "feedback", None),
    )
    print(version)
