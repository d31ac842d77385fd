"""Model lifecycle: fetch, verify, load and warm up in the background; poll for a new LATEST.

Under gunicorn a worker that replaces a serving sibling waits for its first load before it
accepts connections (gunicorn_conf.post_worker_init). Otherwise (cold start, no server) a
request that finds no model waits up to MODEL_HOLD_SECONDS while a load is under way
(`wait_for_model`), and gets a 503 if none arrives or the store is failing. A newer
published version is fetched, verified (checksums, by the store), loaded and smoke-tested
beside the serving one, then swapped in with one attribute assignment; requests already
running keep the object they took. A version that fails any step is refused and the
serving one stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from medtriage.pipeline import Pipeline

log = logging.getLogger(__name__)

SMOKE_QUESTION = "What are the symptoms of diabetes?"


class ModelSource(Protocol):
    """Where pipelines come from: the artifact store in production, fakes in tests."""

    def resolve(self, spec: str) -> str: ...

    def fetch(self, version: str) -> Path: ...

    def load(self, path: Path) -> Pipeline: ...


def configure_tensorflow(intra: int, inter: int) -> None:
    """Set TensorFlow's thread pools before its runtime starts (once per process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):  # already initialised: keep what it has
        if intra > 0:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter > 0:
            tf.config.threading.set_inter_op_parallelism_threads(inter)


def help_numbers(config):
    """The emergency / poison / crisis numbers urgent reasons name, from the app config."""
    from medtriage.urgency import HelpNumbers

    d = HelpNumbers()
    return HelpNumbers(
        config.get("EMERGENCY_NUMBER") or d.emergency,
        config.get("POISON_HELP") or d.poison,
        config.get("CRISIS_LINE") or d.crisis,
    )


class StoreSource:
    """Published versions in an artifact store (`medtriage.store`), cached on local disk."""

    def __init__(
        self,
        store_uri: str,
        cache_dir: str | Path,
        tf_threads: tuple[int, int] = (0, 0),
        numbers=None,
        batching: tuple[int, float] = (1, 0.0),
    ):
        self.numbers = numbers
        self.store_uri = store_uri
        self.cache_dir = Path(cache_dir)
        self.tf_threads = tf_threads
        self.batching = batching  # (INFERENCE_BATCH_MAX, INFERENCE_BATCH_WAIT_MS)
        self._store = None

    def store(self):
        if self._store is None:
            from medtriage.store import open_store

            self._store = open_store(self.store_uri)
        return self._store

    def resolve(self, spec: str) -> str:
        from medtriage.store import resolve_version

        return resolve_version(self.store(), spec)

    def fetch(self, version: str) -> Path:
        from medtriage.store import fetch_version, writing

        # A read-only or full cache directory fails here with an ArtifactError naming it.
        with writing(self.cache_dir):
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            lock_file = open(self.cache_dir / ".fetch.lock", "w")  # noqa: SIM115 - closed below
        # Workers of one host share the cache: one downloads, the others wait and reuse it.
        with lock_file as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return Path(fetch_version(self.store(), version, self.cache_dir))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self, path: Path):
        configure_tensorflow(*self.tf_threads)
        from medtriage.pipeline import TriagePipeline

        batch_max, batch_wait_ms = self.batching
        return TriagePipeline.load(
            path, numbers=self.numbers, batch_max=batch_max, batch_wait_ms=batch_wait_ms
        )


class ModelManager:
    """Holds the serving pipeline and a daemon thread that loads and refreshes it."""

    def __init__(
        self,
        source: ModelSource,
        spec: str = "latest",
        poll_seconds: float = 60.0,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        on_swap=None,
        on_refuse=None,
    ):
        self.source = source
        self.spec = spec
        self.poll_seconds = poll_seconds
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.on_swap = on_swap
        self.on_refuse = on_refuse
        self.current: Any = None  # the serving pipeline; replaced atomically, never mutated
        self.last_error: str | None = None
        self.refused: dict[str, float] = {}  # version -> monotonic time it may be retried
        self.loaded_at: float | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Notified after every load attempt; guards _attempting and _attempts.
        self._changed = threading.Condition()
        self._attempting = False
        self._attempts = 0

    @property
    def ready(self) -> bool:
        return self.current is not None

    def start(self) -> None:
        """Start the loader thread in this process (again after a fork: threads do not survive)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="model-loader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_model(self, timeout: float):
        """The serving pipeline, waiting up to `timeout` s while a first load is under way.

        Returns None at once when no loader runs or the last attempt failed (backing off):
        waiting would only delay the 503.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.current is None and self._loading():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        return self.current

    def _loading(self) -> bool:
        running = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
        return running and (self._attempting or self._attempts == 0)

    def poke(self) -> None:
        """Check the store now instead of at the next poll."""
        self._wake.set()

    def check_once(self) -> bool:
        """Resolve the wanted version; load and swap it in if it is new. True if swapped."""
        version = self.source.resolve(self.spec)
        current = self.current
        if current is not None and getattr(current, "version", None) == version:
            return False
        retry_at = self.refused.get(version)
        if retry_at is not None and time.monotonic() < retry_at:
            return False
        try:
            started = time.perf_counter()
            path = self.source.fetch(version)
            pipeline = self.source.load(path)
            loaded_version = getattr(pipeline, "version", version)
            if loaded_version != version:
                raise ValueError(f"artifact says version {loaded_version!r}, expected {version!r}")
            self._smoke_test(pipeline)
        except Exception as exc:
            # A corrupt, half-published or broken version: keep serving the current one.
            self.refused[version] = time.monotonic() + max(self.poll_seconds, self.retry_max)
            if self.on_refuse:
                self.on_refuse(version, exc)
            raise
        self.current = pipeline
        self.loaded_at = time.time()
        self.last_error = None
        self.refused.pop(version, None)
        log.info(
            "model loaded",
            extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        log.info("serving model version %s", version)
        if self.on_swap:
            self.on_swap(pipeline)
        return True

    @staticmethod
    def _smoke_test(pipeline) -> None:
        result = pipeline.triage(SMOKE_QUESTION, top_k=1)
        if not isinstance(result, dict) or "category" not in result:
            raise ValueError("pipeline smoke test returned no category")

    def _run(self) -> None:
        delay = self.retry_initial
        while not self._stop.is_set():
            with self._changed:
                self._attempting = True
            try:
                self.check_once()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("model load failed: %s", self.last_error)
            finally:
                with self._changed:
                    self._attempting = False
                    self._attempts += 1
                    self._changed.notify_all()
            if self.ready:
                delay = self.retry_initial
                if self.spec != "latest" or self.poll_seconds <= 0:
                    return  # a pinned version never changes; polling is off
                wait = self.poll_seconds
            else:
                wait = delay  # nothing serves yet: retry with backoff, /readyz says 503
                delay = min(delay * 2, self.retry_max)
            self._wake.wait(wait)
            self._wake.clear()
