"""Focus recognition speed and index size on the real MedQuAD kb.

    python benchmarks/bench_focus.py
Goals: build < 60 s, recognize() < 2 ms for a 300-char question and < 10 ms for 2,000 chars.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medtriage.focus import INDEX_FILE, FocusIndex  # noqa: E402
from training.focus_eval import data_dir  # noqa: E402

FILLER = (
    "My father is 72 and was told last month that he has macular degenration in his left eye. "
    "He also has diabetis and high blood presure. What treatments are available and can it be "
    "slowed down? We are worried because his vision is getting worse every week. "
)


def per_call_ms(index: FocusIndex, text: str, repeat: int = 200) -> float:
    index.recognize(text)  # warm the correction cache as a running service would be
    t0 = time.perf_counter()
    for _ in range(repeat):
        index.recognize(text)
    return (time.perf_counter() - t0) / repeat * 1000


def main() -> None:
    kb = pd.read_csv(data_dir() / "medquad.csv.gz", keep_default_na=False, dtype=str)
    t0 = time.perf_counter()
    index = FocusIndex.build(kb)
    print(f"build: {time.perf_counter() - t0:.1f} s ({len(kb)} rows, {len(index.groups)} groups)")
    with tempfile.TemporaryDirectory() as d:
        index.save(Path(d))
        size = (Path(d) / INDEX_FILE).stat().st_size
        t0 = time.perf_counter()
        index = FocusIndex.load(Path(d))
        print(f"saved file: {size / 1e3:.0f} kB; load: {time.perf_counter() - t0:.2f} s")
    short = (FILLER * 2)[:300]
    long = (FILLER * 10)[:2000]
    print(f"recognize 300 chars: {per_call_ms(index, short):.2f} ms (goal < 2)")
    print(f"recognize 2000 chars: {per_call_ms(index, long, 50):.2f} ms (goal < 10)")
    index._corr_cache.clear()
    t0 = time.perf_counter()
    index.recognize(long)
    print(f"recognize 2000 chars, cold spelling cache: {(time.perf_counter() - t0) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
