"""MedQuAD XML -> table: the three schemas, ids by position, cleaning, and the download path."""
# ruff: noqa: E501 - the XML fixtures keep MedQuAD's long lines

from __future__ import annotations

import gzip
import http.server
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from training.medquad_xml import (
    COLUMNS,
    MEDQUAD_COMMIT,
    MedQuADError,
    build_table,
    clean_text,
    download_medquad,
    parse_xml_file,
)

GHR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000042" source="GHR" url="https://ghr.example/condition/x">
<Focus>Example syndrome</Focus>
<FocusAnnotations>
\t<UMLS>
\t\t<CUIs>
\t\t\t<CUI>C0000001</CUI>
\t\t\t<CUI>C0000002</CUI>
\t\t</CUIs>
\t\t<SemanticTypes>
\t\t\t<SemanticType>T019</SemanticType>
\t\t\t<SemanticType>T047</SemanticType>
\t\t</SemanticTypes>
\t\t<SemanticGroup>Disorders</SemanticGroup>
\t</UMLS>
\t<Synonyms>
\t\t<Synonym>ES</Synonym>
\t\t<Synonym>Example disease, type 1</Synonym>
\t</Synonyms>
</FocusAnnotations>
<QAPairs>
\t<QAPair pid="1">
\t\t\t<Question qid="0000042-1" qtype="information">What is (are) Example syndrome ?</Question>
\t\t\t<Answer>Example syndrome is rare &amp; it&apos;s &quot;odd&quot; &lt;really&gt;, caf&#233;.</Answer>
\t</QAPair>
\t<QAPair pid="3">
\t\t\t<Question qid="0000042-3" qtype="frequency">How many people are affected by Example syndrome ?</Question>
\t\t\t<Answer>
   \t </Answer>
\t</QAPair>
\t<QAPair pid="7">
\t\t\t<Question qid="0000042-7" qtype="treatment">What are the treatments for Example syndrome ?</Question>
\t\t\t<Answer>Treatment includes:

    - rest,   and fluids
\t- medicine\u00a0

  Ask a doctor.  </Answer>
\t</QAPair>
</QAPairs>
</Document>
"""

CDC_DOCUMENT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000005" source="CDC" url="http://www.cdc.example/x/">
<Focus></Focus>
<UMLS>
<CUI></CUI>
<SemanticType></SemanticType>
<SemanticGroup></SemanticGroup>
</UMLS>
<QAPairs>
<QAPair pid="12">
<Question qid="0000005-12" qtype="information">What is (are)  ?</Question>
<Answer>Topics</Answer>
</QAPair>
</QAPairs>
</Document>
"""

CDC_DISEASEFILE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<DiseaseFile fid="0000007" source="CDC" url="http://www.cdc.example/disease/">
<Focus>Some Fever</Focus>
<UMLS>
<CUI></CUI>
<SemanticType></SemanticType>
<SemanticGroup></SemanticGroup>
</UMLS>
<QAPairs>
<QAPair pid="2">
<Question qid="0000007-2" qtype="symptoms">What are the symptoms of Some Fever ?</Question>
<Answer>Fever.
  Chills.</Answer>
