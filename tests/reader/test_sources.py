"""Where a reader's files come from: the local folder, and the defaults a reader starts from."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.errors import CatalogError, UsageError
from image_catalog.reader.sources import (
    DirectorySource,
    NotInIndex,
    default_cache_dir,
    default_location,
)
from image_catalog.site.contract import SiteDoc
from image_catalog.site.parse import parser

pytestmark = pytest.mark.usefixtures("isolated_reader")


def test_a_folder_answers_with_the_document_and_its_bytes(shipped_site: Path) -> None:
    source = DirectorySource(shipped_site)
    answer = source.read("catalog.json", parser(SiteDoc))
    assert answer.location == str(shipped_site / "catalog.json")
    assert answer.body == (shipped_site / "catalog.json").read_bytes()
    assert answer.warning is None
    assert answer.doc.counts.images == 7


def test_a_folder_without_the_file_is_not_in_the_index(shipped_site: Path) -> None:
    with pytest.raises(NotInIndex, match=r"images/nothing\.json: no such file in the index"):
        DirectorySource(shipped_site).read("images/nothing.json", parser(SiteDoc))


def test_an_unreadable_or_invalid_file_is_a_catalog_error(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").mkdir()  # reading a folder fails, and not as a missing file
    with pytest.raises(CatalogError, match="cannot read"):
        DirectorySource(tmp_path).read("catalog.json", parser(SiteDoc))
    (tmp_path / "index.json").write_text("{")
    with pytest.raises(CatalogError, match="not valid JSON"):
        DirectorySource(tmp_path).read("index.json", parser(SiteDoc))


def test_no_folder_is_a_usage_error_saying_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="index build --out"):
        DirectorySource(tmp_path / "missing")


def test_defaults_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert default_location() == "site"
    monkeypatch.setenv("IMAGE_CATALOG_INDEX", "https://images.example.com/")
    assert default_location() == "https://images.example.com/"
    assert default_cache_dir() == tmp_path / "cache"  # isolated_reader's
    monkeypatch.delenv("IMAGE_CATALOG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "image-catalog"
