"""The documentation's pictures and links: the architecture diagram matches its Graphviz source,
and every relative link or image in documentation/*.md points at a file in the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

DOCS = Path(__file__).resolve().parents[2] / "documentation"
SVG_NS = "{http://www.w3.org/2000/svg}"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def svg_texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return sorted(t.text or "" for t in root.iter(f"{SVG_NS}text"))


def test_architecture_diagram_is_rendered_from_its_source():
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` not found (apt-get install graphviz)")
    fresh = subprocess.run(
        ["dot", "-Tsvg", str(DOCS / "architecture.dot")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    committed = (DOCS / "architecture.svg").read_text()
    # Compare what the picture says, not Graphviz's exact coordinates (they vary by version).
    assert svg_texts(committed) == svg_texts(fresh), "run `make docs` and commit the result"
    png = DOCS / "architecture.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_documentation_links_point_at_files():
    missing = []
    for md in sorted(DOCS.glob("*.md")):
        for target in (a or b for a, b in LINK.findall(md.read_text())):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (md.parent / target.split("#")[0]).resolve()
            if not path.exists():
                missing.append(f"{md.name}: {target}")
    assert not missing, "broken links:\n" + "\n".join(missing)
