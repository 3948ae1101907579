"""`index build` hands over unchanged version and image files by their hash, not their bytes.

The cache of rendered entries holds a version document's sha256 and size only: the live site holds
its file. Whatever happened to the sites in between (removed, a file deleted or changed), the site
built is byte for byte the one `build_from_scratch` makes without any cache.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import image_catalog.build.site_cache as site_cache
import pytest
from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import build_from_scratch
from image_catalog.build.spare import spare_path
from image_catalog.catalog.validate import InvalidCatalog
from image_catalog.cli import main
from support.builds import add_tagged, built_twice, same_as_fresh
from support.health import T0, build, checked
from support.registry import LocalRegistry
from support.site import site_bytes
from support.site import site_bytes as files


def _cached_documents(catalog: Path) -> list[bytes | None]:
    payload, _ = site_cache.read_site_cache(site_cache.site_cache_path(catalog))
    assert payload is not None
    return [entry.document for entry in payload.entries.values()]


def test_the_cache_holds_hashes_and_unchanged_files_stay_the_same_files(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    assert _cached_documents(catalog) == [None] * 32
    payload, _ = site_cache.read_site_cache(site_cache.site_cache_path(catalog))
    assert payload is not None
    assert {"images/img0.json", "images/many.json", "latest.json"} <= set(payload.files)
    assert "views/distro/autosd10/all.json" in payload.files
    assert "schemas/index.schema.json" in payload.files
    same = site / "images/img2/1.2.json"
    image = site / "images/img2.json"
    before = (same.stat().st_ino, image.stat().st_ino)
    folders = ("views/", "schemas/")
    views = {p: (site / p).stat().st_ino for p in site_bytes(site) if p.startswith(folders)}
    old = site_bytes(site)
    add_tagged(catalog, "img1", "1.1", 1, "changed")
    built = same_as_fresh(catalog, site, fresh)
    assert b"changed" in built["images/img1.json"]
    assert (same.stat().st_ino, image.stat().st_ino) == before
    # The views the change left as they were, and the schemas, are the same files too.
    kept = [p for p in views if p in built and built[p] == old[p]]
    assert kept
    assert kept != list(views)
    assert all((site / p).stat().st_ino == views[p] for p in kept)


def test_without_the_live_site_every_entry_is_rendered_again(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    shutil.rmtree(site)
    same_as_fresh(catalog, site, fresh)
    add_tagged(catalog, "many", "2.3", 3, "changed")
    same_as_fresh(catalog, site, fresh)


def test_without_the_kept_site_files_are_linked_from_the_live_one(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    shutil.rmtree(spare_path(site))
    add_tagged(catalog, "img0", "1.3", 3, "changed")
    same_as_fresh(catalog, site, fresh)
    shutil.rmtree(spare_path(site))
    same_as_fresh(catalog, site, fresh)


@pytest.mark.parametrize("kept", [True, False])
def test_deleted_files_of_the_live_site_are_made_again(tmp_path: Path, kept: bool) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    if not kept:
        shutil.rmtree(spare_path(site))
    # The site's SHA256SUMS still lists them: a version document, an image file and a .gz, and a
    # version document next to a changed one (which its image file is made of).
    for relative in ("images/img2/1.5.json", "images/img1.json", "images/many.json.gz"):
        (site / relative).unlink()
    # Read from the kept site if there is one (it is private to the builds), else rendered again.
    (site / "images/img0/1.0.json").unlink()
    add_tagged(catalog, "img0", "1.6", 6, "changed")
    same_as_fresh(catalog, site, fresh)


def test_a_changed_file_of_the_live_site_is_not_trusted(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    # Changed with SHA256SUMS saying so: the entry is rendered again.
    sums = site / "SHA256SUMS"
    altered = site / "images/img2/1.2.json"
    old = hashlib.sha256(altered.read_bytes()).hexdigest()
    altered.unlink()  # a new file: the kept site keeps its own copy
    altered.write_bytes(b'{"altered":true}\n')
    new = hashlib.sha256(altered.read_bytes()).hexdigest()
    sums.write_text(sums.read_text().replace(old, new))
    # Changed behind SHA256SUMS' back, in both sites, next to a changed entry: the image file is
    # not made of those bytes (their hash is not the one known), the entry is rendered again.
    behind = "images/img1/1.4.json"
    for folder in (site, spare_path(site)):
        (folder / behind).unlink()
        (folder / behind).write_bytes(b'{"altered":true}\n')
    add_tagged(catalog, "img1", "1.1", 1, "changed")
    build_index_reusing(catalog, site)
    build_from_scratch(catalog, fresh)
    built, expected = site_bytes(site), site_bytes(fresh)
    assert built["images/img2/1.2.json"] == expected["images/img2/1.2.json"]
    assert built["images/img1.json"] == expected["images/img1.json"]
    # Its own file is carried over as SHA256SUMS describes it, as any unchanged file of the site.
    assert {k: v for k, v in built.items() if k != behind} == {
        k: v for k, v in expected.items() if k != behind
    }


def test_an_invalid_catalog_found_after_its_entries_were_rendered_leaves_the_site(
    tmp_path: Path,
) -> None:
    """Every changed entry renders (index.json is then made ahead), but the checks across
    entries fail: nothing of it reaches the site."""
    catalog, site, _ = built_twice(tmp_path)
    before = site_bytes(site)
    add_tagged(catalog, "img0", "1.3", 3, "changed")
    copy = catalog / "images/img0/1.3-copy.yaml"
    copy.write_bytes((catalog / "images/img0/1.3.yaml").read_bytes())
    with pytest.raises(InvalidCatalog):
        build_index_reusing(catalog, site)
    assert site_bytes(site) == before
    copy.unlink()
    same_as_fresh(catalog, site, tmp_path / "fresh2")


def test_a_build_without_cache_after_cached_ones_gives_the_same_bytes(tmp_path: Path) -> None:
    catalog, site, fresh = built_twice(tmp_path)
    add_tagged(catalog, "img2", "1.8", 8, "changed")
    code = main(["index", "build", "--catalog", str(catalog), "--out", str(site), "--no-cache"])
    assert code == 0
    build_from_scratch(catalog, fresh)
    assert site_bytes(site) == site_bytes(fresh)
    same_as_fresh(catalog, site, tmp_path / "fresh2")


def test_states_of_a_status_are_set_on_entries_known_by_hash(
    registry: LocalRegistry,
    fleet: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog, digest = fleet
    registry.delete_manifest("health/app", digest)
    status, reused = tmp_path / "status.json", tmp_path / "reused"
    checked(catalog, T0, status)
    for step in range(3):
        build(catalog, reused, None, capsys)  # the cache holds hashes only
        build(catalog, reused, status, capsys)  # the entries with a state are rendered again
        build(catalog, reused, status, capsys)  # and then reused with their bytes
        fresh = tmp_path / f"fresh{step}"
        options = ["--no-cache", "--status", str(status)]
        code = main(["index", "build", "--catalog", str(catalog), "--out", str(fresh), *options])
        assert code == 0, capsys.readouterr().err
        assert files(reused) == files(fresh)
        assert b'"health":"missing"' in files(reused)["images/app/2.0.json"]
        entry = catalog / "images/tool/1.0.yaml"
        entry.write_text(entry.read_text().replace("displayName: ", f"displayName: {step} "))
