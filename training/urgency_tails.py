"""Calm endings for urgency training: people describe an emergency, then ask something mild.

"...my tongue feels swollen and it's hard to swallow, I'm dizzy. Is there a cream I should use?"
The heads read the mean of every token, so a calm last question pulls an emergency's score
down (0.90 without that question, 0.19 with it, for a message written outside this project).
Training sees a share of the messages (`training.urgency.TAILS`) a second time with one of
`TRAIN_TAILS` appended, urgent and non-urgent alike, so the ending carries no label and the
heads learn to look past it. `CHECK_TAILS`, worded differently, never trains:
`python -m training.urgency_cv --endings-check` scores held-out folds with them appended. No tail holds a number (`medtriage.readings` reads
numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TRAIN_TAILS = (
    "Is this normal?",
    "is there a cream i should use",
    "What can I give him for it?",
    "Should we just wait and see the GP on Monday?",
    "any advice appreciated, thanks",
    "Can I take ibuprofen for it?",
    "how long does this usually last?",
    "Sorry for the long message.",
    "is it ok to just sleep it off",
    "I don't want to waste anyone's time.",
    "What do you think it could be?",
    "Should I put ice on it?",
    "we don't really like going to the doctor",
    "Thanks in advance for any help.",
    "what home remedies work for this?",
    "Could it be something I ate?",
    "is there anything natural I can try",
    "Would drinking more water help?",
    "My husband says I'm overreacting.",
    "Can she still go to school tomorrow?",
    "Is it safe to drive there myself?",
    "What vitamins are good for this?",
    "should i be worried or is it nothing",
    "I read online it might be stress.",
)

CHECK_TAILS = (
    "Is there something I could put on it?",
    "would a warm bath help at all",
    "Can this wait until after the weekend?",
    "She hates hospitals so I'd rather not go.",
    "any tips? thx",
    "What over the counter stuff would you recommend?",
    "is that common at his age?",
    "I have work in the morning so hoping it settles.",
    "Might just be a virus going around?",
    "what does it usually mean when that happens",
    "Happy to book a routine appointment if needed.",
    "He says it's nothing and to stop fussing.",
)


def with_tails(
    texts: Sequence[str], tails: Sequence[str], seed: int, keep: Sequence[bool] | None = None
) -> list[str]:
    """Each text with one tail appended (chosen by `seed`); texts where `keep` is True stay
    as they are."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(tails), size=len(texts))
    return [
        t if keep is not None and keep[i] else f"{t.rstrip()} {tails[picks[i]]}"
        for i, t in enumerate(texts)
    ]
