"""WSGI app serving the fake pipeline, for gunicorn tests that need no TensorFlow:
`gunicorn -c inference_service/gunicorn_conf.py tests.inference.fake_wsgi:app`.

FAKE_LOAD_SECONDS makes every model load take that long (a real one takes 10-40 s), and
FAKE_TRIAGE_SECONDS every triage (the real one ~12 ms of CPU); both default to 0.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from inference_service import create_app
from tests.inference.fakes import FakePipeline, FakeSource


class SlowPipeline(FakePipeline):
    def triage(self, question: str, top_k: int = 3) -> dict:
        time.sleep(float(os.environ.get("FAKE_TRIAGE_SECONDS", "0")))
        return super().triage(question, top_k)


class SlowSource(FakeSource):
    def load(self, path: Path) -> FakePipeline:
        time.sleep(float(os.environ.get("FAKE_LOAD_SECONDS", "0")))
        return SlowPipeline(path.name)


app = create_app({"MODEL_SOURCE": SlowSource()})
