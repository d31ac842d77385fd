"""`python -m training train`: data -> triage model + QA index -> evaluation -> published version."""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from training import data, unanswerable
from training.embed_cache import cached_embeddings
from training.encoder import load_pretrained_encoder, load_tokenizer, tokenizer_json_path
from training.model import build_triage_model, fit_temperature, train_head
from training.paraphrases import paraphrases
from training.pipeline import CONFIG_FILE, MODEL_FILE, TriagePipeline
from training.retrieval import BM25, Retriever, bm25_text
from training.store import ArtifactStore, new_version_id, open_store, publish_version


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sample(df: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """A stratified sample (by category) of about `limit` rows, for quick runs and tests."""
    if not limit or limit >= len(df):
        return df
    frac = limit / len(df)
    parts = [
        g.sample(max(2, int(round(len(g) * frac))), random_state=seed) if len(g) > 2 else g
        for _, g in df.groupby("category")
    ]
    return pd.concat(parts).sort_index().reset_index(drop=True)


def training_texts(split_df: pd.DataFrame, drugs: list[str], seed: int) -> tuple[list, list]:
    """What the head learns from, in order: the split's questions, their answer starts,
    drug questions (unanswerable) and consumer-style phrasings over the split's foci."""
    texts = split_df["question"].tolist() + [data.answer_start(a) for a in split_df["answer"]]
    labels = split_df["category"].tolist() * 2
    drug_q = unanswerable.questions(drugs, seed)
    para_q, para_y = paraphrases(sorted(split_df["focus"].unique()), set(labels), seed)
    return texts + drug_q + para_q, labels + [data.UNANSWERABLE] * len(drug_q) + para_y


def pick_threshold(pipe) -> float:
    """Abstain below the best answer similarity that off-topic questions reach (98th
    percentile, plus a margin): below it a question looks no more medical than chatter."""
    _, embs = pipe.predict(unanswerable.OFF_TOPIC)
    r = pipe.retriever
    sims = np.maximum(embs @ r.q_emb.T, embs @ r.qa_emb.T).max(axis=1)
    return round(float(np.percentile(sims, 98)) + 0.05, 4)


def train(
    data_path: str | None,
    store: ArtifactStore,
    epochs: int = 30,
    limit: int | None = None,
    seed: int = data.SEED,
    progress: bool = True,
) -> str:
    """Train, evaluate, publish; returns the new version id."""
    from training.evaluate import evaluate_pipeline
    from training.report import write_report

    started = time.time()
    keras.utils.set_random_seed(seed)
    df, data_sha = data.load_medquad(data_path)
    df = sample(df, limit, seed)
    df["row"] = np.arange(len(df))
    split = data.split_by_focus(df, seed=seed)
    labels = data.labels_of(df)
    index = {label: i for i, label in enumerate(labels)}
    log(
        f"{len(df)} rows, {len(labels)} labels; split train/val/test = "
        f"{len(split.train)}/{len(split.val)}/{len(split.test)} (by focus)"
    )

    encoder, tok = load_pretrained_encoder(), load_tokenizer()
    log("encoding every MedQuAD question and answer start with MiniLM (cached on disk)")
    kb_q = cached_embeddings(encoder, tok, df["question"].tolist(), "kb-question", progress)
    kb_a_text = [data.answer_start(a) for a in df["answer"]]
    kb_a = cached_embeddings(encoder, tok, kb_a_text, "kb-answer", progress)

    drugs = unanswerable.drug_split(seed)
    x_text, y_text = training_texts(split.train, drugs["train"], seed)
    extra = cached_embeddings(encoder, tok, x_text[2 * len(split.train) :], "extra", progress)
    rows, vrows = split.train["row"].to_numpy(), split.val["row"].to_numpy()
    # Questions and answer starts are rows of the knowledge base: reuse their embeddings.
    x = np.concatenate([kb_q[rows], kb_a[rows], extra])
    val_drugs = unanswerable.questions(drugs["val"], seed + 1)
    xv = np.concatenate([kb_q[vrows], cached_embeddings(encoder, tok, val_drugs, "val", progress)])
    v_lab = split.val["category"].tolist() + [data.UNANSWERABLE] * len(val_drugs)
    y = np.array([index[label] for label in y_text])
    yv = np.array([index[label] for label in v_lab])

    log(f"training the head on {len(x)} examples for up to {epochs} epochs")
    head, history = train_head(
        x, y, xv, yv, len(labels), epochs, seed, verbose=2 if progress else 0
    )
    temperature = fit_temperature(np.asarray(head(xv, training=False)), yv)
    log(f"temperature {temperature:.3f}")

    log("building the QA index over every MedQuAD row")
    kb_qa = kb_q + kb_a
    kb_qa /= np.linalg.norm(kb_qa, axis=1, keepdims=True)
    retriever = Retriever(df, BM25.build([bm25_text(r) for _, r in df.iterrows()]), kb_q, kb_qa)

    with tempfile.TemporaryDirectory(prefix="medtriage-train-") as tmp:
        out = Path(tmp)
        model = build_triage_model(encoder, head, temperature, tokenizer_json_path())
        model.save(out / MODEL_FILE)
        retriever.save(out)
        (out / "history.json").write_text(json.dumps(history))
        version = new_version_id(data_sha)
        config = {
            "labels": labels,
            "temperature": temperature,
            "seed": seed,
            "limit": limit,
            "min_similarity": 0.0,
        }
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        manifest_extra = manifest_fields(data_sha, labels)
        (out / "manifest.json").write_text(json.dumps({"version": version, **manifest_extra}))

        log("loading the saved model back (end to end from raw strings) and evaluating")
        pipe = TriagePipeline.load(out)
        config["min_similarity"] = pick_threshold(pipe)
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        pipe.config = config
        report = evaluate_pipeline(pipe, df, split, drugs, seed, version)
        report["seed"] = seed
        report["training_seconds"] = round(time.time() - started, 1)
        (out / "metrics.json").write_text(json.dumps(report, indent=2))
        write_report(out, report, history, labels)
        (out / "manifest.json").unlink()
        log("publishing")
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
    version = train(args.data, store, epochs=args.epochs, limit=args.limit)
    print(version)
