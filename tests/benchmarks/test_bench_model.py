"""The model benchmark runs on a freshly trained model (benchmarks are not otherwise run by
the tests, and a change to the model's layout once broke one silently)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_bench_model_runs_and_prints_every_figure(trained_store, medquad_csv):
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MEDTRIAGE_DATA": str(medquad_csv),
        # No torch here: the comparison must say so and the rest still run.
        "BENCH_TORCH_PYTHON": str(REPO / "no-such-python"),
    }
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_model.py", "--store", trained_store, "--repeat", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for figure in (
        "whole pipeline / before (p50)",
        "urgency cost per question",
        "number readings (in the model), 1 q",
        "unpadded / padded (p50), batch of 7 short + 1 long",
        "sentence-transformers on torch: not available",
        "resident memory",
    ):
        assert figure in out.stdout, figure
