"""`handoff unpack` given artifacts shaped to get past it: an encrypted entry, names that
`zipfile` would misread (cut at a NUL, not UTF-8 though flagged so, control characters), and a
checkout with a link planted at one of the places written. Each is refused whole, exit 1, the
entry named in printable text, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.catalogs import empty_catalog
from support.confined import assert_refused, run_confined
from support.zips import encrypted_zip, make_zip, renamed_zip

ENTRY = b"apiVersion: x\nkind: CatalogImage\n"


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in root.rglob("*")
    }


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return empty_catalog(tmp_path / "checkout" / "catalog", {"quay": "kind: Registry\n"})


HOSTILE = {
    "encrypted": (
        lambda path: encrypted_zip(path, "catalog/images/a/1.0.yaml", ENTRY),
        "error: 'catalog/images/a/1.0.yaml': encrypted; only plain files",
    ),
    "NUL in the name": (
        lambda path: renamed_zip(
            path, "catalog/images/a/1.0.yamlXsh", b"catalog/images/a/1.0.yaml\0sh"
        ),
        "error: 'catalog/images/a/1.0.yaml\\x00sh': a NUL byte in the name (a zip reader cuts the "
        "name there)",
    ),
    "flagged UTF-8, is not": (
        lambda path: renamed_zip(
            path, "catalog/images/a/1.\u00e9.yaml", b"catalog/images/a/1.\xff\xfe.yaml"
        ),
        "'catalog/images/a/1.\\xff\\xfe.yaml': the name is flagged as UTF-8 but is not",
    ),
    "cp437 escape sequence": (
        lambda path: renamed_zip(
            path, "catalog/images/a/1XXXX.yaml", b"catalog/images/a/1\x1b[2K.yaml"
        ),
        "error: 'catalog/images/a/1\\x1b[2K.yaml': a control or invisible character in the name",
    ),
    "cp437 C1 control": (
        lambda path: renamed_zip(path, "catalog/images/a/1X.yaml", b"catalog/images/a/1\x9b.yaml"),
        "error: 'catalog/images/a/1\u00a2.yaml': '1\u00a2.yaml' is not a catalog file name",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_zip_is_refused_whole(tmp_path: Path, catalog: Path, case: str) -> None:
    build, message = HOSTILE[case]
    artifact = build(tmp_path / "catalog-changes.zip")
    before = tree(catalog)
    outcome = run_confined(["handoff", "unpack", str(artifact), "--catalog", str(catalog)])
    assert_refused(outcome, 1, message)
    assert tree(catalog) == before


def test_a_link_at_the_second_of_three_places_stops_every_write(
    tmp_path: Path, catalog: Path
) -> None:
    artifact = make_zip(
        tmp_path / "catalog-changes.zip",
        {f"catalog/images/a/1.{n}.yaml": ENTRY for n in range(3)},
    )
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    (catalog / "images/a").mkdir()
    (catalog / "images/a/1.1.yaml").symlink_to(outside)
    before = tree(catalog)
    outcome = run_confined(["handoff", "unpack", str(artifact), "--catalog", str(catalog)])
    assert_refused(
        outcome, 1, f"error: {catalog}/images/a/1.1.yaml: a symlink in the catalog checkout"
    )
    assert tree(catalog) == before  # 1.0.yaml, sorted first, was not written either
    assert outside.read_text() == "mine\n"
