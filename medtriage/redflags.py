"""Red-flag (emergency) rules: the auditable floor under the learned urgency model.

Each rule is a regular expression over the normalised, lower-cased message and is named by
the emergency category it signals (the codes of `medtriage.urgency`). `SIGNS` describe an
emergency happening now and always flag. `TERMS` name a condition as happening ("is having a
stroke", "I'm suicidal") and flag only when the message is not plainly about the past, a
definition, statistics or study ("is it true you should cough if having a heart attack?").
Bare condition words ("stroke", "anaphylaxis", "suicide") never flag by rule: people ask about
them all the time; the learned model judges those messages. A hit just after "no"/"not"/"without" does not count ("no chest pain").
"""

from __future__ import annotations

import re

EMERGENCY_MESSAGE = (
    "This may be an emergency. Call your local emergency number or go to the nearest emergency "
    "department now. Do not wait for an online answer."
)

_BREATH = r"(can'?t|cannot|can not|couldn'?t|unable to|struggling to) (to )?(breath|catch (my|his|her) breath)"
# Shared with `medtriage.readings`, which reads the numbers themselves (ages, temperatures...).
NUMBER_WORDS: dict[str, int] = {
    w: n
    for n, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
        " sixteen seventeen eighteen nineteen twenty".split(),
        1,
    )
}
# Units after a number in the fever range that make it no temperature ("38 weeks", "40 kg").
NOT_TEMPERATURE_UNITS = r"weeks?|wks?|days?|years?|yrs?|hours?|hrs?|mins?|minutes|kg|lbs?|cm|%|ml"
APPROX = r"(about |around |like |maybe )?"
PILLS = r"(pills|tablets|paracetamol|tylenol|acetaminophen|ibuprofen|aspirin|meds)"
_UNDER_13 = r"([1-9]|1[0-2]|" + "|".join(w for w, n in NUMBER_WORDS.items() if n < 13) + ")"
# A baby under 3 months: days (up to 89), weeks (up to 12), 1-2 months, or a newborn.
_INFANT = (
    r"(\bnew-?born\b|\bneonate\b|\b([1-9]|[1-8]\d|one|two|three|four|five|six|seven|ten)[- ]?days?[- ]old"
    rf"|\b{_UNDER_13}[- ]?(weeks?|wks?)[- ]old"
    rf"|\b(baby|son|daughter|infant|she|he)('s| is) {_UNDER_13}[- ]?(weeks?|wks?)\b"
    r"|\b([12]|one|two)[- ]?months?[- ]old)"
)
# 38 C and over (not "born at 38 weeks"), 100.4 F and over, or a fever now.
_FEVER = (
    rf"(\b(3[89]|4[01])([.,]\d+)?(?! ?({NOT_TEMPERATURE_UNITS}))\b"
    r"|\b10[0-4]([.,]\d)? ?(°|f\b|degrees)|(has|got|with|running|developed) (a )?(high |slight |low[- ]grade )?fever)"
)

