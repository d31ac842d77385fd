"""Dynamic micro-batching (medtriage/batching.py): each caller gets its own answer, identical to
an unbatched call; a failing item fails alone; the same through real gunicorn.

The `Batcher` tests use a plain function; the pipeline tests use the real small model trained
by the session fixtures (tests/conftest.py). No timing thresholds: concurrency is arranged with
barriers and a gate inside the batch function, not with sleeps that must be long enough.
"""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from medtriage.batching import Batcher
from testkit.gunicorn import gunicorn_server, inference_env
from testkit.load import QUESTIONS
from tests.metrics_scrape import scrape, total

MIXED = [
    "What are the symptoms of glaucoma?",
    "How is high blood pressure treated?",
    "What causes kidney stones?",
    "Is cystic fibrosis inherited?",
    "My child has a fever and a rash, what could it be?",
    "crushing chest pain spreading to my left arm and I can't breathe",
    "What is the recommended dose of ibuprofen for an adult?",
    "hey there",
    "What are the genetic changes related to Huntington disease, and how many people in the "
    "United States are affected by it each year, and is there any treatment that slows it?",
    "What tests diagnose celiac disease?",
]
TOP_KS = [1, 3, 5, 2, 4, 3, 1, 5, 2, 3]


class GatedBatch:
    """A batch function that holds its first call until released, so the items submitted
    meanwhile are queued together and form the next batch (deterministic batching)."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(30)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [item.upper() for item in items]


def queue_behind_first(batcher: Batcher, fn: GatedBatch, items: list[str]):
    """Submit a first item, wait until the batch function holds it, queue `items`, release."""
    first = batcher.submit("first")
    assert fn.entered.wait(30)
    futures = [batcher.submit(item) for item in items]
    fn.release.set()
    return first, futures


def test_batcher_batches_and_answers_each_caller():
    fn = GatedBatch()
    batcher = Batcher(fn, max_batch=8, wait_ms=0)
    sizes: list[int] = []
    batcher.observe = sizes.append
    items = [f"q{i}" for i in range(5)]
    first, futures = queue_behind_first(batcher, fn, items)
    assert first.result(30) == "FIRST"
    assert [f.result(30) for f in futures] == [i.upper() for i in items]
    assert fn.calls == [["first"], items]  # the five queued items shared one call
    assert sizes == [1, 5]  # what the batch-size metric is given
    batcher.close()


def test_batcher_respects_max_batch():
    fn = GatedBatch()
    batcher = Batcher(fn, max_batch=3, wait_ms=0)
    items = [f"q{i}" for i in range(7)]
    _, futures = queue_behind_first(batcher, fn, items)
    assert [f.result(30) for f in futures] == [i.upper() for i in items]
    assert [len(c) for c in fn.calls] == [1, 3, 3, 1]
    batcher.close()


def test_failing_item_fails_alone():
    fn = GatedBatch(fail_on="bad")
    batcher = Batcher(fn, max_batch=8, wait_ms=0)
    items = ["a", "bad", "c", "d"]
    _, futures = queue_behind_first(batcher, fn, items)
    for item, future in zip(items, futures, strict=True):
        if item == "bad":
            with pytest.raises(ValueError, match="bad item"):
                future.result(30)
        else:
            assert future.result(30) == item.upper()
    # The batch failed once, then each item ran alone.
    assert fn.calls[1] == items
    assert sorted(map(tuple, fn.calls[2:])) == sorted((i,) for i in items)
    assert batcher.retried_alone == 1
    batcher.close()


def test_wrong_result_count_is_an_error_for_the_batch_not_a_mixup():
    def short(items):
        return ["x"] if len(items) > 1 else [items[0] + "!"]

    gate = GatedBatch()

    def fn(items):
        gate(items)
        return short(items)

    batcher = Batcher(fn, max_batch=8, wait_ms=0)
    _, futures = queue_behind_first(batcher, gate, ["a", "b"])
    assert [f.result(30) for f in futures] == ["a!", "b!"]
    batcher.close()


def test_lone_caller_does_not_wait_and_concurrent_callers_share_calls():
    calls: list[int] = []
    threads: list[str] = []

    def fn(items):
        calls.append(len(items))
        threads.append(threading.current_thread().name)
        return list(items)

    batcher = Batcher(fn, max_batch=32, wait_ms=50)
    for i in range(3):  # one at a time: each its own call, in the caller's thread
        assert batcher(f"q{i}") == f"q{i}"
    assert calls == [1, 1, 1]
    assert threads == [threading.current_thread().name] * 3
    start = threading.Barrier(16)

    def call(i: int) -> str:
        start.wait()
        return batcher(f"c{i}")

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(call, range(16))) == [f"c{i}" for i in range(16)]
    assert sum(calls[3:]) == 16
    batcher.close()


def test_closed_batcher_refuses_and_thread_ends():
    batcher = Batcher(lambda items: list(items), max_batch=4, wait_ms=0)
    assert batcher("x") == "x"
    thread = batcher._thread
    batcher.close()
    thread.join(30)
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("y")


def test_discarded_batcher_stops_its_thread():
    """A hot-reloaded pipeline's batcher must not keep the old model alive."""
    batcher = Batcher(lambda items: list(items), max_batch=4, wait_ms=0)
    assert batcher("x") == "x"
    thread = batcher._thread
    del batcher
    gc.collect()
    thread.join(30)
    assert not thread.is_alive()


