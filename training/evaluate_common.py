"""Small helpers the evaluation modules share."""

from __future__ import annotations


def focus_match(retrieved: str, annotated: list[str]) -> bool:
    """The retrieved focus names an annotated one (either contains the other, case-blind)."""
    r = retrieved.lower().strip()
    return bool(r) and any(a and (a in r or r in a) for a in annotated)
