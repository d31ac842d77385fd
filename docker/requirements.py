"""Print the requirements of pyproject's dependencies plus extras, one per line (pip -r format).

The images install only the dependencies, not the project (its sources are copied next to
them), so the pip layer depends on pyproject.toml and requirements.lock alone and is reused
while the code changes:

    python docker/requirements.py pyproject.toml serve > requirements.txt
    pip install -c requirements.lock -r requirements.txt

Extras that name the project itself ("medtriage[serve]") are expanded.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    groups = project.get("optional-dependencies", {})
    own = re.compile(rf"^{re.escape(project['name'])}\[([^\]]+)\]$", re.I)
    out: list[str] = list(project.get("dependencies", []))
    seen: set[str] = set()
    pending = list(extras)
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        if extra not in groups:
            raise KeyError(f"pyproject has no optional-dependencies group {extra!r}")
        seen.add(extra)
        for req in groups[extra]:
            match = own.match(req.replace(" ", ""))
            if match:
                pending.extend(x.strip() for x in match.group(1).split(","))
            elif req not in out:
                out.append(req)
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: requirements.py PYPROJECT [EXTRA...]", file=sys.stderr)
        return 2
    data = tomllib.loads(Path(argv[1]).read_text())
    try:
        print("\n".join(requirements(data, argv[2:])))
    except KeyError as exc:
        print(f"requirements.py: {exc.args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