SIGNS: dict[str, str] = {
    "self_harm": r"kill (my|him|her|them)sel|end (my|his|her) (own )?life|i (want|wanna) to die"
    r"|(she|he) (says|said) (she|he) wants to die|don'?t want to (live|be alive)"
    r"|is cutting (him|her)self"
    r"|(going|about) to (jump|hang)",
    "poisoning_overdose": r"took (a whole bottle|all (my|the|of))|swallowed (some of|the) \w+'?s? (pills|tablets)"
    rf"|(took|taken|swallowed|downed) {APPROX}(\d{{2,}}|a (whole |full )?(bottle|pack|packet|box|strip))"
    rf" (of )?(my |his |her |the )?(\w+ )?{PILLS}"
    r"|drank (some )?(bleach|antifreeze)|swallowed (a |some )?(bleach|battery|button battery|pills)",
    "anaphylaxis": r"throat (is |feels )?(closing|swelling|swollen)|tongue (is )?swell"
    r"|lips? (are |is )?(swelling|swollen) and|swollen (lips|tongue|throat) and",
    "breathing": _BREATH + r"|not breathing|stopped breathing|barely breathing|gasping|turning blue"
    r"|lips (are |look |going )?(blue|grey)|struggling to breathe",
    "heart_attack": r"crushing (chest )?pain|chest (pain|pressure|tightness|hurts)[^.?!]{0,60}"
    r"(arm|jaw|sweat|breath|faint|passing out)|short of breath[^.?!]{0,30}chest (pain|hurts)",
    "stroke": r"face (is )?droop(ing)? on one side|drooping on one side|slurred speech|slurring"
    r"|suddenly (became |is |went )?confused and|sudden numbness"
    r"|worst headache (of|in) (my|his|her) life|thunderclap headache",
    "unconscious": r"unresponsive|won'?t wake( up)?|not waking up|collapsed and|weak pulse|no pulse",
    "seizure": r"(having|had) a seizure (right )?now|seizure (right now|won'?t stop)"
    r"|seizure for the first time|first (ever )?seizure",
    "bleeding": r"bleeding (heavily|badly|won'?t stop|that won'?t stop|will not stop)"
    r"|(won'?t|will not|can'?t) stop (the )?bleeding|spurting|(coughing|vomiting|throwing) up blood"
    r"|is (coughing|vomiting) blood|i'?m coughing up blood",
    "pregnancy": r"pregnan[^.?!]{0,40}(heavy bleeding|severe pain)"
    r"|\b(1\d|2\d|3[0-6]) weeks[^?!]{0,80}(contractions|tightenings?) (every|coming every) \d+ ?min",
    "vision_loss": r"sudden(ly)? (loss of vision|lost (the )?(vision|sight)|went blind|blind in)"
    r"|(new|sudden|shower of|swarm of) (\w+ )?floaters[^?!]{0,120}flash|flash(es)? of light[^?!]{0,120}new floaters",
    "meningitis_sepsis": r"stiff neck (and|with) (a )?(high )?fever"
    r"|(rash|spots|marks|blotches) (that )?(don'?t|doesn'?t|do not|does not|won'?t) (fade|go away when)",
    "infant_fever": _INFANT + r"[^?!]{0,120}" + _FEVER + "|" + _FEVER + r"[^?!]{0,60}" + _INFANT,
    "testicular": r"sudden[^.?!]{0,40}pain in (my|his|one|the) (left |right )?(testicle|testis|ball)"
    r"|(testicle|testis|ball)[^.?!]{0,30}(swollen|swelling)[^.?!]{0,30}(vomit|sick)",
    "chemical_eye": r"(bleach|drain cleaner|oven cleaner|cement|lime|acid|alkali|ammonia|caustic)"
    r"[^.?!]{0,40}\b(in|into) (my|his|her|their|the) eyes?\b",
    "head_injury": r"(hit|banged) (my|his|her|their) head[^.?!]{0,60}(vomit|confus|sleepy|drowsy)"
    r"|passed out and hit",
    "bite": r"bitten by a snake|snake ?bite|bitten by a snake",
    "choking": r"choking (on|and)[^.?!]{0,40}(can'?t|cannot) (talk|breathe|speak|cough)",
    "burn": r"electrocuted|severe burn",
    "diabetic": r"ketoacidosis|blood sugar (very|really) high[^.?!]{0,40}vomit",
}

TERMS: dict[str, str] = {
    "self_harm": r"(i'?m|i am|feel(ing)?) suicidal|(thinking|thought) about suicide every",
    "poisoning_overdose": r"(i|he|she|they|friend|son|daughter) (just )?overdosed",
    "stroke": r"(is|am|i'?m|be) having a stroke",
    "heart_attack": r"(is|am|i'?m|be) having a heart attack",
    "unconscious": r"(is|was found|are) unconscious",
}

# Plainly about the past, a definition, statistics, study or how-to: terms alone do not flag.
NOT_NOW = re.compile(
    r"\b(years?|months?|weeks?) ago|last (year|month|spring|summer|autumn|winter)|in (the )?past"
    r"|used to|recover|rehab|anniversary|what is|what are|what causes|difference between"
    r"|how (many|common|do|does|can|should|long)|statistic|rates?\b|essay|research|project"
    r"|textbook|exam|class|course|training|awareness|documentary|news|article|curious"
    r"|prevent|risk of|risk factors|warning signs|symptoms\?|can you overdose|is it true"
)
_NEGATED = re.compile(r"\b(no|not|without|never|denies)\s+(\w+\s+)?$")

_SIGNS = {name: re.compile(p) for name, p in SIGNS.items()}
_TERMS = {name: re.compile(p) for name, p in TERMS.items()}


def normalise(text: str) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(text.lower().replace("’", "'").split())


def _hit(rule: re.Pattern, text: str) -> bool:
    return any(
        not _NEGATED.search(text[max(0, m.start() - 25) : m.start()]) for m in rule.finditer(text)
    )


def red_flags(text: str) -> list[str]:
    """Emergency categories the text triggers by rule (empty when none), in rule order."""
    lowered = normalise(text)
    found = [name for name, rule in _SIGNS.items() if _hit(rule, lowered)]
    if not NOT_NOW.search(lowered):
        found += [n for n, rule in _TERMS.items() if n not in found and _hit(rule, lowered)]
    return found


def is_urgent(text: str) -> bool:
    return bool(red_flags(text))
