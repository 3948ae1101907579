"""The test tree mirrors the package: a module's own tests are one path away.

Every test file below tests/ sits in a folder named after a package of image_catalog (its unit
tests) or in e2e/ (tests through the command line, real registries and real git); at the top are
the tests of the package's top-level modules (`test_process.py` for `process.py`) and of the tree
as a whole (`TREE_TESTS`). No test file imports from conftest: helpers and constants live in
support/, fixtures in conftest.py.
"""

from __future__ import annotations

import ast

from support.paths import REPO, TESTS

PACKAGE = REPO / "tool" / "image_catalog"
END_TO_END = "e2e"
# Tests of the repository as a whole: its docs, this layout, the shape of the code.
TREE_TESTS = {"test_docs.py", "test_layout.py", "test_code_rules.py"}


def packages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def layout_files() -> list[str]:
    return sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("test_*.py"))


def top_level_modules() -> set[str]:
    return {f"test_{p.stem}.py" for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}


def test_every_test_file_is_in_a_folder_named_after_a_package() -> None:
    folders = packages() | {END_TO_END}
    top = TREE_TESTS | top_level_modules()
    misplaced = [
        name
        for name in layout_files()
        if name not in top and (name.count("/") != 1 or name.split("/", 1)[0] not in folders)
    ]
    assert misplaced == [], f"move these to tests/<package>/ or tests/{END_TO_END}/: {misplaced}"


def test_the_package_folders_are_known() -> None:
    assert {"manifest", "catalog", "registry", "build", "reader", "cli"} <= packages()


def test_no_test_file_imports_from_conftest() -> None:
    offenders = []
    for name in layout_files():
        tree = ast.parse((TESTS / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = (
                [node.module]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if "conftest" in modules:
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == [], f"import these from support/ instead: {offenders}"