</QAPair>
<QAPair pid="4">
<Question qid="0000007-4" qtype="prevention">How to prevent Some Fever ?</Question>
<Answer>Wash hands.</Answer>
</QAPair>
</QAPairs>
</DiseaseFile>
"""

NINDS_DOC_XML = """<?xml version="1.0" encoding="UTF-8"?>
<doc docid="0000009" corpus="NINDS" url="http://www.ninds.example/disorders/y.htm">
<doctitle-focus>Holmes-Example</doctitle-focus>
<umls>
<cui></cui>
<semanticType></semanticType>
<semanticGroup></semanticGroup>
</umls>
<qaPairs>
<pair pid="1">
<question qid="0000009-1" qtype="information">what is holmes-example syndrome ?</question>
<answer>A disorder of the pupil.\u00a0 It is rare. </answer>
</pair>
<pair pid="2">
<question qid="0000009-2" qtype="treatment">is there any treatment for Holmes-Example ?</question>
<answer/>
</pair>
<pair pid="3">
<question qid="0000009-3" qtype="outlook">what is the prognosis for Holmes-Example ?</question>
<answer>Not life-threatening.</answer>
</pair>
</qaPairs>
</doc>
"""

HERBS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000003" source="MPlusHerbsSupplements" url="https://medlineplus.example/herb.html">
<Focus>Some Herb</Focus>
<FocusAnnotations>
\t<Category>Drug</Category>
\t<Synonyms><Synonym>Herbus</Synonym></Synonyms>
</FocusAnnotations>
<QAPairs>
\t<QAPair pid="1">
\t\t<Question qid="0000003-1" qtype="usage">How should Some Herb be used ?</Question>
\t\t<Answer>Ask a pharmacist.</Answer>
\t</QAPair>
</QAPairs>
</Document>
"""


