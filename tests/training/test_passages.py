from medtriage.passages import chunks, is_link_list, link_titles, sentences
from medtriage.summary import canonical_question


def test_sentences_split_on_stops_and_list_items():
    text = "First one. Second one?  - item a  - item b"
    assert sentences(text) == ["First one.", "Second one?", "item a", "item b"]


def test_chunks_hold_at_most_three_sentences_and_drop_a_repeated_question():
    answer = "How might gout be treated? " + " ".join(f"Sentence {i} is here." for i in range(7))
    out = chunks(answer, "How might gout be treated ?")
    assert not out[0].startswith("How might")
    assert all(1 <= c.count(".") <= 3 for c in out)
    assert " ".join(out) == " ".join(f"Sentence {i} is here." for i in range(7))


def test_a_very_long_passage_becomes_many_short_chunks():
    answer = " ".join(
        f"This is sentence number {i} of a long treatment section." for i in range(400)
    )
    out = chunks(answer)
    assert len(out) > 100 and max(len(c.split()) for c in out) <= 60


def test_link_lists_are_recognised_with_their_titles():
    ghr = "These resources address the diagnosis or management of X:  - Gene Review: X  - GTR: X"
    gard = "What are the signs of X? The following online resources provide information: NIDCD - X"
    assert is_link_list(ghr) and is_link_list(gard)
    assert not is_link_list("Treatment of X includes rest. These resources are limited.")
    assert link_titles(ghr) == ["Gene Review: X", "GTR: X"]
    assert link_titles(gard) == ["NIDCD - X"]


def test_canonical_questions():
    assert canonical_question("treatment", "Giant cell arteritis") == (
        "What are the treatments for Giant cell arteritis?"
    )
    assert canonical_question("treatment", None) is None
    assert canonical_question("unanswerable", "Aspirin") is None
