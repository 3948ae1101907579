"""`index build` keeps the site it replaced and updates that one in place the next time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import image_catalog.build.render as index_module
import image_catalog.build.storing as storing
import pytest
from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import SiteWriteError, build_from_scratch
from image_catalog.build.spare import spare_path
from image_catalog.cli import main
from image_catalog.reader.client import IndexClient, Query
from support.git import GitWork
from support.keys import allowed_signers, make_key
from support.registry import require_tools
from support.site import add_image, new_catalog, site_bytes

PAST = 1_700_000_000


def _catalog(root: Path) -> Path:
    catalog = new_catalog(root)
    add_image(catalog, "rpi", "1", "2026-01-01T00:00:00Z", architectures=("arm64",),
              targets=("rpi4",), disk=True)  # fmt: skip
    add_image(catalog, "qemu", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64", "aarch64"))
    add_image(catalog, "lab", "7", "2026-01-02T00:00:00Z", host="lab.example.net:5000", disk=True)
    # Big enough for files with a .gz beside them.
    for i in range(30):
        add_image(catalog, "many", f"1.{i}", f"2026-01-03T00:{i:02d}:00Z", disk=True)
    return catalog


def _age(site: Path) -> None:
    for path in site.rglob("*"):
        if path.is_file():
            os.utime(path, (PAST, PAST))


def _site_with_a_kept_one(tmp_path: Path) -> tuple[Path, Path]:
    """(catalog, site): the site built twice, the second time with an image `newer` added, so the
    first one is kept beside it."""
    catalog = _catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build_from_scratch(catalog, site)
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z")
    build_from_scratch(catalog, site)
    return catalog, site


def _empty_folders(site: Path) -> list[str]:
    return [str(p) for p in site.rglob("*") if p.is_dir() and not any(p.iterdir())]


@pytest.mark.parametrize("build", [build_from_scratch, build_index_reusing])
def test_the_kept_site_is_updated_into_the_same_bytes(tmp_path: Path, build: Any) -> None:
    catalog = _catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build(catalog, site)
    assert not spare_path(site).exists()  # nothing was replaced
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z", targets=("pc",))
    build(catalog, site)
    assert (spare_path(site) / "catalog.json").is_file()  # the first site, kept
    assert "images/newer.json" not in site_bytes(spare_path(site))
    # Changed, removed and added entries, and a file that is no longer big enough for a .gz.
    add_image(catalog, "qemu", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64",))
    (catalog / "images/lab/7.yaml").unlink()
    (catalog / "images/lab").rmdir()
    for i in range(2, 30):
        (catalog / f"images/many/1.{i}.yaml").unlink()
    add_image(catalog, "later", "2", "2026-03-02T00:00:00Z", architectures=("aarch64",))
    build(catalog, site)
    build_from_scratch(catalog, tmp_path / "fresh")
    assert site_bytes(site) == site_bytes(tmp_path / "fresh")
    assert _empty_folders(site) == []
    assert not (site / "images/lab").exists()
    assert "images/many.json.gz" not in site_bytes(site)
    # And once more, from the site kept this time (the second one, with `lab` and without
    # `later`); the one replaced is kept in its place.
    build(catalog, site)
    assert site_bytes(site) == site_bytes(tmp_path / "fresh")
    assert site_bytes(spare_path(site)) == site_bytes(tmp_path / "fresh")


def test_mtimes_follow_the_live_site_not_the_kept_one(tmp_path: Path) -> None:
    """A file back to the bytes the kept site has is newer than the live one's, not older."""
    catalog = _catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    original = (catalog / "images/qemu/1.0.yaml").read_text()
    build_from_scratch(catalog, site)
    _age(site)
    add_image(catalog, "qemu", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64",))
    build_from_scratch(catalog, site)
    changed = site / "images/qemu/1.0.json"
    assert changed.stat().st_mtime != PAST
    assert (site / "images/rpi/1.json").stat().st_mtime == PAST
    later = PAST + 1000
    for path in site.rglob("*"):
        if path.is_file() and path.stat().st_mtime != PAST:
            os.utime(path, (later, later))
    (catalog / "images/qemu/1.0.yaml").write_text(original)  # the bytes the kept site has
    build_from_scratch(catalog, site)
    assert changed.stat().st_mtime > later  # written now, not the kept site's PAST
    assert (site / "images/rpi/1.json").stat().st_mtime == PAST
    assert (site / "images/rpi/1.json").stat().st_ino == (
        spare_path(site) / "images/rpi/1.json"
    ).stat().st_ino  # unchanged files are shared
    build_from_scratch(catalog, tmp_path / "fresh")
    assert site_bytes(site) == site_bytes(tmp_path / "fresh")


def test_the_live_site_is_untouched_until_the_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, site = _site_with_a_kept_one(tmp_path)
    before = site_bytes(site)
    times = {p: p.stat().st_mtime_ns for p in site.rglob("*")}
    seen: list[bool] = []
    real_swap = index_module.swap_in

    def checked_swap(staging: Path, out: Path) -> None:
        seen.append(site_bytes(out) == before)
        seen.append({p: p.stat().st_mtime_ns for p in out.rglob("*")} == times)
        real_swap(staging, out)

    monkeypatch.setattr(index_module, "swap_in", checked_swap)
    for i in range(30):
        add_image(catalog, "many", f"1.{i}", f"2026-01-03T00:{i:02d}:00Z", disk=True, tags=("x",))
    build_from_scratch(catalog, site)
    assert seen == [True, True]
    assert site_bytes(spare_path(site)) == before


def test_a_failed_update_leaves_the_site_and_drops_the_kept_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, site = _site_with_a_kept_one(tmp_path)
    before = site_bytes(site)
    add_image(catalog, "qemu", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64",))
    real_write = storing.write_files

    def disk_full(root: str, files: list[tuple[str, bytes]], *rest: Any) -> Any:
        raise OSError(28, "No space left on device", root + files[0][0])

    monkeypatch.setattr(storing, "write_files", disk_full)
    with pytest.raises(SiteWriteError, match="No space left on device"):
        build_from_scratch(catalog, site)
    assert site_bytes(site) == before
    assert not spare_path(site).exists()  # half updated: never used again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.lock", "catalog", "site"]
    monkeypatch.setattr(storing, "write_files", real_write)
    build_from_scratch(catalog, site)
    build_from_scratch(catalog, tmp_path / "fresh")
    assert site_bytes(site) == site_bytes(tmp_path / "fresh")


def test_a_kept_site_without_its_sums_is_not_used(tmp_path: Path) -> None:
    catalog, site = _site_with_a_kept_one(tmp_path)
    (spare_path(site) / "SHA256SUMS").unlink()
    stray = spare_path(site) / "images/rpi/1.json"
    stray.unlink()  # not written into: the live site shares that file
    stray.write_text("not what it was\n")
    build_from_scratch(catalog, site)
    build_from_scratch(catalog, tmp_path / "fresh")
    assert site_bytes(site) == site_bytes(tmp_path / "fresh")


def test_a_link_in_place_of_the_kept_site_is_left_alone(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build_from_scratch(catalog, site)
    elsewhere = tmp_path / "elsewhere"
    build_from_scratch(catalog, elsewhere)
    spare_path(site).symlink_to(elsewhere)
    before = site_bytes(elsewhere)
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z")
    build_from_scratch(catalog, site)
    assert site_bytes(elsewhere) == before
    assert spare_path(site).is_symlink()
    assert "images/newer.json" in site_bytes(site)


@pytest.mark.ssh
@pytest.mark.git
def test_signed_sites_built_over_the_kept_one_verify(tmp_path: Path) -> None:
    require_tools("ssh-keygen")
    work = GitWork(tmp_path / "repo")
    catalog = _catalog(work.root / "catalog")
    work.commit("First", author="Admin")
    key = make_key(tmp_path / "keys", "index")
    trust = allowed_signers(tmp_path / "allowed_signers", key)
    site = tmp_path / "site"
    command = ["index", "build", "--catalog", str(catalog), "--out", str(site)]
    for name in ("second", "third"):
        assert main([*command, "--sign-key", str(key)]) == 0
        add_image(catalog, name, "1", "2026-03-01T00:00:00Z")
        work.commit(f"Add {name}", author="Admin")
    assert main([*command, "--sign-key", str(key)]) == 0
    assert (spare_path(site) / "SHA256SUMS.sig").is_file()
    client = IndexClient(site, cache_dir=tmp_path / "cache", trust=trust)
    assert {s.name for s in client.query(Query()).images} == {
        "rpi", "qemu", "lab", "many", "second", "third"
    }  # fmt: skip
    assert main(command) == 0  # unsigned now: no signature of an earlier SHA256SUMS is left
    assert not (site / "SHA256SUMS.sig").exists()
