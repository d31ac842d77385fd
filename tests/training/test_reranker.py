import numpy as np
import pandas as pd

from medtriage.rerank import Reranker, build_reranker
from training.reranker import Kb, Queries, build_pairs, fit_pairs, rank_metrics

DIM = 384


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Positives: the candidate is a noisy copy of the query; negatives: unrelated vectors."""
    rng = np.random.default_rng(seed)
    u = unit(rng.normal(size=(n, DIM)))
    y = (rng.random(n) < 0.5).astype(np.float32)
    other = unit(rng.normal(size=(n, DIM)))
    v = unit(np.where(y[:, None] == 1, u + 0.6 * rng.normal(size=(n, DIM)) / 20, other))
    w = unit(v + 0.5 * unit(rng.normal(size=(n, DIM))))
    return [u, v, w], y


def test_learns_a_separable_rule():
    x, y = synthetic(2000, 0)
    xv, yv = synthetic(400, 1)
    reranker, hist = fit_pairs(x, y, None, xv, yv, units=32, seed=0, epochs=10)
    scores = np.array([reranker.score(u, v[None], w[None])[0] for u, v, w in zip(*xv)])
    assert np.mean((scores > 0.5) == (yv == 1)) > 0.95
    assert hist["val_loss"][-1] < hist["val_loss"][0]


def test_numpy_scores_match_the_keras_model():
    reranker = Reranker(build_reranker(units=16, seed=3))
    x, _ = synthetic(20, 2)
    u, v, w = x
    assert np.allclose(reranker.score(u[0], v, w), reranker.score_keras(u[0], v, w), atol=1e-5)


def test_save_load_round_trip_gives_identical_scores(tmp_path):
    reranker = Reranker(build_reranker(units=16, seed=4))
    (u, v, w), _ = synthetic(30, 5)
    reranker.save(tmp_path)
    loaded = Reranker.load(tmp_path)
    assert np.array_equal(loaded.score(u[0], v, w), reranker.score(u[0], v, w))
    assert np.allclose(loaded.score_keras(u[0], v, w), reranker.score_keras(u[0], v, w))


def test_score_handles_zero_and_one_candidate():
    reranker = Reranker(build_reranker(units=8, seed=5))
    (u, v, w), _ = synthetic(3, 6)
    empty = np.zeros((0, DIM), np.float32)
    assert reranker.score(u[0], empty, empty).shape == (0,)
    assert reranker.score_keras(u[0], empty, empty).shape == (0,)
    one = reranker.score(u[0], v[:1], w[:1])
    assert one.shape == (1,) and 0.0 < float(one[0]) < 1.0


def tiny_kb() -> Kb:
    df = pd.DataFrame(
        {
            "focus_key": ["gout", "gout", "gout", "asthma", "asthma", "type 1 diabetes"],
            "category": ["information", "treatment", "treatment", "treatment", "causes", "causes"],
            "synonyms": ["podagra", "", "", "", "", "juvenile diabetes;t1d"],
        }
    )
    emb = unit(np.random.default_rng(0).normal(size=(len(df), DIM)))
    return Kb(df, emb, emb)


def test_pairs_label_focus_and_type_and_skip_the_query_row():
    kb = tiny_kb()
    queries = Queries(kb.q[[1, 3]], [{"gout"}, {"asthma"}], ["treatment", "treatment"], [], [1, -1])
    qi, ri, y, _ = build_pairs(queries, kb, {"gout": ["asthma"], "asthma": ["gout"]}, seed=0)
    for q, r, label in zip(qi, ri, y, strict=True):
        right = kb.focus[r] in queries.foci[q] and kb.cat[r] == queries.category[q]
        assert label == float(right)
    assert not ((qi == 0) & (ri == 1)).any()
    assert ((qi == 0) & (ri == 2) & (y == 1)).any()


def test_rank_metrics():
    gold = [np.array([False, True, False]), np.array([True, False]), np.array([False, False])]
    orders = [np.array([0, 1, 2]), np.array([0, 1]), np.array([1, 0])]
    m = rank_metrics(orders, gold)
    assert m["hit@1"] == round(1 / 3, 4)
    assert m["hit@3"] == round(2 / 3, 4)
    assert m["mrr@10"] == round((0.5 + 1.0) / 3, 4)
