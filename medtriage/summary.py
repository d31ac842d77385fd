"""The canonical question: what we understood, in MedQuAD's words ("What are the treatments for
giant cell arteritis?"), from the recognised focus and the main category."""

from __future__ import annotations

from medtriage.categories import UNANSWERABLE

TEMPLATES = {
    "information": "What is {focus}?",
    "symptoms": "What are the symptoms of {focus}?",
    "treatment": "What are the treatments for {focus}?",
    "causes": "What causes {focus}?",
    "exams and tests": "How is {focus} diagnosed?",
    "inheritance": "Is {focus} inherited?",
    "genetic changes": "What are the genetic changes related to {focus}?",
    "frequency": "How many people are affected by {focus}?",
    "outlook": "What is the outlook for {focus}?",
    "prevention": "How can {focus} be prevented?",
    "complications": "What are the complications of {focus}?",
    "research": "What research is being done for {focus}?",
    "stages": "What are the stages of {focus}?",
    "susceptibility": "Who is at risk for {focus}?",
}


def canonical_question(category: str, focus: str | None) -> str | None:
    """None when there is no focus or the category has no answers in the knowledge base."""
    if not focus or category == UNANSWERABLE:
        return None
    # The focus as MedQuAD spells it: lower-casing "Noonan syndrome" or "HIV" would be wrong.
    return TEMPLATES.get(category, "What is {focus}?").format(focus=focus)
