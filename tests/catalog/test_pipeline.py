"""The one validation pipeline: the validated catalog the commands get comes through the cache of
checks, and is the same (entries and problems) with or without it."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from image_catalog.catalog.cache import FactsCache, cache_file
from image_catalog.catalog.facts import Finding
from image_catalog.catalog.incremental import cache_key, check_keeping_entries, with_entries
from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.validate import (
    InvalidCatalog,
    ValidationReport,
    valid_catalog,
    validate_catalog,
)
from image_catalog.errors import CatalogError

ACRN = "images/autosd10-acrn/1.2.0.yaml"


def entries(catalog: Catalog) -> list[tuple[str, str, dict[str, object]]]:
    return [(e.file, e.model.id, e.model.model_dump(mode="json")) for e in catalog.images]


def described(report: ValidationReport) -> list[tuple[str, str, str]]:
    return [(str(p), p.code, p.severity) for p in report.problems]


def test_valid_catalog_is_the_same_with_and_without_the_cache(catalog_dir: Path) -> None:
    cold = valid_catalog(catalog_dir, "test")
    warm = valid_catalog(catalog_dir, "test")
    fresh = valid_catalog(catalog_dir, "test", use_cache=False)
    assert len(cold.images) == 8
    assert entries(cold) == entries(warm) == entries(fresh)
    assert [r.model for r in warm.registries] == [r.model for r in fresh.registries]
    assert warm.vocabulary == fresh.vocabulary


def test_valid_catalog_leaves_a_cache_the_next_check_reuses(catalog_dir: Path) -> None:
    valid_catalog(catalog_dir, "test")
    assert cache_file(catalog_dir).is_file()
    checked = check_keeping_entries(catalog_dir)
    assert (checked.stats.checked, checked.stats.reused) == (0, 8)
    assert checked.rendered == {}  # nothing read for its checks
    assert len(with_entries(checked).images) == 8  # the models are read once checks are done


def test_valid_catalog_answers_from_the_cache(catalog_dir: Path) -> None:
    """A finding planted in the cache is what the second call reports: it did not check the file
    again. Without the cache, the file is checked and found valid."""
    valid_catalog(catalog_dir, "test")
    cache = FactsCache.open(cache_file(catalog_dir), cache_key(catalog_dir))
    cached = cache.files[ACRN]
    planted = Finding("planted", ("spec",), "planted", "error", None, None, located=False)
    cache.put(ACRN, cached.blob, msgspec.structs.replace(cached.facts, findings=(planted,)))
    cache.save()
    with pytest.raises(InvalidCatalog) as refused:
        valid_catalog(catalog_dir, "test")
    assert [p.code for p in refused.value.report.errors] == ["planted"]
    assert "refusing to test" in str(refused.value)
    assert len(valid_catalog(catalog_dir, "test", use_cache=False).images) == 8


def test_invalid_catalog_gives_the_same_problems_with_and_without_the_cache(
    catalog_dir: Path,
) -> None:
    entry = catalog_dir / ACRN
    entry.write_text(entry.read_text().replace("architecture: amd64", "architecture: amd65"))
    (catalog_dir / "images/autosd10-acrn/2.0.0.yaml").write_text("kind: [\n")
    validate_catalog(catalog_dir)  # fills the cache
    catalog, report = validate_catalog(catalog_dir)
    fresh_catalog, fresh = validate_catalog(catalog_dir, use_cache=False)
    assert described(report) == described(fresh) != []
    assert {p.code for p in report.errors} == {"unknown_architecture", "yaml"}
    assert (report.images, report.files) == (fresh.images, fresh.files) == (7, 12)
    assert entries(catalog) == entries(fresh_catalog)
    assert ACRN not in {e.file.removeprefix(f"{catalog_dir}/") for e in catalog.images}
    for use_cache in (True, False):
        with pytest.raises(InvalidCatalog) as refused:
            valid_catalog(catalog_dir, "export it", use_cache=use_cache)
        assert described(refused.value.report) == described(fresh)


def test_a_file_changed_after_its_checks_is_refused(catalog_dir: Path) -> None:
    valid_catalog(catalog_dir, "test")
    checked = check_keeping_entries(catalog_dir)
    assert checked.report.ok
    entry = catalog_dir / ACRN
    entry.write_text(entry.read_text() + "# changed\n")
    with pytest.raises(CatalogError, match="changed while the catalog was checked"):
        with_entries(checked)
