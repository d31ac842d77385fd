"""Passages into sentences and short chunks; link lists told apart from answers.

MedQuAD answers run from one line to 28,000 characters. Retrieval and the extract shown to a
person work on chunks: runs of one to three consecutive sentences (at most `CHUNK_WORDS` words),
embedded at training time, so the part of a long section that answers the question is found
without encoding anything at serving time.
"""

from __future__ import annotations

import re

CHUNK_WORDS = 60
MAX_SENTENCES = 3

# "These resources address the diagnosis or management of X:  - Gene Review: ..." (GHR) and
# "The following online resources provide information on ...: ..." (GARD) list links, not answers.
_LINK_LIST = re.compile(
    r"^(?:[^.?!]*\?\s*)?(these resources address|the following (online )?resources? (provide|may))",
    re.I,
)
_ITEM = re.compile(r"\s{2,}-\s+")
# A sentence ends at . ! or ? before a capital, a digit or an opening bracket; list items
# ("  - item") and runs of spaces (former line breaks) end one too.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\s{2,}-\s+|\s{3,}")


def is_link_list(answer: str) -> bool:
    return bool(_LINK_LIST.match(answer.strip()))


def link_titles(answer: str, limit: int = 12) -> list[str]:
    """The titles a link list names ("Genetic Testing Registry: Achondroplasia", ...)."""
    parts = _ITEM.split(answer.strip())
    titles = [" ".join(p.split()) for p in parts[1:] if p.strip()]
    if not titles:  # GARD's run-on lists: one entry, the text after the colon
        tail = answer.split(":", 1)[-1]
        titles = [" ".join(tail.split())[:200]]
    return titles[:limit]


def sentences(text: str) -> list[str]:
    parts = (" ".join(p.split()) for p in _SENTENCE_END.split(text or ""))
    return [p for p in parts if p]


def chunks(answer: str, question: str = "") -> list[str]:
    """Runs of up to MAX_SENTENCES sentences and about CHUNK_WORDS words, in order.

    A first sentence that only repeats the question (GARD: "How might X be treated? ...") is
    dropped: it would match every question and answer none.
    """
    sents = sentences(answer)
    if sents and question and sents[0].rstrip("?").lower() in question.lower():
        sents = sents[1:]
    if sents and sents[0].endswith("?") and len(sents) > 1:
        sents = sents[1:]
    out: list[str] = []
    current: list[str] = []
    words = 0
    for sent in sents:
        n = len(sent.split())
        if current and (words + n > CHUNK_WORDS or len(current) >= MAX_SENTENCES):
            out.append(" ".join(current))
            current, words = [], 0
        current.append(sent)
        words += n
    if current:
        out.append(" ".join(current))
    return out or [" ".join(answer.split())[:600]]
