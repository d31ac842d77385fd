"""Red-flag (emergency) detection by rules: a missed emergency is worse than a false alarm.

Rules rather than the classifier: they are auditable, need no training data, and err on the
side of flagging. Each rule is a regular expression over the lower-cased question.
"""

from __future__ import annotations

import re

EMERGENCY_MESSAGE = (
    "This may be an emergency. Call your local emergency number (911 in the US) or go to the "
    "nearest emergency department now. If you are thinking about suicide, call or text 988 "
    "(US Suicide & Crisis Lifeline). Do not wait for an online answer."
)

_ME = r"(i|i'm|im|i am|my \w+|he|she|he's|she's|they|we|someone|somebody|person|baby|child|son|daughter|husband|wife|mom|mum|dad|mother|father)"  # noqa: E501

RULES: dict[str, str] = {
    "suicide": r"suicid|kill (my|him|her|them)sel|end (my|his|her) (own )?life|want(s)? to die"
    r"|(self[- ]harm|hurt(ing)? (my|him|her)self)|don'?t want to (live|be alive)",
    "overdose": r"overdos|took (too many|a lot of|a whole bottle|all (my|the|of))|swallowed (a|the|some|too)"
    r"|poison(ed|ing)|drank (bleach|antifreeze)",
    "anaphylaxis": r"anaphyla|throat (is )?(closing|swelling|swollen|tight)|tongue (is )?swell"
    r"|lips? (are |is )?swell|lips? (are |is )?swollen|swollen (lips|tongue|throat)|epi ?pen",
    "breathing": r"(can'?t|cannot|can not|couldn'?t|unable to|struggling to|hard to|trouble|difficulty)"
    r" (to )?(breath|breathing)|not breathing|stopped breathing|gasping|choking|turning blue"
    r"|short(ness)? of breath|breathless",
    "chest_pain": r"chest (pain|pressure|tightness|hurts|is tight)|pain in (my|his|her|the) chest"
    r"|crushing pain|(having|had) a heart attack|heart attack (now|right now)"
    r"|pain (spreading|radiating) (to|down) (my|his|her|the) (left )?arm",
    "stroke": r"(having|had) a stroke|face (is )?droop|drooping face|slurred speech|slurring"
    r"|sudden(ly)? (became |become |is |got |went )?(numb|weak|confus|trouble|loss of vision|blind"
    r"|can'?t (speak|see|walk))"
    r"|one side of (my|his|her) (body|face)|worst headache|thunderclap headache",
    "unconscious": r"unconscious|unresponsive|passed out|won'?t wake|not waking|fainted and"
    r"|collapsed|seizure (now|right now|won'?t stop)|(having|had) a seizure|seizing|convuls",
    "bleeding": r"bleeding (heavily|a lot|badly|won'?t stop|that won'?t stop|will not stop)"
    r"|(won'?t|will not|can'?t|doesn'?t) stop bleeding|severe bleeding|lots? of blood"
    r"|(coughing|vomiting|throwing) (up )?blood|blood in (my|his|her) vomit|spurting",
    "other": r"stiff neck (and|with) (a )?(high )?fever|severe burn|electrocuted|drown"
    r"|(head injury|hit (my|his|her|their) head).*(vomit|confus|sleepy)|snake ?bite|bitten by a snake"
    r"|weak pulse|no pulse|pregnan.*(heavy bleeding|severe pain)"
    r"|meningitis rash|sepsis|septic shock|ketoacidosis",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in RULES.items()}


def red_flags(text: str) -> list[str]:
    """Names of the emergency rules the text triggers (empty when none)."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    return [name for name, rule in _COMPILED.items() if rule.search(lowered)]


def is_urgent(text: str) -> bool:
    return bool(red_flags(text))
