"""The shape the package keeps: sizes a reader can hold in their head, private names that stay
private, and one meaning per name.

- no module over 500 lines, no function over 80, no class over 200;
- no name with a leading underscore imported from another module, or reached as `module._name`,
  in the package, the tests or the benchmarks;
- no two top-level classes or functions of the package share a public name (two things, one
  name), but for `ONE_ROLE_A_MODULE`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tool" / "image_catalog"
MAX_MODULE, MAX_FUNCTION, MAX_CLASS = 500, 80, 200
# Names that mean one thing however many modules define them: each CLI module's `add_parser` and
# `run`; and the parts of an entry that are the same concept in the catalog's file (manifest, a
# pydantic model) and in the published document (site, a msgspec struct), each with its format's
# JSON Schema under that title.
ONE_ROLE_A_MODULE = {
    "add_parser",
    "run",
    "main",
    "Deprecation",
    "ImageBuildSource",
    "PrebuiltSource",
    "Source",
}


def _modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _where(path: Path, node: ast.AST | None = None) -> str:
    line = f":{getattr(node, 'lineno', 0)}" if node is not None else ""
    return f"{path.relative_to(REPO)}{line}"


def test_sizes() -> None:
    over = []
    for path in _modules(PACKAGE):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE:
            over.append(f"{_where(path)}: {text.count(chr(10))} lines (module)")
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
                if size > limit:
                    over.append(f"{_where(path, node)}: {node.name} is {size} lines")
    assert over == []


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _imported_modules(tree: ast.Module) -> set[str]:
    """Local names bound to modules of the package (`import x.y as z`, `from x import module`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(
                (alias.asname or alias.name.partition(".")[0])
                for alias in node.names
                if alias.name.startswith("image_catalog")
            )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("image_catalog"):
            for alias in node.names:
                candidate = PACKAGE.parent / (node.module or "").replace(".", "/") / alias.name
                if candidate.with_suffix(".py").is_file() or candidate.is_dir():
                    names.add(alias.asname or alias.name)
    return names


@pytest.mark.parametrize("root", ["tool", "tests", "benchmarks"])
def test_no_private_name_crosses_a_module(root: str) -> None:
    found = []
    for path in _modules(REPO / root):
        tree = _tree(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("image_catalog"):
                found += [
                    f"{_where(path, node)}: imports {alias.name} from {node.module}"
                    for alias in node.names
                    if _is_private(alias.name)
                ]
        modules = _imported_modules(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _is_private(node.attr)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
            ):
                found.append(f"{_where(path, node)}: reaches {node.value.id}.{node.attr}")
    assert found == []


def test_one_name_one_thing() -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for path in _modules(PACKAGE):
        for node in _tree(path).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and not _is_private(node.name):
                defined[node.name].append(_where(path, node))
    twice = {name: places for name, places in defined.items() if len(places) > 1}
    assert {name: places for name, places in twice.items() if name not in ONE_ROLE_A_MODULE} == {}
