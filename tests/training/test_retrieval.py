import numpy as np
import pandas as pd

from medtriage.retrieval import BM25, Retriever, tokenize


def test_tokenize_drops_template_words():
    assert tokenize("What are the symptoms of Glaucoma ?") == ["symptoms", "glaucoma"]


def test_bm25_ranks_the_matching_document_first():
    docs = ["glaucoma eye pressure", "asthma lungs breathing", "glaucoma treatment drops"]
    bm = BM25.build(docs)
    scores = bm.scores("glaucoma drops")
    assert int(np.argmax(scores)) == 2
    assert scores[1] == 0.0
    assert bm.scores("zzz unknown").sum() == 0.0


def test_bm25_save_load_round_trip(tmp_path):
    bm = BM25.build(["alpha beta", "beta gamma"])
    bm.save(tmp_path)
    assert np.allclose(BM25.load(tmp_path).scores("beta"), bm.scores("beta"))


def retriever():
    kb = pd.DataFrame(
        {
            "id": ["A_Sec1", "A_Sec2", "B_Sec1"],
            "question": ["What is Gout ?", "How to treat Gout ?", "What is Asthma ?"],
            "answer": ["Gout is arthritis.", "Gout is treated with drugs.", "Asthma is lungs."],
            "focus": ["Gout", "Gout", "Asthma"],
            "url": ["u1", "u2", "u3"],
            "category": ["information", "treatment", "information"],
            "synonyms": ["", "", ""],
        }
    )
    emb = np.eye(3, dtype=np.float32)
    return Retriever(kb, BM25.build(kb["question"] + " " + kb["focus"]), emb, emb)


def test_category_is_a_preference_not_a_filter():
    r = retriever()
    query = np.array([0.7, 0.7, 0.0], dtype=np.float32)
    treat = r.search("gout", query, {"treatment": 0.9, "information": 0.1}, top_k=3).answers
    info = r.search("gout", query, {"treatment": 0.1, "information": 0.9}, top_k=3).answers
    assert treat[0]["id"] == "A_Sec2" and info[0]["id"] == "A_Sec1"
    assert {a["id"] for a in treat} >= {"A_Sec1", "A_Sec2"}
    assert set(treat[0]) >= {"id", "question", "answer", "extract", "focus", "source_url", "score"}


def test_save_load_round_trip(tmp_path):
    r = retriever()
    r.save(tmp_path)
    again = Retriever.load(tmp_path)
    q = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    first = again.search("asthma", q, None, 1).answers[0]
    assert first == r.search("asthma", q, None, 1).answers[0]


def focus_kb() -> Retriever:
    """Two conditions, one with a link list and a long treatment section in three chunks."""
    long_treatment = (
        "Glaucoma damages the optic nerve. It is common in older adults. "
        "Regular eye exams find it early. Vision lost to it cannot be restored. "
        "Treatment lowers the pressure in the eye with eye drops, laser trabeculoplasty or surgery."
    )
    kb = pd.DataFrame(
        {
            "id": ["G_1", "G_2", "G_3", "A_1", "A_2"],
            "question": [
                "What is (are) Glaucoma ?",
                "What are the treatments for Glaucoma ?",
                "What are the treatments for Glaucoma ?",
                "What are the treatments for Agnosia ?",
                "What is (are) Agnosia ?",
            ],
            "answer": [
                "Glaucoma is a group of eye diseases.",
                "These resources address the diagnosis or management of glaucoma:  - Gene Review: "
                "Glaucoma  - Genetic Testing Registry: Primary open angle glaucoma",
                long_treatment,
                "Treatment of agnosia is symptomatic.",
                "Agnosia is a loss of the ability to recognise objects.",
            ],
            "focus": ["Glaucoma", "Glaucoma", "Glaucoma", "Agnosia", "Agnosia"],
            "url": ["g1", "g2", "g3", "a1", "a2"],
            "category": ["information", "treatment", "treatment", "treatment", "information"],
            "synonyms": [""] * 5,
        }
    )
    q = np.eye(5, dtype=np.float32)
    per_row = [[a] for a in kb["answer"]]
    per_row[2] = [
        "Glaucoma damages the optic nerve. It is common in older adults.",
        "Regular eye exams find it early. Vision lost to it cannot be restored.",
        "Treatment lowers the pressure in the eye with eye drops, laser trabeculoplasty or surgery.",
    ]
    texts = [c for row in per_row for c in row]
    offsets = np.cumsum([0] + [len(r) for r in per_row])
    chunk_emb = np.zeros((len(texts), 5), dtype=np.float32)
    chunk_emb[np.arange(len(texts)), [0, 1, 2, 2, 2, 3, 4]] = 1.0
    chunk_emb[4, :] = [0, 0, 0.6, 0.8, 0]  # the treatment sentence is closest to a treatment ask
    return Retriever(kb, BM25.build(kb["question"].tolist()), q, q, texts, offsets, chunk_emb)


def test_a_recognised_focus_comes_first_and_type_ranks_within_it():
    r = focus_kb()
    # The question's embedding leans to agnosia's treatment row; the focus says glaucoma.
    query = np.array([0.1, 0.0, 0.3, 0.9, 0.0], dtype=np.float32)
    cats = {"treatment": 0.9, "information": 0.1}
    found = r.search("what can be done", query, cats, 3, foci=[("glaucoma",)])
    assert [a["focus"] for a in found.answers[:2]] == ["Glaucoma", "Glaucoma"]
    assert found.answers[0]["id"] == "G_3"  # treatment before information, link list skipped
    without = r.search("what can be done", query, cats, 3)
    assert without.answers[0]["id"] == "A_1"  # today's fused ranking follows the embedding


