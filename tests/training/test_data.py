import pandas as pd
import pytest

from training import data


def frame(rows):
    cols = ["id", "focus", "qtype", "question", "answer", "url", "synonyms"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def test_clean_drops_empty_and_duplicate_answers_and_merges_tiny_class():
    df = frame(
        [
            ("A_1_Sec1", "Flu", "treatment", "How to treat Flu ?", "Rest.", "u", ""),
            ("A_1_Sec2", "Flu", "treatment", "How to treat Flu ?", "Rest.", "u", ""),
            ("A_1_Sec3", "Flu", "symptoms", "Symptoms of Flu ?", "  ", "u", ""),
            ("A_1_Sec4", "Flu", "support groups", "Groups for Flu ?", "See X.", "u", ""),
        ]
    )
    out = data.clean(df)
    assert out["id"].tolist() == ["A_1_Sec1", "A_1_Sec4"]
    assert out["category"].tolist() == ["treatment", "information"]


def test_labels_end_with_unanswerable():
    df = data.clean(frame([("x", "f", "treatment", "q", "a", "u", "")]))
    assert data.labels_of(df) == ["treatment", data.UNANSWERABLE]


def test_split_by_focus_keeps_each_focus_in_one_part_and_is_deterministic():
    rows = [
        (f"S_{i}_Sec{j}", f"Disease {i}", "treatment", f"q{i}{j}", f"a{i}{j}", "u", "")
        for i in range(50)
        for j in range(3)
    ]
    df = data.clean(frame(rows))
    a, b = data.split_by_focus(df), data.split_by_focus(df)
    parts = [set(p["focus_key"]) for p in (a.train, a.val, a.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(len(p) for p in (a.train, a.val, a.test)) == len(df)
    assert len(a.test) == 10 * 3 and len(a.val) == 5 * 3
    assert a.test["id"].tolist() == b.test["id"].tolist()


def test_answer_start_cuts_at_a_word():
    text = "word " * 100
    out = data.answer_start(text, 23)
    assert out == "word word word word" and len(out) <= 23


def test_medquad_path_prefers_the_environment(monkeypatch, tmp_path):
    target = tmp_path / "m.csv.gz"
    monkeypatch.setenv("MEDTRIAGE_DATA", str(target))
    assert data.medquad_path() == target
    assert data.medquad_path(tmp_path / "x.csv") == tmp_path / "x.csv"


def test_medquad_path_downloads_when_nothing_is_local(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDTRIAGE_DATA", raising=False)
    monkeypatch.setattr(data, "SHARED_DATA", tmp_path / "absent")
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")
    calls = []

    def fake_download(cache_dir):
        calls.append(cache_dir)
        return cache_dir / "medquad.csv.gz"

    import training.medquad_xml as mx

    monkeypatch.setattr(mx, "download_medquad", fake_download)
    assert data.medquad_path() == tmp_path / "cache" / "medquad.csv.gz"
    assert calls == [tmp_path / "cache"]


@pytest.mark.skipif(data.load_consumer_questions() is None, reason="LiveQA file not present")
def test_consumer_questions_map_to_categories():
    df = data.load_consumer_questions()
    answerable = df[df["categories"].map(bool)]
    assert len(answerable) == 178
    assert set().union(*answerable["categories"]) <= set(data.LIVEQA_TO_CATEGORY.values())
