"""Number readings: what the numbers in a message say, as a short fixed-length float vector.

The red-flag rules (`medtriage.redflags`) read numbers ("7 weeks old", "38.2", "took 30
tylenol"); the learned urgency heads read the encoder's features, which barely tell 37.4 from
38.2. `readings` gives the heads the numbers: the youngest stated age, the body temperature in
°C (Fahrenheit converted), the weeks of pregnancy, the number of pills taken and how long ago
things started, each with a "stated" flag (zeros when the message states none), plus a few
threshold indicators (a baby under 3 months, 38 °C or more...). Pure Python, no TensorFlow:
`medtriage.layers.NumberReadings` runs it inside the saved model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from medtriage.redflags import (
    APPROX,
    NOT_TEMPERATURE_UNITS,
    NUMBER_WORDS,
    PILLS,
    normalise,
)

DAYS = {"d": 1.0, "w": 7.0, "m": 30.44, "y": 365.25}
HOURS = {"min": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0, "m": 730.5, "y": 8766.0}
INFANT_DAYS = 90  # "under 3 months", as the rules and the data set's labels read it
FEVER_C = 38.0
LOW_C = 36.0

_NUM = r"(\d{1,3}(?:[.,]\d)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
_N = f"(?P<n>{_NUM[1:-1]})"
_AGE_UNIT = (
    r"(?P<u>days?|d(?=[- ]?old)|weeks?|wks?|wk|w(?=[- ]?old)|months?|mnths?|mths?|mos?"
    r"|years?|yrs?|yr|y(?=[- ]?old))"
)
_PERSON = (
    r"(baby|babies|son|daughter|boy|girl|infant|newborn|grandson|granddaughter|little one|child"
    r"|kid|toddler|brother|sister|nephew|niece|he|she)"
)
_AGES = [
    # "7 wk old", "12-day-old", "4 yr old"
    re.compile(rf"\b{_N}[- ]?{_AGE_UNIT}[- ]old\b"),
    # "2 yo", "4mo", "3 y/o"
    re.compile(rf"\b{_N} ?(?P<u>yo|y/o|y\.o\.?|mo)\b"),
    # "born 9 days ago", "had my baby nine days ago", "gave birth 2 weeks ago"
    re.compile(
        rf"\b(born|had (my|her|our|the) (\w+ )?baby|gave birth|delivered (\w+ )?(\w+ )?)"
        rf" (about |only |just )?{_N} {_AGE_UNIT} ago"
    ),
    # "baby is 9 weeks", "our boy is 11 weeks", "daughter is six weeks", "toddler 18 months"
    re.compile(
        rf"\b{_PERSON}('s| is)?,? (now |only |just |about |nearly |almost )*{_N}"
        rf"[- ]?{_AGE_UNIT}\b(?! (ago|pregnant|along))"
    ),
    # "aged 3 months"
    re.compile(rf"\baged? {_N} {_AGE_UNIT}\b"),
]
_NEWBORN = re.compile(r"\bnew-?borns?\b|\bneonates?\b")
NEWBORN_DAYS = 14.0

_TEMP_WORDS = re.compile(r"temp|fever|thermometer")
# 34-43.9 (°C) or 93-109.9 (°F); not a count of weeks, days, kg... nor blood pressure or 33+2.
_TEMPERATURE = re.compile(
    rf"(?<![\d/.,+])(3[4-9]|4[0-3]|9[3-9]|10\d)([.,]\d{{1,2}})?(?![\d/+])"
    rf"(?! ?({NOT_TEMPERATURE_UNITS}|mg|mcg|g\b|units?|bpm|mmol|x\b|times|am|pm|min|m\b|yo|y/o))"
    rf"( ?(°|degrees?|deg\b) ?(c|f|celsius|fahrenheit)?| ?(c|f)\b)?"
)

_PREGNANCY_CONTEXT = re.compile(
    r"pregnan|\bpg\b|midwife|antenatal|\bbump\b|contraction|tightening|waters|kicks|braxton"
    r"|gestation|trimester|\bscan\b|baby (is )?(moving|movements?)|\bmovements?\b"
)
_WEEKS = re.compile(
    rf"(?<![\w+])(?P<n>{_NUM})((?P<plus>\+\d)\b( ?(weeks?|wks?|wk|w)\b)?|"
    r" ?(weeks?|wks?|wk|w)\b(?P<rest>( and \d days?)?( (pregnant|pg\b|gestation|along))?))"
)
_NOT_PREGNANCY_BEFORE = re.compile(
    r"(for|last|past|every|after|within|in|born at|born|than|over|next|first|few|ago|the) $"
)
_NOT_PREGNANCY_AFTER = re.compile(r"^( |-)?(old|ago|later|after|before|postpartum|post)\b")

_PILLS = re.compile(
    rf"\b{_NUM} (or {_NUM} )?(extra |more |whole |of (my |his |her |the |their |our )?)?"
    rf"((?!(and|has|had|with|on|in|for|is|was|are)\b)\w+ )?"
    rf"({PILLS[1:-1]}|capsules|caps|tabs|sleeping pills)\b"
    rf"|\b(took|taken|swallowed|downed) {APPROX}{_NUM}"
    rf"(?! ?({NOT_TEMPERATURE_UNITS}|mg|mcg|g\b|units?|times|am|pm|months?|mo|percent))\b"
)

_TIME_UNIT = (
    r"(?P<unit>minutes?|mins?|hours?|hrs?|h\b|days?|weeks?|wks?|months?|mnths?|years?|yrs?)"
)
_TIME_NUM = rf"(?P<n>{_NUM}|an?|a few|a couple of|couple of|several|half an?)"
_TIMES = [
    re.compile(rf"\b{_TIME_NUM} {_TIME_UNIT} ago\b"),
    re.compile(
        rf"\b(for|since|past|last|over the (past|last)|the (past|last)) (about |around |nearly "
        rf"|almost |over |the )?{_TIME_NUM} ?{_TIME_UNIT}"
    ),
]
_TIME_PLURAL = re.compile(r"\b(for|since|over the) (?P<unit>years|months|weeks|days|hours)\b")
_TIME_WORDS = {
    r"\b(right now|just now|at the moment|this minute)\b": 0.1,
    r"\b(tonight|this (morning|afternoon|evening)|today|since (lunch|dinner|breakfast))\b": 4.0,
    r"\b(last night|overnight)\b": 12.0,
    r"\byesterday\b": 24.0,
    r"\blast week\b": 168.0,
    r"\blast month\b": 730.5,
    r"\b(last|a) year ago\b|\blast (year|spring|summer|autumn|winter)\b": 8766.0,
}
_TIME_WORDS_RE = [(re.compile(p), h) for p, h in _TIME_WORDS.items()]
_MAX_HOURS = 10 * 8766.0

# The vector: one "stated" flag and one scaled value per reading, then indicators.
NAMES = [
    "age_stated",
    "age_log_days",
    "temperature_stated",
    "temperature_c",
    "pregnancy_stated",
    "pregnancy_weeks",
    "pills_stated",
    "pills_log",
    "time_stated",
    "time_log_hours",
    "infant",
    "older_than_infant",
    "fever",
    "low_temperature",
    "normal_temperature",
    "infant_fever",
    "infant_normal_temperature",
    "preterm",
    "ten_or_more_pills",
    "within_a_day",
]
SIZE = len(NAMES)


@dataclass(frozen=True)
class Numbers:
    """What the message states (None when it does not): the parsed values before scaling."""

    age_days: float | None = None
    temperature_c: float | None = None
    pregnancy_weeks: float | None = None
    pills: float | None = None
    hours_ago: float | None = None


def number(token: str) -> float | None:
    """'38.2', '38,2', 'seven', 'an', 'a few' -> float (None if not a number)."""
    token = token.strip()
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    if token in {"a", "an"}:
        return 1.0
    if token in {"a few", "several"}:
        return 3.0
    if token in {"a couple of", "couple of"}:
        return 2.0
    if token.startswith("half a"):
        return 0.5
    try:
        return float(token.replace(",", "."))
    except ValueError:
        return None


def _unit_key(unit: str, table: dict) -> str:
    """The key of `DAYS` or `HOURS` for a unit as written ("wks" -> "w", "mins" -> "min")."""
    u = unit.lower()
    if u.startswith("min"):
        return "min"
    if u.startswith("h"):
        return "h"
    if u.startswith("mo") or u.startswith("mn") or u.startswith("mth"):
        return "m"
    return u[0] if u[0] in table else "d"


def _ages(text: str) -> list[float]:
    found = [
        number(m["n"]) * DAYS[_unit_key(m["u"], DAYS)]
        for rule in _AGES
        for m in rule.finditer(text)
    ]
    if not found and _NEWBORN.search(text):
        found.append(NEWBORN_DAYS)
    return found


def _temperatures(text: str) -> list[float]:
    """Numbers in the body-temperature range with a decimal, a degree sign or unit, or a word
    of temperature just before ("temp 39", "fever of 101")."""
    found = []
    for m in _TEMPERATURE.finditer(text):
        value = float(m.group(1) + (m.group(2) or "").replace(",", "."))
        suffix = (m.group(4) or "").strip()
        worded = bool(_TEMP_WORDS.search(text[max(0, m.start() - 40) : m.start()]))
        if value >= 93:  # Fahrenheit: never without a unit or a word of temperature
            if not (suffix or worded) or suffix.endswith("c"):
                continue
            value = (value - 32) * 5 / 9
        elif suffix.endswith("f") or not (suffix or m.group(2) or worded):
            continue  # "38f" is an age and sex; a bare "38" could be anything
        found.append(value)
    return found


def _pregnancy_weeks(text: str) -> list[float]:
    if not _PREGNANCY_CONTEXT.search(text) and not re.search(
        r"\b\d{1,2} ?(wks?|weeks|\+\d)\b", text
    ):
        return []
    found = []
    for m in _WEEKS.finditer(text):
        n = number(m.group("n"))
        if n is None or not 4 <= n <= 42:
            continue
        rest = (m.group("rest") or "").strip()
        explicit = bool(m.group("plus")) or any(
            w in rest for w in ("pregnant", "pg", "gestation", "along")
        )
        before = text[max(0, m.start() - 12) : m.start()]
        after = text[m.end() : m.end() + 12]
        if not explicit:
            if _NOT_PREGNANCY_BEFORE.search(before) or _NOT_PREGNANCY_AFTER.search(after):
                continue
            if re.search(rf"{_PERSON}('s| is)?,? (now |only |just |about )*$", before):
                continue  # "baby is 9 weeks": an age
            if not _PREGNANCY_CONTEXT.search(text) and n < 13:
                continue  # "9 weeks" with no word of pregnancy: more likely a baby's age
        found.append(n + (int(m.group("plus")[1:]) / 7 if m.group("plus") else 0.0))
    return found


def _pills(text: str) -> list[float]:
    found = []
    for m in _PILLS.finditer(text):
        nums = [number(g) for g in m.groups() if g and re.fullmatch(_NUM, g)]
        if nums:
            found.append(max(nums))
    return found


def _hours(text: str) -> list[float]:
    found = []
    for rule in _TIMES:
        for m in rule.finditer(text):
            n = number(m.group("n"))
            if n is not None:
                found.append(n * HOURS[_unit_key(m.group("unit"), HOURS)])
    for m in _TIME_PLURAL.finditer(text):
        found.append(2 * HOURS[_unit_key(m.group("unit"), HOURS)])
    found += [h for rule, h in _TIME_WORDS_RE if rule.search(text)]
    return found


def parse(text: str) -> Numbers:
    """The numbers a message states: the youngest age, the temperature furthest from 37 °C, the
    weeks of pregnancy, the most pills, and how long ago the most recent thing it dates was."""
    t = normalise(text)
    ages, temps = _ages(t), _temperatures(t)
    weeks, pills, hours = _pregnancy_weeks(t), _pills(t), _hours(t)
    return Numbers(
        age_days=min(ages) if ages else None,
        temperature_c=max(temps, key=lambda c: abs(c - 37.0)) if temps else None,
        pregnancy_weeks=max(weeks) if weeks else None,
        pills=max(pills) if pills else None,
        hours_ago=min(hours) if hours else None,
    )


def _log_hours(h: float) -> float:
    return math.log1p(min(h, _MAX_HOURS)) / math.log1p(_MAX_HOURS)


def vector(n: Numbers) -> list[float]:
    """The SIZE floats of `NAMES` for parsed numbers (all zeros when nothing is stated)."""
    age, temp, weeks, pills = n.age_days, n.temperature_c, n.pregnancy_weeks, n.pills
    infant = age is not None and age < INFANT_DAYS
    fever = temp is not None and temp >= FEVER_C
    normal = temp is not None and LOW_C <= temp < FEVER_C
    timed = n.hours_ago is not None
    return [
        float(age is not None),
        math.log1p(min(age, 36525.0)) / math.log1p(36525.0) if age is not None else 0.0,
        float(temp is not None),
        max(-1.0, min(2.0, (temp - 37.0) / 3.0)) if temp is not None else 0.0,
        float(weeks is not None),
        weeks / 40.0 if weeks is not None else 0.0,
        float(pills is not None),
        min(math.log1p(pills) / math.log1p(100.0), 1.5) if pills is not None else 0.0,
        float(timed),
        _log_hours(n.hours_ago) if timed else 0.0,
        float(infant),
        float(age is not None and not infant),
        float(fever),
        float(temp is not None and temp < LOW_C),
        float(normal),
        float(infant and fever),
        float(infant and normal),
        float(weeks is not None and weeks < 37),
        float(pills is not None and pills >= 10),
        float(timed and n.hours_ago <= 24),
    ]


def readings(text: str) -> list[float]:
    """A message -> SIZE floats (`NAMES`): its number readings, zeros where none is stated."""
    return vector(parse(text))
