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
    treat = r.search("gout", query, {"treatment": 0.9, "information": 0.1}, top_k=3)
    info = r.search("gout", query, {"treatment": 0.1, "information": 0.9}, top_k=3)
    assert treat[0]["id"] == "A_Sec2" and info[0]["id"] == "A_Sec1"
    assert {a["id"] for a in treat} >= {"A_Sec1", "A_Sec2"}
    assert set(treat[0]) >= {"id", "question", "answer", "focus", "source_url", "score"}


def test_save_load_round_trip(tmp_path):
    r = retriever()
    r.save(tmp_path)
    again = Retriever.load(tmp_path)
    q = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    assert again.search("asthma", q, None, 1)[0]["id"] == r.search("asthma", q, None, 1)[0]["id"]
