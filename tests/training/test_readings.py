"""Number readings (`medtriage.readings`): a pure function, no TensorFlow."""

from __future__ import annotations

import math

import pytest

from medtriage.readings import NAMES, SIZE, Numbers, parse, readings
from medtriage.redflags import red_flags


def named(text: str) -> dict[str, float]:
    return dict(zip(NAMES, readings(text), strict=True))


@pytest.mark.parametrize(
    "text",
    ["", "   ", "🙂🙂", "\x00\x01", "What are the treatments for glaucoma?", "how is gout treated"],
)
def test_nothing_stated_is_all_zeros(text):
    assert parse(text) == Numbers()
    assert readings(text) == [0.0] * SIZE


def test_fixed_length_floats_in_a_small_range():
    for text in ["my 6 week old has 38.2", "i took 300 pills 2 years ago at 41 weeks", "x" * 5000]:
        v = readings(text)
        assert len(v) == SIZE == len(NAMES)
        assert all(isinstance(x, float) and -1.0 <= x <= 2.0 for x in v)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("my 6 week old has a temp", 42),
        ("3 wk old baby feels hot", 21),
        ("7wk old temp 38.6 armpit", 49),
        ("hi baby is 9 weeks, temperature 38 exactly", 63),
        ("our daughter is only 3 weeks old (born on the 2nd)", 21),
        ("Her baby boy is ten days old.", 10),
        ("newborn 12-day-old sleepy", 12),
        ("born 9 days ago, feels warm", 9),
        ("I had my baby nine days ago", 9),
        ("SUBJECT: 4mo 38.5", 4 * 30.44),
        ("2 yo fever 38.5 with a cold", 2 * 365.25),
        ("toddler 18 months fever 38.8", 18 * 30.44),
        ("how do i take my newborns temperature?", 14),
        # The youngest age counts: the baby, not the parent.
        ("I'm 34 years old and my 5 week old has a fever", 35),
    ],
)
def test_ages_in_days(text, days):
    assert parse(text).age_days == pytest.approx(days)


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        ("temp 38.2", 38.2),
        ("thermometer says 38,4", 38.4),
        ("temperature 38 exactly", 38.0),
        ("6 week old, 38.7C, soft spot bulging", 38.7),
        ("rectal temp 100.8F tonight", (100.8 - 32) * 5 / 9),
        ("his temp is 101 degrees F", (101 - 32) * 5 / 9),
        ("11 weeks old fever 101", (101 - 32) * 5 / 9),
        ("cold to touch and her temp is 35.4", 35.4),
        # Several readings: the one furthest from 37.
        ("temp was 37.7, twenty minutes later 36.9", 37.7),
    ],
)
def test_temperatures_in_celsius(text, celsius):
    assert parse(text).temperature_c == pytest.approx(celsius)


@pytest.mark.parametrize(
    "text",
    [
        "born at 38 weeks",
        "I'm 39 weeks pregnant",
        "bp was 135/85 at 30 weeks",
        "33+2 and leaking",
        "my husband 38 has a hot swollen knee",  # an age, not a temperature
        "38M, chest pain",
        "she weighs 38 kg",
        "heart is 100 and pounding",
        "took 40 mg of it",
    ],
)
def test_not_temperatures(text):
    assert parse(text).temperature_c is None


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("im 9 weeks pregnant, sharp pain", 9),
        ("11 weeks pg, bleeding like a heavy period", 11),
        ("I'm 33 weeks. Severe headache", 33),
        ("33+2 and keep getting trickles", 33 + 2 / 7),
        ("31wks, tightenings every 6-7 min", 31),
        ("heartburn terrible at 34 weeks", 34),
    ],
)
def test_weeks_of_pregnancy(text, weeks):
    assert parse(text).pregnancy_weeks == pytest.approx(weeks)


@pytest.mark.parametrize(
    "text",
    ["baby is 9 weeks, feeding fine", "3 weeks after delivery", "for 3 weeks now", "7 wk old"],
)
def test_not_weeks_of_pregnancy(text):
    assert parse(text).pregnancy_weeks is None


@pytest.mark.parametrize(
    ("text", "pills"),
    [
        ("i took 30 tylenol about 2 hours ago", 30),
        ("i swallowed 30 paracetamol", 30),
        ("husband took 20 of my sleeping pills", 20),
        ("maybe 28 tablets, an hour ago", 28),
        ("took 8 adderall to study", 8),
        ("took 2 extra vitamin d tablets", 2),
    ],
)
def test_pills_taken(text, pills):
    assert parse(text).pills == pills


@pytest.mark.parametrize(
    "text", ["my dad is 70 and has tablets for bp", "amlodipine 10mg daily", "took 2 days off"]
)
def test_not_pills(text):
    assert parse(text).pills is None


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("a curtain came down an hour ago", 1),
        ("30 min ago the sight in my right eye went", 0.5),
        ("same floaters for 10 years", 10 * 8766),
        ("flashes yesterday and a shadow since 2 hours", 2),
        ("my brother died by suicide two years ago", 2 * 8766),
    ],
)
def test_how_long_ago_in_hours_the_most_recent(text, hours):
    assert parse(text).hours_ago == pytest.approx(hours)


def test_indicators_tell_the_hard_negative_from_the_emergency():
    urgent = named("7 wk old, temp 38.2, vomiting every feed")
    calm = named("6 week old had her jabs this morning, temp 37.4 tonight, feeding fine")
    older = named("4 month old has 38.5 this evening, laughing and fed normally")
    assert urgent["infant"] == urgent["fever"] == urgent["infant_fever"] == 1.0
    assert calm["infant"] == calm["normal_temperature"] == calm["infant_normal_temperature"] == 1.0
    assert calm["infant_fever"] == calm["fever"] == 0.0
    assert older["older_than_infant"] == older["fever"] == 1.0 and older["infant_fever"] == 0.0
    assert urgent["temperature_c"] > calm["temperature_c"]
    assert urgent["age_log_days"] == pytest.approx(math.log1p(49) / math.log1p(36525))


def test_fahrenheit_and_celsius_read_the_same():
    f, c = named("my 3 week old, rectal temp 100.8F"), named("my 3 week old, rectal temp 38.2")
    assert f["temperature_c"] == pytest.approx(c["temperature_c"], abs=0.01)
    assert f["infant_fever"] == c["infant_fever"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "my 3 week old has a temperature of 38.2",
        "my baby is 5 weeks old and his temperature is 38.4, he is feeding less",
        "10 week old temp 39 and grunting",
        "8 wk old, 100.6 F, not feeding",
    ],
)
def test_what_the_infant_fever_rule_flags_reads_as_infant_fever(text):
    assert "infant_fever" in red_flags(text)
    assert named(text)["infant_fever"] == 1.0