# -- the real model ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batched_pipeline(trained_model_dir):
    from medtriage.pipeline import TriagePipeline

    return TriagePipeline.load(trained_model_dir, batch_max=32, batch_wait_ms=5)


def test_encoder_output_does_not_depend_on_batch_composition(pipeline):
    """The tokenizer pads to the longest text of each batch: padded positions must change
    nothing (attention and pooling are masked)."""
    probs_alone = []
    embs_alone = []
    for q in MIXED:
        p, e = pipeline.predict([q])
        probs_alone.append(p[0])
        embs_alone.append(e[0])
    probs, embs = pipeline.predict(MIXED)
    np.testing.assert_allclose(embs, np.stack(embs_alone), rtol=0, atol=1e-5)
    np.testing.assert_allclose(probs, np.stack(probs_alone), rtol=0, atol=1e-5)
    # And in another order and company.
    order = list(reversed(range(len(MIXED))))
    probs_r, embs_r = pipeline.predict([MIXED[i] for i in order] + MIXED[:3])
    np.testing.assert_allclose(embs_r[: len(MIXED)], np.stack(embs_alone)[order], atol=1e-5)


# Scores keep 3 decimals: float32 noise across a rounding boundary flips the last one.
TIE = 1.001e-3


def _same_triage(batched: dict, alone: dict) -> None:
    """Equal answers: every field, floats (confidences, similarities, scores) within tolerance."""

    def close(a, b, path="") -> None:
        if isinstance(a, float) or isinstance(b, float):
            assert a == pytest.approx(b, abs=TIE), path
        elif isinstance(a, dict):
            assert a.keys() == b.keys(), path
            for k in a:
                close(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                close(x, y, f"{path}[{i}]")
        else:
            assert a == b, path

    # Answers tied within the tolerance may trade places under float noise; all else keeps its rank.
    answers, want = batched["answers"], alone["answers"]
    close(*({k: v for k, v in r.items() if k != "answers"} for r in (batched, alone)))
    assert len(answers) == len(want)
    for i, (x, y) in enumerate(zip(answers, want, strict=True)):
        if x["id"] == y["id"]:
            close(x, y, f".answers[{i}]")
            continue
        assert x["score"] == pytest.approx(y["score"], abs=TIE), f".answers[{i}]"
        twin = next((z for z in want if z["id"] == x["id"]), None)
        assert twin is None or twin["score"] == pytest.approx(x["score"], abs=TIE), f".answers[{i}]"


def test_mixed_questions_and_top_k_in_one_batch_each_get_their_own_answer(
    pipeline, batched_pipeline
):
    expected = [pipeline.triage(q, top_k=k) for q, k in zip(MIXED, TOP_KS, strict=True)]
    expected_emb = [pipeline.predict_one(q)[1] for q in MIXED]
    batcher = batched_pipeline.batcher
    before = batcher.items, batcher.batches
    start = threading.Barrier(len(MIXED))

    def run(i: int):
        start.wait()
        emb = batched_pipeline.predict_one(MIXED[i])[1]
        return emb, batched_pipeline.triage(MIXED[i], top_k=TOP_KS[i])

    for _ in range(3):
        with ThreadPoolExecutor(len(MIXED)) as pool:
            got = list(pool.map(run, range(len(MIXED))))
        for i, (emb, result) in enumerate(got):
            np.testing.assert_allclose(emb, expected_emb[i], rtol=0, atol=1e-5)
            assert len(result["answers"]) <= TOP_KS[i]
            _same_triage(result, expected[i])
    items, batches = batcher.items - before[0], batcher.batches - before[1]
    assert items == 2 * 3 * len(MIXED)
    assert batches < items, "concurrent callers never shared a model call"


def test_request_failing_inside_a_batch_fails_alone(trained_model_dir, pipeline):
    """A pipeline whose model call raises for one text: that caller fails, the others in the
    same batch get the answers the unbatched pipeline gives."""
    from medtriage.pipeline import TriagePipeline

    bad = "this question breaks the model"

    class BreaksOnOne(TriagePipeline):
        def _predict_all_direct(self, texts):
            if bad in texts:
                raise RuntimeError("model failure")
            return super()._predict_all_direct(texts)

    broken = BreaksOnOne(trained_model_dir, batch_max=32, batch_wait_ms=5)
    gate = threading.Event()
    entered = threading.Event()
    original = broken._predict_rows

    def held_first(texts):  # hold the first batch so the rest queue into one batch
        if not entered.is_set():
            entered.set()
            assert gate.wait(60)
        return original(texts)

    broken.batcher.run_batch = held_first
    questions = [*MIXED[:4], bad, *MIXED[4:8]]
    with ThreadPoolExecutor(len(questions) + 1) as pool:
        # Through the batcher thread (a lone caller would run in its own thread), held there.
        first = broken.batcher.submit("What is glaucoma?")
        assert entered.wait(60)
        futures = [pool.submit(broken.triage, q, 3) for q in questions]
        while broken.batcher._queue.qsize() < len(questions):  # all queued behind the gate
            time.sleep(0.01)
        gate.set()
        first.result(60)
        for q, future in zip(questions, futures, strict=True):
            if q == bad:
                with pytest.raises(RuntimeError, match="model failure"):
                    future.result(60)
            else:
                _same_triage(future.result(60), pipeline.triage(q, top_k=3))
    assert broken.batcher.retried_alone == 1
    assert broken.batcher.largest == len(questions)


@pytest.mark.slow
def test_gunicorn_with_batching_answers_like_sequential_calls(trained_store, tmp_path, jwks):
    """Concurrent requests through real gunicorn, batching on, answer exactly what the same
    server answers to the same questions one at a time."""
    env = inference_env(
        tmp_path, jwks.url, trained_store, INFERENCE_WORKERS="1", INFERENCE_THREADS="16",
        INFERENCE_BATCH_MAX="32", INFERENCE_BATCH_WAIT_MS="5",
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {jwks.key.token(sub='batching')}"}
    questions = [*QUESTIONS, *MIXED]
    top_ks = [(i % 5) + 1 for i in range(len(questions))]

    def ask(i: int) -> dict:
        resp = requests.post(
            f"{server.url}/api/v1/triage",
            json={"question": questions[i], "top_k": top_ks[i]},
            headers=headers,
            timeout=60,
        )
        assert resp.status_code == 200, resp.text[:300]
        body = resp.json()
        for volatile in ("latency_ms", "history_saved", "history_id"):
            body.pop(volatile, None)
        return body

    with gunicorn_server(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        sequential = [ask(i) for i in range(len(questions))]
        for _ in range(2):
            with ThreadPoolExecutor(16) as pool:
                concurrent = list(pool.map(ask, range(len(questions))))
            for got, want in zip(concurrent, sequential, strict=True):
                _same_triage(got, want)
        # Every question went through the batcher, and the concurrent ones shared calls.
        families = scrape(server.url)
        questions_seen = total(families, "medtriage_model_batch_size_sum")
        calls = total(families, "medtriage_model_batch_size_count")
        assert questions_seen >= 3 * len(questions)
        assert calls < questions_seen
