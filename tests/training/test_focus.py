"""Focus recognition on a small in-test kb, plus the real MedQuAD kb where shared data exists."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medtriage.focus import FocusIndex, FocusMatch, display_name
from training.focus_eval import data_dir, focus_accuracy

ROWS = [
    # focus, synonyms, cuis, answer
    (
        "Multiple sclerosis",
        "MS",
        "C0026769",
        "Multiple sclerosis affects the nerves in all people.",
    ),
    ("multiple sclerosis", "disseminated sclerosis;MS", "C0026769", "It is more common in women."),
    ("Macular degeneration", "", "C0242383", "Vision loss as people age in the center of the eye."),
    ("age-related macular degeneration", "AMD;ARMD", "C0242383", "AMD is an eye disease."),
    (
        "Giant cell arteritis",
        "Temporal arteritis;GCA",
        "C0039483",
        "Inflamed arteries of the head.",
    ),
    (
        "COPD",
        "Chronic obstructive pulmonary disease",
        "C0024117",
        "Lung disease that makes it hard.",
    ),
    ("Diabetes", "Diabetes mellitus", "C0011849", "High blood sugar over a long time."),
    ("Breast Cancer", "", "C0006142", "Cancer that forms in the breast."),
    ("Cancer", "", "C0006826", "Cancer is a disease where cells grow out of control as well."),
    ("Acute lymphoblastic leukemia", "ALL", "C0023449", "A cancer of the blood and all marrow."),
    (
        "Ankylosing spondylitis",
        "AS",
        "C0038013",
        "Arthritis of the spine, as well as other joints.",
    ),
]


def index_of(rows: list[tuple[str, str, str, str]]) -> FocusIndex:
    """A focus index over (focus, synonyms, cuis, answer) rows."""
    return FocusIndex.build(pd.DataFrame(rows, columns=["focus", "synonyms", "cuis", "answer"]))


@pytest.fixture(scope="module")
def small() -> FocusIndex:
    return index_of(ROWS)


def names(matches: list[FocusMatch]) -> list[str]:
    return [m.matched for m in matches]


def test_exact_name(small: FocusIndex) -> None:
    (m,) = small.recognize("What are the treatments for giant cell arteritis?")
    assert m.matched == "Giant cell arteritis" and m.text == "giant cell arteritis"
    assert m.start == len("What are the treatments for ") and m.confidence >= 0.9


def test_grouping_by_cui_and_name(small: FocusIndex) -> None:
    (m,) = small.recognize("my dad has macular degeneration")
    assert set(m.foci) == {"macular degeneration", "age-related macular degeneration"}
    (m,) = small.recognize("Multiple Sclerosis")
    assert m.foci == ("multiple sclerosis",)


def test_synonym(small: FocusIndex) -> None:
    (m,) = small.recognize("is chronic obstructive pulmonary disease curable?")
    assert m.matched == "COPD" and 0.7 < m.confidence < 0.95


def test_misspelled(small: FocusIndex) -> None:
    (m,) = small.recognize("my father was told he has macular degenration, what can be done?")
    assert m.text == "macular degenration" and "macular degeneration" in m.foci
    (m,) = small.recognize("my mom has giant cel arteritis")
    assert m.matched == "Giant cell arteritis"
    exact = small.recognize("giant cell arteritis")[0].confidence
    assert m.confidence < exact


def test_abbreviation_case_sensitive(small: FocusIndex) -> None:
    assert names(small.recognize("She was diagnosed with MS last year")) == ["Multiple sclerosis"]
    assert names(small.recognize("My son has ALL")) == ["Acute lymphoblastic leukemia"]
    assert small.recognize("we all went as a group, ms smith too") == []
    m = small.recognize("GCA")[0]
    assert m.confidence < small.recognize("giant cell arteritis")[0].confidence


def test_specific_name_beats_generic(small: FocusIndex) -> None:
    assert names(small.recognize("my sister has breast cancer")) == ["Breast Cancer"]


def test_two_conditions(small: FocusIndex) -> None:
    got = names(small.recognize("I have COPD and multiple sclerosis"))
    assert got[:2] == ["COPD", "Multiple sclerosis"]
    assert len(small.recognize("I have COPD and multiple sclerosis", limit=1)) == 1


def test_subject_line_preferred(small: FocusIndex) -> None:
    text = "SUBJECT: diabetes  MESSAGE: I also have COPD, but my question is about my sugar."
    assert names(small.recognize(text))[0] == "Diabetes"


def test_opening_words_count_as_subject_line(small: FocusIndex) -> None:
    # Without SUBJECT: markers, a misspelled condition in the opening words still beats an
    # exact name later in the message; past the first sentence break the bonus stops.
    text = "diabetis question. My father also has breast cancer, what should he eat?"
    assert names(small.recognize(text))[0] == "Diabetes"
    later = "My father asks a question. He also has breast cancer and diabetis, what to eat?"
    assert names(small.recognize(later))[0] == "Breast Cancer"


def test_booklet_titles_are_shown_without_their_prefix() -> None:
    # NIDDK's booklets outnumber MedlinePlus's one row, so their title names the group.
    rows = [
        ("What I need to know about Hepatitis B", "Hepatitis B", "C0019163", "A liver infection."),
        ("What I need to know about Hepatitis B", "Hepatitis B", "C0019163", "It is treated."),
        ("Hepatitis B", "", "C0019163", "Hepatitis B is a virus."),
    ]
    index = index_of(rows)
    (m,) = index.recognize("Is there a cure for hepatitis b?")
    assert m.matched == "Hepatitis B"
    assert "what i need to know about hepatitis b" in m.foci
    assert display_name("What I need to know about Gas") == "Gas"
    assert display_name("Glaucoma") == "Glaucoma"


def test_the_general_name_is_shown_before_a_population_one() -> None:
    # Children's pages outnumber the general one; an adult asking about kidney stones should
    # read "Kidney Stones", not "Kidney Stones in Children".
    rows = [
        ("Kidney Stones in Children", "", "C0022650", "Stones in children."),
        ("Kidney Stones in Children", "", "C0022650", "How stones are treated in children."),
        ("Kidney Stones", "", "C0022650", "A kidney stone is a solid piece of material."),
    ]
    (m,) = index_of(rows).recognize("how do I pass a kidney stone?")
    assert m.matched == "Kidney Stones"
    # Kept when the general name is not one of the condition's own names.
    ibs = "Irritable Bowel Syndrome in Children"
    assert display_name(ibs, [ibs.lower()]) == ibs
    assert display_name("Gas in the Digestive Tract", ["gas"]) == "Gas in the Digestive Tract"


def test_an_everyday_name_beats_another_conditions_abbreviation() -> None:
    # GARD lists "OCD" for osteochondritis dissecans; people who write it mean the disorder.
    rows = [
        ("Obsessive-Compulsive Disorder", "", "C0028768", "Unwanted thoughts."),
        ("Familial osteochondritis dissecans", "OCD", "C1832285", "A joint disorder."),
    ]
    index = index_of(rows)
    for text in ("my son has OCD", "is ocd inherited?"):
        assert index.recognize(text)[0].matched == "Obsessive-Compulsive Disorder"
    assert index.recognize("familial osteochondritis dissecans")[0].matched.startswith("Familial")


def test_a_syndrome_named_by_its_features_keeps_them_apart() -> None:
    # GARD rows carry the CUIs of a syndrome's features: sharing one is not being one.
    rows = [
        ("Edema", "", "C0013604", "Swelling caused by fluid."),
        ("Pulmonary edema of mountaineers", "", "C0013604;C0340100", "Fluid in the lungs."),
        ("Greenberg dysplasia", "", "C2931048", "A rare skeletal disorder."),
        ("Hydrops, ectopic calcification", "", "C3806226;C0013604;C2931048", "Same disorder."),
        ("Pilomatrixoma", "", "C0206711", "A benign skin tumor."),
        ("pilomatricoma", "", "C0206711", "Another spelling."),
        ("Glucose-6-phosphate dehydrogenase deficiency", "G6PD deficiency", "C2939465", "Anemia."),
        ("G6PD Deficiency", "", "C2939465;C0237987", "A genetic disorder."),
    ]
    index = index_of(rows)
    (m,) = index.recognize("what can I do about leg edema?")
    assert m.matched == "Edema" and m.foci == ("edema",)
    (m,) = index.recognize("is pilomatricoma cancer?")
    assert set(m.foci) == {"pilomatrixoma", "pilomatricoma"}
    # A shared CUI and one name listed among the other's synonyms: one condition.
    (m,) = index.recognize("G6PD deficiency diet")
    assert len(m.foci) == 2


def test_titles_ordinary_words_and_homonyms_name_nothing() -> None:
    rows = [
        ("I Can Lower My Risk for Type 2 Diabetes: A Guide", "", "C0011860", "Steps to take."),
        ("I Can Lower My Risk for Type 2 Diabetes: A Guide", "", "C0011860", "Walk more."),
        ("Diabetes Type 2", "Type 2 diabetes", "C0011860", "High blood sugar."),
        ("Menstruation", "Period;Menses", "C0025344", "A monthly period."),
        ("CHILD syndrome", "chILD", "C0265267", "A child may have it."),
    ]
    index = index_of(rows)
    # A booklet's title does not name the condition even with more rows.
    assert index.recognize("about type 2 diabetes")[0].matched == "Diabetes Type 2"
    assert index.recognize("my child coughed for a long period") == []
    assert index.recognize("my menses are late")[0].matched == "Menstruation"


def test_a_family_name_covers_its_kinds() -> None:
    # MedQuAD names only kinds of lichen planus and albinism; people name the family.
    rows = [
        ("Oral lichen planus", "", "C0024082", "Lichen planus in the mouth."),
        ("Lichen planus pigmentosus", "", "C1274013", "Dark patches of skin."),
        ("Oculocutaneous albinism", "", "C0078917", "Little pigment in skin and eyes."),
        ("Ocular albinism", "", "C0078918", "Little pigment in the eyes."),
        ("Glycogen storage disease type I", "", "C0017920", "Glycogen builds up."),
        ("Glycogen storage disease type II", "", "C0017921", "Glycogen builds up too."),
        ("Leukemia", "", "C0023418", "A cancer of the blood."),
        ("Chronic lymphocytic leukemia", "", "C0023434", "A slow blood cancer."),
        ("Acute lymphocytic leukemia", "", "C0023449", "A fast blood cancer."),
        ("Spinal cord injury", "", "C0037929", "Damage to the spinal cord."),
        ("Spinal cord infarction", "", "C0752296", "A stroke of the spinal cord."),
        ("Renal cell carcinoma", "", "C0007134", "A kidney cancer."),
        ("Squamous cell carcinoma", "", "C0007137", "A skin cancer."),
        ("Andersen-Tawil syndrome", "", "C1563715", "Periodic paralysis."),
        ("Paraganglioma of the head and neck", "", "C0030421", "A tumor in the neck."),
        ("Autonomic nervous system dysfunction", "", "C0013363", "Nerves that run organs."),
    ]
    index = index_of(rows)
    (m,) = index.recognize("I have had lichen planus for four years, what helps the itch?")
    assert (m.text, m.matched) == ("lichen planus", "Lichen planus")
    assert set(m.foci) == {"oral lichen planus", "lichen planus pigmentosus"}
    assert m.confidence < index.recognize("oral lichen planus")[0].confidence
    (m,) = index.recognize("Questions on albinism")
    assert m.matched == "Albinism" and len(m.foci) == 2
    (m,) = index.recognize("my nephew has GLYCOGEN STORAGE DISEASE")
    assert m.matched == "Glycogen storage disease" and len(m.foci) == 2
    # A name wins over a family that contains it.
    assert names(index.recognize("what is lymphocytic leukemia?")) == ["Leukemia"]
    # Vague words name no family: an organ, "cell carcinoma" of basal cell carcinoma, half a
    # hyphenated name, the words after "of the", an adjective ending in "-ous".
    for text in [
        "he hurt his spinal cord",
        "after my basal cell carcinoma was removed",
        "does Tawil syndrome run in families?",
        "a lump in the head and neck",
        "it affects the autonomic nervous system",
    ]:
        assert index.recognize(text) == [], text


def test_everyday_names_lead_to_the_condition_medquad_lists() -> None:
    index = index_of([("Pinkeye", "Conjunctivitis", "C0009763", "Red, itchy eyes.")])
    (m,) = index.recognize("my son has pink eye again")
    assert (m.text, m.matched) == ("pink eye", "Pinkeye")
    assert m.confidence < index.recognize("pinkeye")[0].confidence
    # An everyday name whose condition the knowledge base lacks names nothing.
    assert index.recognize("is a slipped disc serious?") == []


def test_a_misspelled_lay_form_reads_as_its_condition() -> None:
    rows = [
        ("Diabetes", "", "C0011849", "High blood sugar."),
        ("Diabetic Retinopathy", "", "C0011884", "Eye damage from diabetes."),
        ("Asthma", "", "C0004096", "Narrowed airways."),
        ("Nausea and Vomiting", "", "C0027498", "Feeling sick and throwing up."),
    ]
    index = index_of(rows)
    # "diabetic" is also a name word (Diabetic Retinopathy): both readings of the correction.
    for text, name in [
        ("my sister is diabitic since age 8", "Diabetes"),
        ("he is astmatic", "Asthma"),
        ("diabitic retinopathy", "Diabetic Retinopathy"),
        ("8 month old with constant vomiting", "Nausea and Vomiting"),
    ]:
        assert names(index.recognize(text)) == [name], text
    (m,) = index.recognize("my sister is diabitic")
    assert m.text == "diabitic" and m.confidence < index.recognize("she is diabetic")[0].confidence


def test_british_spellings_read_as_the_american_names() -> None:
    rows = [
        ("Hemophilia", "", "C0019069", "A bleeding disorder."),
        ("Leukemia", "", "C0023418", "Cancer of the blood."),
        ("Edema", "", "C0013604", "Swelling caused by fluid."),
        ("Brain Tumors", "", "C0006118", "Growths in the brain."),
    ]
    # The British forms are ordinary corpus words here, so spelling correction leaves them be.
    rows.append(("Anemia", "", "C0002871", "Haemophilia, leukaemia and oedema in British text."))
    index = index_of(rows * 3)
    for text, name in [
        ("Tests for Haemophilia", "Hemophilia"),
        ("my son has leukaemia", "Leukemia"),
        ("oedema in my legs", "Edema"),
        ("a brain tumour in my wife", "Brain Tumors"),
    ]:
        assert names(index.recognize(text)) == [name], text
    # Only a second reading: words whose American form names nothing stay unmatched.
    assert index.recognize("the aerial photos of our house") == []


def test_a_shouted_word_is_not_an_abbreviation() -> None:
    rows = [
        ("Multiple sclerosis", "MS", "C0026769", "Affects the nerves."),
        ("Infantile spasms", "IS", "C0037769", "A seizure disorder."),
    ]
    index = index_of(rows)
    assert names(index.recognize("my mother has MS AND IS IN PAIN")) == ["Multiple sclerosis"]
    assert names(index.recognize("she was told she has IS.")) == ["Infantile spasms"]


def test_no_condition(small: FocusIndex) -> None:
    assert small.recognize("How do I reset my password for the website?") == []


def test_long_message(small: FocusIndex) -> None:
    text = ("I have been feeling tired for a long time and my doctor ran tests. " * 30)[:1950]
    text += " Now it is diabetis."
    assert len(text) > 1900
    assert names(small.recognize(text)) == ["Diabetes"]


def test_odd_input_never_crashes(small: FocusIndex) -> None:
    for text in ["", " ", "😀😀", "\x00\x01\x02", "MS\x00COPD", "'" * 50, "a" * 5000, "é" * 20]:
        assert isinstance(small.recognize(text), list)
    assert small.recognize("") == []


def test_to_dict(small: FocusIndex) -> None:
    m = small.recognize("COPD")[0]
    assert small.to_dict(m) == {"text": "COPD", "matched": "COPD", "confidence": m.confidence}


def test_save_load_round_trip(small: FocusIndex, tmp_path: Path) -> None:
    small.save(tmp_path)
    loaded = FocusIndex.load(tmp_path)
    for q in ["macular degenration", "MS and COPD", "SUBJECT: GCA MESSAGE: giant cel arteritis"]:
        assert loaded.recognize(q) == small.recognize(q)


def test_focus_accuracy(small: FocusIndex) -> None:
    r = focus_accuracy(
        small,
        ["my dad has macular degeneration", "what is aspirin", "nothing here"],
        [["age-related macular degeneration"], ["aspirin"], ["multiple sclerosis"]],
    )
    assert r["n"] == 3 and r["accuracy"] == pytest.approx(1 / 3)
    assert r["coverage"] == pytest.approx(1 / 3) and r["n_in_kb"] == 2


@pytest.fixture(scope="module")
def real() -> FocusIndex:
    path = data_dir() / "medquad.csv.gz"
    if not path.exists():
        pytest.skip("shared MedQuAD data not available")
    return FocusIndex.build(pd.read_csv(path, keep_default_na=False, dtype=str))


def test_real_kb(real: FocusIndex) -> None:
    m = real.recognize("my father was told he has macular degenration, what can be done?")[0]
    assert "macular degeneration" in m.foci and "age-related macular degeneration" in m.foci
    text = "SUBJECT: GCA  MESSAGE: my mom has giant cel arteritis, is it serious?"
    assert real.recognize(text)[0].matched.lower() == "giant cell arteritis"
    assert real.recognize("is PKU inherited?")[0].matched.lower() == "phenylketonuria"
    assert real.recognize("My brother has MS")[0].matched.lower() == "multiple sclerosis"
    assert real.recognize("we all went as a group") == []
    assert real.recognize("my mother has breast cancer")[0].matched.lower() == "breast cancer"
    assert real.recognize("my legs have edema")[0].matched == "Edema"
    # Adjectives name their condition, and names that start with one still win.
    assert real.recognize("my son is autistic")[0].matched == "Autism"
    assert real.recognize("diabetic retinopathy")[0].matched == "Diabetic Retinopathy"
    assert real.recognize("any studies on Hep C?")[0].matched == "Hepatitis C"
    # Two edits on each side of a long name: found through shared trigrams.
    assert real.recognize("my daughter has crainosynstosis")[0].matched == "Craniosynostosis"
    assert real.recognize("what causes seizures")[0].matched == "Seizures"
    assert real.recognize("Questions on albinism")[0].matched == "Albinism"
    assert real.recognize("erection problems, what can I do")[0].matched == "Erectile Dysfunction"
    assert real.recognize("my son has OCD")[0].matched == "Obsessive-Compulsive Disorder"
    assert real.recognize("can heat stroke kill?")[0].matched == "Heat Illness"
    assert real.recognize("signs of womb cancer")[0].matched == "Uterine Cancer"
    assert real.recognize("what causes kidney stones?")[0].matched == "Kidney Stones"
    # Names said without their head noun, lower-case abbreviations, British spellings.
    assert real.recognize("types of sickle cell")[0].matched == "Sickle Cell Disease"
    assert real.recognize("is lyme contagious")[0].matched.lower() == "lyme disease"
    assert real.recognize("my husband has WPW")[0].matched == "Wolff-Parkinson-White syndrome"
    assert real.recognize("i have hiv, what now")[0].matched == "HIV/AIDS"
    assert real.recognize("Tests for Haemophilia")[0].matched == "Hemophilia"
    got = [m.matched.lower() for m in real.recognize("I have diabetis and glaucoma")]
    assert set(got[:2]) == {"diabetes", "glaucoma"}


def test_initials_support_a_named_condition(small: FocusIndex) -> None:
    # Initials ("GCA") never name a condition alone, but back one the message names.
    idx = index_of([(f, "", "", "") for f in ("Giant cell arteritis", "COPD")])
    assert idx.recognize("SUBJECT: GCA  MESSAGE: prognosis?") == []
    text = "SUBJECT: GCA  MESSAGE: I have COPD and my mom has giant cell arteritis"
    assert names(idx.recognize(text))[0] == "Giant cell arteritis"
