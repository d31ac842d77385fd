"""Small helpers the evaluation modules share."""

from __future__ import annotations

from medtriage.focus import normalise


def focus_match(retrieved: str, annotated: list[str]) -> bool:
    """The retrieved focus names an annotated one: either contains the other as whole words,
    compared in the recognizer's folded form ("Ewing sarcoma" is "ewing's sarcoma", "Sle"
    is not inside "Measles")."""
    r = normalise(retrieved)
    if not r:
        return False
    for name in annotated:
        a = normalise(name)
        if a and (f" {a} " in f" {r} " or f" {r} " in f" {a} "):
            return True
    return False
