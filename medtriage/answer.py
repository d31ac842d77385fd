"""One answer as the service returns it: the single definition of its fields.

The retriever builds these, the JSON API's OpenAPI schema is generated from them
(`inference_service/schemas.py`) and the test fake builds them too, so a field added here
reaches the JSON, the page's data and the fake at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


def _doc(text: str, required: bool = True) -> dict:
    return {"description": text, "required": required}


@dataclass(frozen=True)
class Answer:
    id: str = field(metadata=_doc("MedQuAD id, unchanged"))
    question: str = field(metadata=_doc("the MedQuAD question this passage answers"))
    answer: str = field(metadata=_doc("the full passage"))
    extract: str = field(metadata=_doc("the one to three sentences that answer the question"))
    focus: str = field(metadata=_doc("the condition the passage is about"))
    source_url: str = field(metadata=_doc("the NIH page the passage comes from"))
    score: float = field(metadata=_doc("ranking score, higher is better"))
    category: str = field(default="", metadata=_doc("the category of the MedQuAD row", False))
    similarity: float = field(default=0.0, metadata=_doc("embedding similarity", False))

    def to_dict(self) -> dict:
        return asdict(self)


def answer_fields() -> list[tuple[str, type | str, dict]]:
    """(name, type, metadata) of every field, for schema generation."""
    return [(f.name, f.type, dict(f.metadata)) for f in fields(Answer)]
