"""A catalog of a few dozen entries built into a site more than once, each build compared byte
for byte with a build from scratch: the reuse of an earlier site must never show in the result."""

from __future__ import annotations

import shutil
from pathlib import Path

from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import build_from_scratch
from image_catalog.build.spare import spare_path

from support.site import add_image, new_catalog, site_bytes


def many_entries_catalog(root: Path) -> Path:
    """Three names of twelve versions (every other one with a disk image) and twenty more of one
    name, big enough for a .gz beside their files."""
    catalog = new_catalog(root)
    for i in range(12):
        add_image(catalog, f"img{i % 3}", f"1.{i}", f"2026-01-01T00:{i:02d}:00Z", disk=i % 2 == 0)
    # Files big enough for a .gz beside them.
    for i in range(20):
        add_image(catalog, "many", f"2.{i}", f"2026-01-02T00:{i:02d}:00Z", disk=True)
    return catalog


def same_as_fresh(catalog: Path, site: Path, fresh: Path) -> dict[str, bytes]:
    """Build `site` reusing what it holds, then `fresh` from scratch; both must be the same bytes.
    Returns the site's files."""
    reused = build_index_reusing(catalog, site)
    shutil.rmtree(fresh, ignore_errors=True)
    expected = build_from_scratch(catalog, fresh)
    built = site_bytes(site)
    assert built == site_bytes(fresh)
    # What it says it wrote too (files kept or linked are counted with their sizes).
    assert (reused.files, reused.total_bytes) == (expected.files, expected.total_bytes)
    return built


def built_twice(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A catalog built twice (so an earlier site is kept beside the live one)."""
    catalog = many_entries_catalog(tmp_path / "catalog")
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    same_as_fresh(catalog, site, fresh)
    same_as_fresh(catalog, site, fresh)
    assert spare_path(site).is_dir()
    return catalog, site, fresh


def add_tagged(catalog: Path, name: str, version: str, minute: int, tag: str) -> None:
    """Add (or replace) NAME@VERSION, published at that minute, with one tag."""
    add_image(catalog, name, version, f"2026-01-01T00:{minute:02d}:00Z", tags=(tag,))