def test_link_lists_go_to_resources_never_to_answers():
    r = focus_kb()
    query = np.array([0.0, 1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    found = r.search("glaucoma", query, {"treatment": 1.0}, 5, foci=[("glaucoma",)])
    assert "G_2" not in {a["id"] for a in found.answers}
    assert {"title": "Gene Review: Glaucoma", "url": "g2"} in found.resources


def test_the_extract_is_the_chunk_that_answers_the_question():
    r = focus_kb()
    query = np.array([0.0, 0.0, 0.6, 0.8, 0.0], dtype=np.float32)
    found = r.search("glaucoma treatment", query, {"treatment": 1.0}, 1, foci=[("glaucoma",)])
    assert found.answers[0]["extract"].startswith("Treatment lowers the pressure")
    assert found.answers[0]["answer"].startswith("Glaucoma damages")


def test_an_unknown_focus_falls_back_to_the_fused_ranking():
    r = focus_kb()
    query = np.array([1.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
    a = r.search("glaucoma", query, None, 2, foci=[("not in the knowledge base",)])
    b = r.search("glaucoma", query, None, 2)
    assert a.answers == b.answers


def test_the_fused_ranking_runs_only_when_the_focus_rows_do_not_fill_the_answers():
    r = focus_kb()
    calls = []
    fused = r.fused
    r.fused = lambda *args: calls.append(args) or fused(*args)
    query = np.array([0.0, 0.0, 0.6, 0.8, 0.0], dtype=np.float32)
    full = r.search("glaucoma", query, {"treatment": 1.0}, 2, foci=[("glaucoma",)])
    assert len(full.answers) == 2 and calls == []
    more = r.search("glaucoma", query, {"treatment": 1.0}, 4, foci=[("glaucoma",)])
    assert len(more.answers) == 3 and len(calls) == 1  # two about glaucoma, one fused


def retriever_over(rows: list[tuple[str, str, str, str]]) -> Retriever:
    """A retriever over (id, question, focus, category) rows, every row equally close to a
    query of 0.5s: only focus, type and the broader-condition rule order them."""
    kb = pd.DataFrame(rows, columns=["id", "question", "focus", "category"])
    kb["answer"] = [f"Answer {i}." for i in range(len(kb))]
    kb["url"] = "u"
    emb = np.full((len(kb), 4), 0.5, dtype=np.float32)
    return Retriever(kb, BM25.build(kb["question"].tolist()), emb, emb)


def kinds_kb() -> Retriever:
    return retriever_over(
        [
            ("FSHD_1", "What is FSHD ?", "Facioscapulohumeral muscular dystrophy", "information"),
            ("MD_1", "What is MD ?", "Muscular Dystrophy", "information"),
            ("MD_2", "How to treat MD ?", "Muscular Dystrophy", "treatment"),
            ("PA_1", "How to treat pain ?", "Pain", "treatment"),
            ("BP_1", "What is back pain ?", "Back Pain", "information"),
            ("GO_1", "How to treat gout ?", "Gout", "treatment"),
        ]
    )


def test_a_broader_conditions_rows_follow_when_the_kind_lacks_the_asked_type():
    r = kinds_kb()
    q = np.full(4, 0.5, dtype=np.float32)
    treat = {"treatment": 0.9, "information": 0.1}
    foci = [("facioscapulohumeral muscular dystrophy",)]
    ids = [a["id"] for a in r.search("fshd", q, treat, 3, foci).answers]
    assert ids[:2] == ["MD_2", "FSHD_1"]  # the general page's treatment, then its own row
    # The kind's own rows still come first where the asked type is theirs.
    info = {"treatment": 0.1, "information": 0.9}
    assert r.search("fshd", q, info, 1, foci).answers[0]["id"] == "FSHD_1"
    # A topic that is not a condition is never a broader one.
    assert [row for _, row in r.focus_rows(q, treat, ("back pain",))] == [3, 4]
    r.set_topics(["pain"])
    assert [row for _, row in r.focus_rows(q, treat, ("back pain",))] == [4]


def test_a_broader_condition_is_the_names_head_not_any_of_its_words():
    names = [
        "Non-small cell lung cancer",
        "Small cell lung cancer",
        "Lung Cancer",
        "Parkinson disease type 9",
        "Parkinson disease",
        "Anemia sideroblastic and spinocerebellar ataxia",
        "Ataxia",
        "Anemia",
        "Charcot-Marie-Tooth disease",
        "Tooth disease",
    ]
    rows = [(f"r{i}", "x", name, "information") for i, name in enumerate(names)]
    parents = retriever_over(rows).parents
    assert parents["non-small cell lung cancer"] == ["lung cancer"]  # not small cell
    assert parents["small cell lung cancer"] == ["lung cancer"]
    assert parents["parkinson disease type 9"] == ["parkinson disease"]
    # A list of features names no broader condition; nor does half of a hyphenated name.
    assert "anemia sideroblastic and spinocerebellar ataxia" not in parents
    assert "charcot-marie-tooth disease" not in parents
