"""Readiness across gunicorn workers.

Each worker loads its own model. If `/readyz` only spoke for the worker that answered, a load
balancer could route traffic while a sibling is still loading, and every other request would
get a 503. So workers leave a marker file when their model serves, in a directory the
gunicorn master creates (gunicorn_conf.on_starting), and `/readyz` is 200 only when every
expected worker is serving. Markers of dead workers are ignored (their pid is gone).

Once every worker has served, the task stays ready when a worker is replaced: the replacement
loads its model before it accepts connections (gunicorn_conf.post_worker_init), so it takes
no traffic meanwhile and the others answer. A 503 then would take a whole task out of the
load balancer for one worker's restart.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerBoard:
    def __init__(self, directory: str | Path, expected: int):
        self.directory = Path(directory)
        self.expected = max(1, expected)

    @classmethod
    def from_env(cls) -> WorkerBoard | None:
        directory = os.environ.get("INFERENCE_READINESS_DIR")
        if not directory:
            return None
        return cls(directory, int(os.environ.get("INFERENCE_EXPECTED_WORKERS", "1")))

    def mark_ready(self, version: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{os.getpid()}.tmp"
        tmp.write_text(version)
        os.replace(tmp, self.directory / str(os.getpid()))

    def ready_workers(self) -> int:
        count = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in self.directory.iterdir():
                if entry.name.isdigit() and _alive(int(entry.name)):
                    count += 1
        return count

    def all_ready(self) -> bool:
        return self.ready_workers() >= self.expected

    def task_ready(self) -> bool:
        """Every worker serves, or did once (a replacement then loads before accepting)."""
        settled = self.directory / "settled"
        if settled.exists():
            return True
        if not self.all_ready():
            return False
        with contextlib.suppress(OSError):
            settled.touch()
        return True
