"""Build the MedQuAD table (as in ../shared/data/medquad.csv.gz) from the public MedQuAD XML.

Source: https://github.com/abachaa/MedQuAD at a pinned commit. The rules follow
../shared/data/README.md: three XML schemas (`<Document>`, CDC's `<DiseaseFile>`, NINDS's
lower-case `<doc>/<qaPairs>/<pair>`), ids `<source>_<file stem>_Sec<n>` with n the 1-based
position of the pair in the file, text lines stripped and empty lines dropped, and pairs with
an empty answer skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import xml.etree.ElementTree as ET  # nosec B405 - MedQuAD's NIH XML at training time; expat expands no external entities
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from tqdm import tqdm

MEDQUAD_COMMIT = "577bd37b96c02d1833b2c9eed2de9f96964e96cb"
MEDQUAD_ZIP_URL = f"https://github.com/abachaa/MedQuAD/archive/{MEDQUAD_COMMIT}.zip"
CSV_NAME = "medquad.csv.gz"

COLUMNS = [
    "id",
    "source",
    "url",
    "focus",
    "focus_group",
    "qtype",
    "question",
    "answer",
    "focus_category",
    "cuis",
    "semantic_types",
    "synonyms",
    "xml_doc_id",
    "xml_pid",
    "xml_qid",
    "xml_file",
]

# Folder -> id prefix, used only when a file lacks the source attribute.
FOLDERS = {
    "1_CancerGov_QA": "CancerGov",
    "2_GARD_QA": "GARD",
    "3_GHR_QA": "GHR",
    "4_MPlus_Health_Topics_QA": "MPlusHealthTopics",
    "5_NIDDK_QA": "NIDDK",
    "6_NINDS_QA": "NINDS",
    "7_SeniorHealth_QA": "NIHSeniorHealth",
    "8_NHLBI_QA_XML": "NHLBI",
    "9_CDC_QA": "CDC",
    "10_MPlus_ADAM_QA": "ADAM",
    "11_MPlusDrugs_QA": "MPlusDrugs",
    "12_MPlusHerbsSupplements_QA": "MPlusHerbsSupplements",
}
# The LiveQA qrels spell this source differently; ids follow the qrels.
PREFIX_SPELLING = {"MPlusHerbsSupplements": "MPlusHerbsSuppls"}


class MedQuADError(Exception):
    """The MedQuAD source could not be downloaded or parsed; the message says which file."""


def clean_text(text: str | None) -> str:
    """Strip every line and drop empty ones (runs of spaces inside a line are kept)."""
    if not text:
        return ""
    return "\n".join(s for line in text.splitlines() if (s := line.strip()))


def _norm(tag: str) -> str:
    # One name for the three schemas: QAPairs/qaPairs, SemanticType/semanticType, ...
    return tag.lower().replace("-", "").replace("_", "")


def _text(element: ET.Element | None) -> str:
    return clean_text("".join(element.itertext())) if element is not None else ""


def _child(parent: ET.Element, *names: str) -> ET.Element | None:
    for child in parent:
        if _norm(child.tag) in names:
            return child
    return None


def _descendants(elements: Iterable[ET.Element], name: str) -> list[str]:
    """Non-empty cleaned texts of all elements named `name` below `elements`, in order."""
    found = []
    for element in elements:
        for node in element.iter():
            if _norm(node.tag) == name and (text := _text(node)):
                found.append(text)
    return found


def _attr(element: ET.Element, *names: str) -> str:
    for name in names:
        if name in element.attrib:
            return element.attrib[name].strip()
    return ""


def parse_xml_file(path: Path, folder: str) -> list[dict]:
    """Rows (dicts with the CSV columns) for the pairs with a non-empty answer in one file."""
    path = Path(path)
    try:
        # Pinned public archive; expat does not fetch external entities and caps expansion.
        root = ET.parse(path).getroot()  # noqa: S314  # nosec B314 - see the import
    except (ET.ParseError, OSError) as exc:
        raise MedQuADError(f"cannot parse {folder}/{path.name}: {exc}") from exc
    if _norm(root.tag) not in ("document", "diseasefile", "doc"):
        raise MedQuADError(f"{folder}/{path.name}: unknown root element <{root.tag}>")

    pairs_parent = _child(root, "qapairs")
    pairs = (
        [p for p in pairs_parent if _norm(p.tag) in ("qapair", "pair")]
        if pairs_parent is not None
        else []
    )
    # Metadata lives outside the pairs: FocusAnnotations/UMLS, a top-level UMLS (CDC), or umls.
    meta = [child for child in root if child is not pairs_parent]

    source = _attr(root, "source", "corpus") or FOLDERS.get(folder, folder)
    prefix = PREFIX_SPELLING.get(source, source)
    doc_id = _attr(root, "id", "docid", "fid") or path.stem
    url = _attr(root, "url") or _text(_child(root, "url"))
    focus = _text(_child(root, "focus", "doctitlefocus"))
    group = (_descendants(meta, "semanticgroup") or [""])[0]
    category = (_descendants(meta, "category") or [""])[0]
    cuis = ";".join(_descendants(meta, "cui"))
    semantic_types = ";".join(_descendants(meta, "semantictype"))
    synonyms = ";".join(_descendants(meta, "synonym"))

    rows = []
    for position, pair in enumerate(pairs, start=1):
        answer = _text(_child(pair, "answer"))
        if not answer:
            continue
        question = _child(pair, "question")
        attrs = question.attrib if question is not None else {}
        rows.append(
            {
                "id": f"{prefix}_{path.stem}_Sec{position}",
                "source": folder,
                "url": url,
                "focus": focus,
                "focus_group": group,
                "qtype": attrs.get("qtype", "").strip(),
                "question": _text(question),
                "answer": answer,
                "focus_category": category,
                "cuis": cuis,
                "semantic_types": semantic_types,
                "synonyms": synonyms,
                "xml_doc_id": doc_id,
                "xml_pid": _attr(pair, "pid"),
                "xml_qid": attrs.get("qid", "").strip(),
                "xml_file": f"{folder}/{path.name}",
            }
        )
    return rows


def _source_root(root: Path) -> Path:
    """`root` itself, or its single subdirectory holding the folders (a GitHub archive)."""
    if any((root / f).is_dir() for f in FOLDERS):
        return root
    subdirs = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    for sub in subdirs:
        if any((sub / f).is_dir() for f in FOLDERS):
            return sub
    raise MedQuADError(f"no MedQuAD source folders (e.g. 1_CancerGov_QA) under {root}")


def build_table(root: Path) -> pd.DataFrame:
    """The MedQuAD table from an extracted archive: folders in source order, files by name."""
    base = _source_root(Path(root))
    rows: list[dict] = []
    for folder in FOLDERS:  # dict order is the numeric order 1..12
        for path in sorted((base / folder).glob("*.xml")):
            rows.extend(parse_xml_file(path, folder))
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=str)
    if table["id"].duplicated().any():
        dupes = table.loc[table["id"].duplicated(), "id"].head(3).tolist()
        raise MedQuADError(f"duplicate MedQuAD ids, e.g. {dupes}")
    return table


def _download(url: str, dest: Path) -> None:
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:  # noqa: S310 - http(s)/file URL from config  # nosec B310
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="download MedQuAD") as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        os.replace(part, dest)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        part.unlink(missing_ok=True)
        raise MedQuADError(
            f"cannot download MedQuAD from {url}: {exc}; set MEDTRIAGE_DATA to a local CSV instead"
        ) from exc


def _extract_xml(archive: Path, dest: Path) -> None:
    """Extract only the XML of the source folders (the archive also holds other zips)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                parts = name.split("/")
                if name.endswith(".xml") and any(p in FOLDERS for p in parts[:-1]):
                    zf.extract(name, dest)  # extract() drops '..' and absolute parts
    except zipfile.BadZipFile as exc:
        raise MedQuADError(f"{archive} is not a valid zip archive: {exc}") from exc


def download_medquad(cache_dir: Path, url: str = MEDQUAD_ZIP_URL) -> Path:
    """Download MedQuAD, build the table and write cache_dir/medquad.csv.gz; return its path.

    Idempotent: an existing CSV is returned as is. Writes are atomic (temp file + rename).
    """
    cache_dir = Path(cache_dir)
    out = cache_dir / CSV_NAME
    if out.is_file():
        return out
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        archive = cache_dir / f"medquad-{MEDQUAD_COMMIT[:12]}.zip"
        if not archive.is_file():
            _download(url, archive)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".medquad-") as tmp:
            _extract_xml(archive, Path(tmp))
            table = build_table(Path(tmp))
            if table.empty:
                raise MedQuADError(f"no MedQuAD question-answer pairs found in {url}")
            part = Path(tmp) / CSV_NAME
            # mtime 0: a rebuild gives byte-identical output.
            table.to_csv(part, index=False, compression={"method": "gzip", "mtime": 0})
            shutil.move(part, out)
        archive.unlink(missing_ok=True)
    except OSError as exc:
        raise MedQuADError(f"cannot build {out}: {exc}") from exc
    return out
