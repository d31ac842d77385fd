"""End to end: the real training command, its published layout, evaluation and the pipeline."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from medtriage.pipeline import DECLINE_NAMED, UNANSWERABLE_MESSAGE, declines
from medtriage.store import fetch_version, open_store, read_manifest, resolve_version, sha256_file
from tests.conftest import REPO
from training.answer_eval import Rankers
from training.data import UNANSWERABLE, medquad_path
from training.urgency import load_messages


def test_published_layout_and_manifest(trained_store, trained_model_dir):
    store = open_store(trained_store)
    version = resolve_version(store, "latest")
    manifest = read_manifest(store, version)
    files = manifest["files"]
    for name in ("triage.keras", "kb.csv.gz", "metrics.json", "MODEL_CARD.md",
                 "confusion_matrix.png", "training_curves.png", "config.json"):  # fmt: skip
        assert name in files, name
        assert files[name]["sha256"] == sha256_file(trained_model_dir / name)
    assert manifest["data_sha256"] == sha256_file(medquad_path())
    assert manifest["labels"][-1] == UNANSWERABLE
    assert manifest["libraries"]["keras"].startswith("3.")
    card = (trained_model_dir / "MODEL_CARD.md").read_text()
    assert "CC BY 4.0" in card and "not medical advice" in card


def test_metrics_report_model_and_baseline(trained_model_dir):
    report = json.loads((trained_model_dir / "metrics.json").read_text())
    for name in ("model", "baseline"):
        assert 0.0 <= report[name]["medquad"]["macro_f1"] <= 1.0
        assert report[name]["consumer"]["n"] == 178
    assert report["red_flags"]["recall"] >= 0.95 and report["red_flags"]["precision"] == 1.0
    u = report["urgency"]
    assert u["split"] == "test" and {"rules", "model", "combined"} <= set(u)
    assert len(u["combined"]["per_category"]) == 20
    cv = report["urgency_cv"]  # out-of-fold over train+val, where the threshold was chosen
    dev = load_messages().query("split != 'test'")
    assert cv["n_urgent"] + cv["n_not_urgent"] == len(dev) and len(cv["per_category"]) == 20
    assert cv["recall"] >= 0.98 and cv["threshold"] == u["threshold"]
    outside = report["urgency_outside"]  # written outside the team, never trained on
    assert outside["all"]["n_urgent"] == outside["a"]["n_urgent"] + outside["b"]["n_urgent"] == 120
    assert "Written outside the team" in (trained_model_dir / "MODEL_CARD.md").read_text()
    liveqa = report["answers"]["liveqa"]
    assert liveqa["n"] == 178 and 0.0 <= liveqa["focus_accuracy"] <= 1.0
    assert {"bm25_questions", "fused (before)", "focus_first"} <= set(liveqa["rankers"])


def test_evaluate_command_prints_the_contract_json(trained_store):
    out = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--store", trained_store],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert report["version"] == resolve_version(open_store(trained_store))
    for name in ("model", "baseline"):
        assert set(report[name]["medquad"]) >= {"accuracy", "macro_f1"}
        assert set(report[name]["consumer"]) >= {"top1", "top2", "n"}


def test_evaluate_without_a_model_is_a_clear_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--store", f"file://{tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    # TensorFlow may print its own start-up lines first; ours is the last one.
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "LATEST" in out.stderr and "Traceback" not in out.stderr


def test_pipeline_answers_with_medquad_ids(pipeline):
    result = pipeline.triage("What are the treatments for macular degeneration?", top_k=3)
    assert result["category"]["label"] in pipeline.labels
    assert 0.0 < result["category"]["confidence"] <= 1.0
    assert len(result["alternatives"]) == 2
    assert result["model_version"] == pipeline.version
    with gzip.open(medquad_path(), "rt") as fh:
        ids = set(pd.read_csv(fh, usecols=["id"], dtype=str)["id"])
    for answer in result["answers"]:
        assert answer["id"] in ids
        assert answer["source_url"].startswith("http")


def test_pipeline_flags_emergencies_and_declines_drug_questions(pipeline):
    urgent = pipeline.triage("my dad has crushing chest pain and is sweating")
    assert urgent["urgent"] is True and "emergency" in urgent["urgent_message"]
    drug = pipeline.triage("What are the side effects of atorvastatin?")
    assert drug["category"]["label"] == UNANSWERABLE
    assert drug["abstained"] is True and drug["answers"] == []


def test_evaluation_ranks_what_the_api_returns_declines_included(pipeline):
    rankers = Rankers(pipeline)
    drug = rankers.rank("What are the side effects of atorvastatin?")
    assert drug["focus_first"] == [] and drug["fused (before)"]  # declined: a miss, as served
    question = "What are the treatments for glaucoma?"
    served = pipeline.triage(question, top_k=10)["answers"]
    assert served and [a["id"] for a in rankers.rank(question)["focus_first"]] == [
        a["id"] for a in served
    ]


def test_answers_for_given_probabilities_are_the_ones_triage_serves(pipeline):
    # `training.rerank_cv` answers with out-of-fold probabilities through `answer`: with the
    # model's own it must serve what triage serves, and decline as triage declines.
    focus = pipeline.retriever.kb["focus"].iloc[0]
    question = f"What are the treatments for {focus}?"
    probs, emb = pipeline.predict_one(question)
    matches = pipeline.recognize(question)
    assert matches, f"{focus} is a condition of the test knowledge base"
    found, reason = pipeline.answer(question, probs, emb, matches, 5)
    served = pipeline.triage(question, top_k=5)
    assert reason is None and found.answers == served["answers"]
    drug = np.zeros_like(probs)
    drug[pipeline.labels.index(UNANSWERABLE)] = 1.0
    found, reason = pipeline.answer(question, drug, emb, matches, 5)
    assert found.answers == [] and reason == UNANSWERABLE_MESSAGE
    unsure = np.full_like(probs, 0.5 / (len(probs) - 1))
    unsure[pipeline.labels.index(UNANSWERABLE)] = 0.5
    assert pipeline.answer(question, unsure, emb, matches, 5)[0].answers  # names a condition
    assert pipeline.answer(question, unsure, emb, [], 5)[1] == UNANSWERABLE_MESSAGE


def test_a_named_condition_is_answered_unless_unanswerable_is_sure():
    unsure = {"label": UNANSWERABLE, "confidence": DECLINE_NAMED - 0.01}
    sure = {"label": UNANSWERABLE, "confidence": DECLINE_NAMED}
    assert not declines(unsure, named=True)  # "Arimidex after lumpectomy for breast cancer?"
    assert declines(unsure, named=False)  # "side effects of atorvastatin?": no condition
    assert declines(sure, named=True)
    assert not declines({"label": "treatment", "confidence": 0.3}, named=False)


def test_tampered_model_is_refused(trained_store, tmp_path):
    """A copy of the store with one published file changed fails verification on fetch."""
    import shutil

    from medtriage.store import ArtifactError

    version = resolve_version(open_store(trained_store))
    copy = tmp_path / "copy"
    shutil.copytree(trained_store.removeprefix("file://"), copy)
    (copy / "triage" / version / "config.json").write_text("{}")
    with pytest.raises(ArtifactError, match="config.json"):
        fetch_version(open_store(f"file://{copy}"), version, tmp_path / "cache")


def test_a_version_published_before_focus_and_chunks_still_loads(trained_model_dir, tmp_path):
    """Versions published by the previous release (no focus index, no answer chunks) load and
    answer: the fused ranking with one extract per passage."""
    import shutil

    from medtriage.pipeline import TriagePipeline

    old = tmp_path / "old"
    shutil.copytree(trained_model_dir, old)
    for name in ("focus_index.json.gz", "chunks.json.gz", "emb_chunks.npy", "chunk_offsets.npy"):
        (old / name).unlink()
    pipe = TriagePipeline.load(old)
    result = pipe.triage("What are the symptoms of glaucoma?", top_k=2)
    assert result["focus"] is None and result["question_summary"] is None
    assert result["answers"] and all(a["extract"] for a in result["answers"])