def cancergov_xml(title: str, answer: str) -> str:
    """CancerGov files 0000013_2_*.xml share one Document id."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000013_2" source="CancerGov" url="https://www.cancer.example/{title}">
<Focus>{title}</Focus>
<FocusAnnotations><UMLS><CUIs><CUI>C0006826</CUI></CUIs><SemanticTypes><SemanticType>T191</SemanticType></SemanticTypes><SemanticGroup>Disorders</SemanticGroup></UMLS></FocusAnnotations>
<QAPairs>
<QAPair pid="1"><Question qid="0000013_2-1" qtype="treatment">What are the treatments for {title} ?</Question><Answer>{answer}</Answer></QAPair>
</QAPairs>
</Document>
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_source(root: Path) -> Path:
    """A miniature MedQuAD checkout covering every schema and odd case."""
    write(root, "3_GHR_QA/0000042.xml", GHR_XML)
    write(root, "9_CDC_QA/0000005.xml", CDC_DOCUMENT_XML)
    write(root, "9_CDC_QA/0000007.xml", CDC_DISEASEFILE_XML)
    write(root, "6_NINDS_QA/0000009.xml", NINDS_DOC_XML)
    write(root, "12_MPlusHerbsSupplements_QA/0000003.xml", HERBS_XML)
    write(root, "1_CancerGov_QA/0000013_2_1.xml", cancergov_xml("Tumor A", "Surgery."))
    write(root, "1_CancerGov_QA/0000013_2_2.xml", cancergov_xml("Tumor B", "Radiation."))
    write(root, "readme.txt", "not xml")
    return root


def test_clean_text():
    assert clean_text("  a  b \n\n\t c\u00a0\n   \n") == "a  b\nc"
    assert clean_text(None) == ""
    assert clean_text(" \n \t ") == ""


def test_document_schema(tmp_path):
    rows = parse_xml_file(write(tmp_path, "0000042.xml", GHR_XML), "3_GHR_QA")
    # pids 1, 3, 7: ids use the position (1, 2, 3); position 2 has an empty answer.
    assert [r["id"] for r in rows] == ["GHR_0000042_Sec1", "GHR_0000042_Sec3"]
    assert [r["xml_pid"] for r in rows] == ["1", "7"]
    first, last = rows
    assert first == {
        "id": "GHR_0000042_Sec1",
        "source": "3_GHR_QA",
        "url": "https://ghr.example/condition/x",
        "focus": "Example syndrome",
        "focus_group": "Disorders",
        "qtype": "information",
        "question": "What is (are) Example syndrome ?",
        "answer": 'Example syndrome is rare & it\'s "odd" <really>, café.',
        "focus_category": "",
        "cuis": "C0000001;C0000002",
        "semantic_types": "T019;T047",
        "synonyms": "ES;Example disease, type 1",
        "xml_doc_id": "0000042",
        "xml_pid": "1",
        "xml_qid": "0000042-1",
        "xml_file": "3_GHR_QA/0000042.xml",
    }
    assert list(first) == COLUMNS
    assert last["answer"] == "Treatment includes:\n- rest,   and fluids\n- medicine\nAsk a doctor."
    assert last["xml_qid"] == "0000042-7"


def test_cdc_document_with_top_level_umls_and_empty_focus(tmp_path):
    (row,) = parse_xml_file(write(tmp_path, "0000005.xml", CDC_DOCUMENT_XML), "9_CDC_QA")
    assert row["id"] == "CDC_0000005_Sec1"
    assert row["xml_pid"] == "12"
    assert row["focus"] == ""
    assert row["question"] == "What is (are)  ?"  # runs of spaces inside a line are kept
    assert (row["cuis"], row["semantic_types"], row["focus_group"]) == ("", "", "")


def test_cdc_diseasefile_schema(tmp_path):
    rows = parse_xml_file(write(tmp_path, "0000007.xml", CDC_DISEASEFILE_XML), "9_CDC_QA")
    assert [(r["id"], r["xml_pid"], r["qtype"]) for r in rows] == [
        ("CDC_0000007_Sec1", "2", "symptoms"),
        ("CDC_0000007_Sec2", "4", "prevention"),
    ]
    assert rows[0]["answer"] == "Fever.\nChills."
    assert rows[0]["xml_doc_id"] == "0000007"
    assert rows[0]["focus"] == "Some Fever"
    assert rows[0]["url"] == "http://www.cdc.example/disease/"


def test_ninds_lowercase_doc_schema(tmp_path):
    rows = parse_xml_file(write(tmp_path, "0000009.xml", NINDS_DOC_XML), "6_NINDS_QA")
    assert [r["id"] for r in rows] == ["NINDS_0000009_Sec1", "NINDS_0000009_Sec3"]
    first = rows[0]
    assert first["focus"] == "Holmes-Example"
    assert first["question"] == "what is holmes-example syndrome ?"
    assert first["answer"] == "A disorder of the pupil.\u00a0 It is rare."
    assert (first["xml_doc_id"], first["xml_pid"], first["xml_qid"]) == (
        "0000009",
        "1",
        "0000009-1",
    )
    assert first["url"] == "http://www.ninds.example/disorders/y.htm"
    assert (first["cuis"], first["focus_group"], first["synonyms"]) == ("", "", "")


def test_herbs_prefix_and_category(tmp_path):
    path = write(tmp_path, "0000003.xml", HERBS_XML)
    (row,) = parse_xml_file(path, "12_MPlusHerbsSupplements_QA")
    assert row["id"] == "MPlusHerbsSuppls_0000003_Sec1"
    assert row["focus_category"] == "Drug"
    assert row["synonyms"] == "Herbus"
    assert row["xml_file"] == "12_MPlusHerbsSupplements_QA/0000003.xml"


def test_duplicate_document_ids_get_ids_from_file_stems(tmp_path):
    a = write(tmp_path, "0000013_2_1.xml", cancergov_xml("Tumor A", "Surgery."))
    b = write(tmp_path, "0000013_2_2.xml", cancergov_xml("Tumor B", "Radiation."))
    (row_a,) = parse_xml_file(a, "1_CancerGov_QA")
    (row_b,) = parse_xml_file(b, "1_CancerGov_QA")
    assert row_a["id"] == "CancerGov_0000013_2_1_Sec1"
    assert row_b["id"] == "CancerGov_0000013_2_2_Sec1"
    assert row_a["xml_doc_id"] == row_b["xml_doc_id"] == "0000013_2"


def test_bad_xml_names_the_file(tmp_path):
    path = write(tmp_path, "0000001.xml", "<Document><QAPairs>")
    with pytest.raises(MedQuADError, match="2_GARD_QA/0000001.xml"):
        parse_xml_file(path, "2_GARD_QA")


def test_build_table_order_and_columns(tmp_path):
    table = build_table(make_source(tmp_path / "MedQuAD"))
    assert list(table.columns) == COLUMNS
    # Folders in numeric order (12 after 9), files by name.
    assert table["id"].tolist() == [
        "CancerGov_0000013_2_1_Sec1",
        "CancerGov_0000013_2_2_Sec1",
        "GHR_0000042_Sec1",
        "GHR_0000042_Sec3",
        "NINDS_0000009_Sec1",
        "NINDS_0000009_Sec3",
        "CDC_0000005_Sec1",
        "CDC_0000007_Sec1",
        "CDC_0000007_Sec2",
        "MPlusHerbsSuppls_0000003_Sec1",
    ]
    # The archive's single top-level directory is found too.
    assert build_table(tmp_path).equals(table)


def test_build_table_without_source_folders(tmp_path):
    with pytest.raises(MedQuADError, match="no MedQuAD source folders"):
        build_table(tmp_path)


def make_archive(tmp_path: Path) -> Path:
    """A zip shaped like GitHub's archive: MedQuAD-<commit>/<folder>/<file>.xml plus extras."""
    source = make_source(tmp_path / "checkout")
    archive = tmp_path / "served" / f"{MEDQUAD_COMMIT}.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        top = f"MedQuAD-{MEDQUAD_COMMIT}"
        for path in sorted(source.rglob("*")):
            zf.write(path, f"{top}/{path.relative_to(source).as_posix()}")
        zf.writestr(f"{top}/QA-TestSet-LiveQA-Med-Qrels-2479-Answers.zip", b"not extracted")
    return archive


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/served over HTTP on a free port; yields (base_url, request log)."""
    requests_seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "served"), **kwargs)

        def log_message(self, *args):
            requests_seen.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests_seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def test_download_medquad_over_http(tmp_path, http_server):
    base_url, requests_seen = http_server
    archive = make_archive(tmp_path)
    cache = tmp_path / "cache"

    out = download_medquad(cache, f"{base_url}/{archive.name}")
    assert out == cache / "medquad.csv.gz"
    table = read_csv(out)
    assert table.equals(build_table(tmp_path / "checkout"))
    assert len(table) == 10
    ghr = table.set_index("id").loc["GHR_0000042_Sec3"]
    assert ghr["answer"] == "Treatment includes:\n- rest,   and fluids\n- medicine\nAsk a doctor."
    # Only the CSV is left in the cache: no archive, no extracted XML, no temp files.
    assert [p.name for p in cache.iterdir()] == ["medquad.csv.gz"]

    # Idempotent: a second call does not download again.
    assert len(requests_seen) == 1
    first_bytes = out.read_bytes()
    assert download_medquad(cache, f"{base_url}/{archive.name}") == out
    assert len(requests_seen) == 1
    # gzip mtime 0: a rebuild is byte-identical.
    again = download_medquad(tmp_path / "cache2", f"{base_url}/{archive.name}")
    assert again.read_bytes() == first_bytes
    assert gzip.decompress(first_bytes).startswith(b"id,source,url,focus,")


def test_download_medquad_from_file_url(tmp_path):
    archive = make_archive(tmp_path)
    out = download_medquad(tmp_path / "cache", archive.as_uri())
    assert read_csv(out)["id"].tolist()[0] == "CancerGov_0000013_2_1_Sec1"


def test_download_failure_is_clear(tmp_path, http_server):
    base_url, _ = http_server
    (tmp_path / "served").mkdir()
    url = f"{base_url}/missing.zip"
    with pytest.raises(MedQuADError, match=f"cannot download MedQuAD from {url}.*MEDTRIAGE_DATA"):
        download_medquad(tmp_path / "cache", url)
    assert not (tmp_path / "cache" / "medquad.csv.gz").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


def test_download_not_a_zip(tmp_path, http_server):
    base_url, _ = http_server
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "bad.zip").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(MedQuADError, match="not a valid zip"):
        download_medquad(tmp_path / "cache", f"{base_url}/bad.zip")
