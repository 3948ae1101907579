"""`index build --crs` goes through the one cached pipeline: a second build renders only the
entries whose files changed, and its crs/ files are those of an uncached build and of
`export crs`."""

from __future__ import annotations

from pathlib import Path

from image_catalog.build.pipeline import build_index_reusing
from image_catalog.commands.export import ExportSettings, export
from image_catalog.export.crs import SITE_FOLDER, ExportOptions
from support.site import add_image, new_catalog, site_bytes


def _catalog(root: Path) -> Path:
    catalog = new_catalog(root)
    for i in range(6):
        add_image(catalog, f"img{i}", "1.0", f"2026-01-01T00:0{i}:00Z", disk=i % 2 == 1)
    add_image(catalog, "old", "0.9", "2025-12-01T00:00:00Z", deprecated=True)
    return catalog


def _crs(site: Path) -> dict[str, bytes]:
    prefix = f"{SITE_FOLDER}/"
    return {p[len(prefix) :]: data for p, data in site_bytes(site).items() if p.startswith(prefix)}


def test_a_second_build_renders_only_the_changed_entry(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "catalog")
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    options = ExportOptions(namespace="images")

    first = build_index_reusing(catalog, site, export=options)
    assert first.rendered == 7
    written = _crs(site)
    again = build_index_reusing(catalog, site, export=options)
    assert again.rendered == 0
    assert _crs(site) == written  # from the cached parts alone

    add_image(catalog, "img2", "1.0", "2026-01-01T00:02:00Z", tags=("changed",))
    changed = build_index_reusing(catalog, site, export=options)
    assert changed.rendered == 1
    uncached = build_index_reusing(catalog, fresh, export=options, use_cache=False)
    assert uncached.rendered == 7
    assert site_bytes(site) == site_bytes(fresh)
    assert b'"changed"' in _crs(site)["img2.1.0-x86-64.yaml"]
    assert _crs(site) != written
    assert changed.warnings == uncached.warnings


def test_the_crs_files_are_those_of_export_crs(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "catalog")
    site, exported = tmp_path / "site", tmp_path / "exported"
    build_index_reusing(catalog, site, export=ExportOptions())
    add_image(catalog, "img4", "1.1", "2026-01-02T00:00:00Z", architectures=("aarch64",))
    assert build_index_reusing(catalog, site, export=ExportOptions()).rendered == 1
    made = export(ExportSettings(catalog=catalog, out=exported))
    assert made.deprecated_left_out == 1
    assert _crs(site) == site_bytes(exported)
    assert len(made.resources) == len(_crs(site)) - 1  # and kustomization.yaml


def test_a_build_without_the_export_leaves_its_parts_to_be_made(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "catalog")
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    assert build_index_reusing(catalog, site).rendered == 7
    assert not _crs(site)
    # Rendered again once for their part of the export, which is then cached too.
    assert build_index_reusing(catalog, site, export=ExportOptions()).rendered == 7
    assert build_index_reusing(catalog, site, export=ExportOptions()).rendered == 0
    # Other options make other parts.
    other = ExportOptions(namespace="elsewhere")
    assert build_index_reusing(catalog, site, export=other).rendered == 7
    build_index_reusing(catalog, fresh, export=other, use_cache=False)
    assert site_bytes(site) == site_bytes(fresh)
    assert b'namespace: "elsewhere"' in _crs(site)["img0.1.0-x86-64.yaml"]
