"""The package boundaries: the service runs the runtime package and never training code; only
tests import tests; no import cycles between modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = [
    "medtriage",
    "training",
    "inference_service",
    "user_management_service",
    "common",
    "testkit",
]
# package -> top-level packages it must never import
FORBIDDEN = {
    "medtriage": {"training", "inference_service", "user_management_service", "tests"},
    "inference_service": {"training", "user_management_service", "tests"},
    "user_management_service": {"training", "inference_service", "medtriage", "tests"},
    "common": {"training", "inference_service", "user_management_service", "medtriage", "tests"},
    "training": {"inference_service", "user_management_service", "tests"},
    "benchmarks": {"tests"},
    "docker": {"tests", "training"},
    "testkit": {"tests", "training"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = path if path.name == "__init__.py" else path.parent
                anchor = module_name(package).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def python_files(top: str) -> list[Path]:
    return sorted((REPO / top).rglob("*.py"))


@pytest.mark.parametrize("top", sorted(FORBIDDEN))
def test_package_does_not_import_forbidden_packages(top: str) -> None:
    bad = []
    for path in python_files(top):
        for name in imports_of(path):
            if name.split(".")[0] in FORBIDDEN[top]:
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_modules() -> None:
    modules = {module_name(p): p for top in PACKAGES for p in python_files(top)}
    graph = {
        name: {m for m in imports_of(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    # A package's __init__ re-exporting its own submodules is not a cycle worth reporting.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    """The walker finds imports inside functions too (how the old code reached training)."""
    f = tmp_path / "m.py"
    f.write_text("def load():\n    from training.store import open_store\n")
    assert "training.store" in imports_of(f) or "training.store.open_store" in imports_of(f)
