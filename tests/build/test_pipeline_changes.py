"""`index build`'s cache of rendered entries: after a small change only the changes are written."""

from __future__ import annotations

from pathlib import Path

import image_catalog.build.site_cache as site_cache
import pytest
from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import build_from_scratch
from support.site import add_image, new_catalog, site_bytes


def _catalog(root: Path) -> Path:
    catalog = new_catalog(root)
    for i in range(12):
        add_image(catalog, f"img{i % 4}", f"1.{i}", f"2026-01-01T00:{i:02d}:00Z")
    return catalog


def _same_as_fresh(catalog: Path, site: Path, fresh: Path) -> None:
    build_index_reusing(catalog, site)
    build_from_scratch(catalog, fresh)
    assert site_bytes(site) == site_bytes(fresh)


def test_small_changes_are_written_beside_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_cache, "CHANGES_SHARE", 0.2)  # two of twelve entries
    catalog = _catalog(tmp_path / "catalog")
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    _same_as_fresh(catalog, site, fresh)
    whole = site_cache.site_cache_path(catalog)
    changes = site_cache.changes_path(whole)
    written = whole.read_bytes()
    assert not changes.exists()

    add_image(catalog, "img1", "1.1", "2026-01-01T00:01:00Z", tags=("changed",))
    _same_as_fresh(catalog, site, fresh)
    assert whole.read_bytes() == written
    assert changes.exists()
    (catalog / "images/img2/1.2.yaml").unlink()  # removed: the changes hold two entries now
    _same_as_fresh(catalog, site, fresh)
    assert whole.read_bytes() == written
    payload, _ = site_cache.read_site_cache(whole)
    assert payload is not None
    assert "images/img2/1.2.yaml" not in payload.entries

    # A third change is too many: everything is written into the whole file again.
    add_image(catalog, "img3", "1.3", "2026-01-01T00:03:00Z", tags=("changed",))
    _same_as_fresh(catalog, site, fresh)
    assert whole.read_bytes() != written
    assert not changes.exists()


def test_a_damaged_changes_file_only_costs_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_cache, "CHANGES_SHARE", 0.5)
    catalog = _catalog(tmp_path / "catalog")
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    _same_as_fresh(catalog, site, fresh)
    add_image(catalog, "img1", "1.1", "2026-01-01T00:01:00Z", tags=("changed",))
    _same_as_fresh(catalog, site, fresh)
    changes = site_cache.changes_path(site_cache.site_cache_path(catalog))
    changes.write_bytes(changes.read_bytes()[:-10])
    add_image(catalog, "img1", "1.5", "2026-01-01T00:05:00Z", tags=("changed", "again"))
    _same_as_fresh(catalog, site, fresh)
