"""Urgency: rules (the auditable floor) combined with the learned model, and the reasons shown.

No country is assumed: the emergency, poison-help and crisis numbers come from the caller
(the inference service reads them from its environment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from medtriage.redflags import red_flags

CATEGORY_NAMES: dict[str, str] = {
    "stroke": "Signs of a stroke",
    "heart_attack": "Signs of a heart attack",
    "anaphylaxis": "Signs of a severe allergic reaction (anaphylaxis)",
    "breathing": "Serious difficulty breathing",
    "bleeding": "Serious bleeding",
    "poisoning_overdose": "Possible poisoning or overdose",
    "self_harm": "You or someone else may be in danger of self-harm",
    "seizure": "A seizure that needs emergency care",
    "head_injury": "A head injury with warning signs",
    "meningitis_sepsis": "Possible meningitis or sepsis",
    "infant_fever": "Fever in a very young baby",
    "pregnancy": "A pregnancy emergency",
    "diabetic": "A diabetic emergency",
    "vision_loss": "Sudden loss of vision",
    "testicular": "Sudden testicle pain (possible torsion)",
    "chemical_eye": "A chemical in the eye",
    "bite": "A dangerous bite or sting",
    "burn": "A serious burn",
    "choking": "Choking",
    "unconscious": "Someone unconscious or unresponsive",
}
INGESTION = {"poisoning_overdose"}
GENERIC = "emergency"


@dataclass(frozen=True)
class HelpNumbers:
    emergency: str = "your local emergency number"
    poison: str = "your local poison control centre"
    crisis: str = "a local crisis line"

    @classmethod
    def from_env(cls, env=os.environ) -> HelpNumbers:
        d = cls()
        return cls(
            env.get("EMERGENCY_NUMBER") or d.emergency,
            env.get("POISON_HELP") or d.poison,
            env.get("CRISIS_LINE") or d.crisis,
        )


def reason(code: str, numbers: HelpNumbers) -> dict:
    """{"code", "message"}: what it looks like and what to do now."""
    name = CATEGORY_NAMES.get(code, "This may be an emergency")
    if code == "self_harm":
        action = f"contact {numbers.crisis} now, or call {numbers.emergency} if life is in danger."
    elif code == "chemical_eye":
        action = f"rinse the eye with running water now and call {numbers.emergency}."
    elif code in INGESTION:
        action = f"call {numbers.poison} or {numbers.emergency} now."
    else:
        action = f"call {numbers.emergency} now."
    return {"code": code, "message": f"{name}: {action}"}


@dataclass(frozen=True)
class UrgencyModel:
    """The learned part: the threshold chosen on val and the category labels."""

    threshold: float
    categories: list[str]

    @classmethod
    def from_config(cls, config: dict) -> UrgencyModel | None:
        u = config.get("urgency")
        return cls(float(u["threshold"]), list(u["categories"])) if u else None


def assess(
    text: str,
    probability: float | None,
    category_probs: np.ndarray | None,
    model: UrgencyModel | None,
    numbers: HelpNumbers,
) -> dict:
    """`urgent`, `urgent_reasons` and `urgent_message` for one message.

    Urgent when a rule fires or the model's probability reaches its threshold. Reasons: the
    rules' categories first (auditable), then the model's category when the model flagged.
    """
    codes = red_flags(text)
    # No letters at all (empty, emoji, control characters): the model's score means nothing.
    has_words = any(ch.isalpha() for ch in str(text))
    model_urgent = (
        has_words
        and model is not None
        and probability is not None
        and probability >= model.threshold
    )
    if model_urgent:
        code = GENERIC
        if category_probs is not None and len(category_probs) == len(model.categories):
            code = model.categories[int(np.argmax(category_probs))]
        if code not in codes:
            codes.append(code)
    reasons = [reason(c, numbers) for c in codes]
    return {
        "urgent": bool(reasons),
        "urgent_reasons": reasons,
        "urgent_message": (
            f"This may be an emergency. {reasons[0]['message']} Do not wait for an online answer."
            if reasons
            else None
        ),
        "urgency": None if probability is None else round(float(probability), 4),
    }
