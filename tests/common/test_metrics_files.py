"""/metrics under gunicorn reads every worker's files; one a new worker has only just created
(empty) must not fail the scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from common.metrics import WorkerFilesCollector

NAME = "medtriage_predictions_total"


def _counter_file(directory, pid: int, value: float) -> None:
    d = MmapedDict(str(directory / f"counter_{pid}.db"))
    d.write_value(mmap_key(NAME, NAME, [], [], "help"), value, 0.0)
    d.close()


def test_an_empty_worker_file_is_skipped(tmp_path):
    _counter_file(tmp_path, 101, 3.0)
    _counter_file(tmp_path, 102, 4.0)
    (tmp_path / "counter_103.db").touch()  # created, not yet sized
    (tmp_path / "gauge_livemin_103.db").touch()
    registry = CollectorRegistry()
    WorkerFilesCollector(registry, path=str(tmp_path))
    text = generate_latest(registry).decode()
    assert f"{NAME} 7.0" in text
