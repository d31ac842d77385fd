"""A fake pipeline and model source, for tests that do not need TensorFlow."""

from __future__ import annotations

import threading
from pathlib import Path

from medtriage.answer import Answer

LABELS = ["information", "symptoms", "treatment", "causes"]


class FakePipeline:
    """Implements `medtriage.pipeline.Pipeline` without TensorFlow."""

    def __init__(self, version: str = "v1"):
        self.version = version
        self.labels = list(LABELS)
        self.metrics = {"medquad": {"accuracy": 0.9}}
        self.trained_at = "2026-11-22T20:00:00Z"
        self.calls = 0

    def triage(self, question: str, top_k: int = 3) -> dict:
        self.calls += 1
        if "explode" in question:
            raise RuntimeError(f"boom on {question}")
        urgent = "chest pain" in question.lower()
        reasons = (
            [{"code": "heart_attack", "message": "Signs of a heart attack: call 112 now."}]
            if urgent
            else []
        )
        abstained = "xyzzy" in question.lower()
        answers = (
            []
            if abstained
            else [
                Answer(
                    id=f"GHR_{i:07d}_Sec1",
                    question=f"What is <b>thing</b> {i}?",
                    answer="An answer with <script>alert(1)</script> in it. More text.",
                    extract="An answer with <script>alert(1)</script> in it.",
                    focus="Thing",
                    source_url=f"https://ghr.nlm.nih.gov/condition/thing-{i}",
                    score=10.0 - i,
                ).to_dict()
                for i in range(top_k)
            ]
        )
        focus = {"text": "thng", "matched": "Thing", "confidence": 0.9}
        # A medicine question about a named condition, answered below the decline threshold.
        medicine = "pills" in question.lower()
        category = {"label": "unanswerable" if medicine else "treatment", "confidence": 0.91}
        alternatives = [{"label": "information", "confidence": 0.05}]
        if medicine:
            category["confidence"] = 0.52
            alternatives = [{"label": "treatment", "confidence": 0.4}, *alternatives]
        return {
            "focus": None if abstained else focus,
            "question_summary": None if abstained else "What are the treatments for Thing?",
            "category": category,
            "categories": [category["label"]],
            "alternatives": alternatives,
            "urgent": urgent,
            "urgent_message": "This may be an emergency. Call 112 now." if urgent else None,
            "urgent_reasons": reasons,
            "abstained": abstained,
            "abstain_reason": "low confidence" if abstained else None,
            "answers": answers,
            "resources": [] if abstained else [{"title": "Thing registry", "url": "https://x.org"}],
            "model_version": self.version,
        }


class FakeSource:
    """Published versions in memory; `broken` versions fail to fetch like a corrupt artifact."""

    def __init__(self, latest: str = "v1"):
        self.latest = latest
        self.broken: set[str] = set()
        self.unreachable = False
        self.loads: list[str] = []
        self.resolved = threading.Event()

    def resolve(self, spec: str) -> str:
        self.resolved.set()
        if self.unreachable:
            raise ConnectionError("store unreachable")
        return self.latest if spec == "latest" else spec

    def fetch(self, version: str) -> Path:
        if version in self.broken:
            raise ValueError(f"checksum mismatch in {version}")
        return Path("/nonexistent") / version

    def load(self, path: Path) -> FakePipeline:
        self.loads.append(path.name)
        return FakePipeline(path.name)
