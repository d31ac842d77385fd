"""gunicorn hooks for prometheus_client's multiprocess mode (see common/metrics.py).

Imported by the gunicorn config files in the master: only the standard library at import
time, because prometheus_client picks its mode when first imported and the master must not
import it before PROMETHEUS_MULTIPROC_DIR is set (the workers fork from the master).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_made: list[str] = []  # the directory prepare_metrics_dir made itself (the master's state)


def prepare_metrics_dir(service: str) -> str:
    """Call from on_starting: an empty PROMETHEUS_MULTIPROC_DIR for this master's workers.

    The operator's directory is emptied (values left by an earlier run would be added to
    this one's); otherwise a fresh temporary one is made and removed again at exit.
    """
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix=f"medtriage-{service}-metrics-")
        _made.append(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def mark_worker_dead(pid: int) -> None:
    """Call from child_exit: drop the dead worker's live gauges (its counters still count)."""
    from prometheus_client import multiprocess

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        multiprocess.mark_process_dead(pid, path)


def remove_metrics_dir() -> None:
    """Call from on_exit: remove the directory if prepare_metrics_dir made it."""
    while _made:
        shutil.rmtree(_made.pop(), ignore_errors=True)
