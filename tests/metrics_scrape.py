"""Read /metrics text and per-worker multiprocess files, for the gunicorn metrics tests."""

from __future__ import annotations

from pathlib import Path

import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families


def total(families, sample_name: str, **labels) -> float:
    """Sum of the samples called sample_name whose labels include `labels`."""
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


def scrape(url: str):
    resp = requests.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200
    return list(text_string_to_metric_families(resp.text))


def per_worker(directory: Path, sample_name: str, **labels) -> dict[int, float]:
    """pid -> that worker's own count, from its counter file in PROMETHEUS_MULTIPROC_DIR."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)])
        counts[int(path.stem.split("_")[1])] = total(families, sample_name, **labels)
    return counts
