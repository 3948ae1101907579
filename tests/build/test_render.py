"""`index build`: the site's layout and formats, determinism, atomicity and refusals."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import image_catalog.build.entries as entries
import image_catalog.build.storing as storing
import image_catalog.build.writer as sitewrite
import msgspec
import pygit2
import pytest
from image_catalog.build.render import SiteWriteError, build_from_scratch, normalize_base_url
from image_catalog.cli import main
from image_catalog.errors import CatalogError, UsageError
from image_catalog.site import contract
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    ImageDoc,
    IndexDoc,
    SiteDoc,
    VersionDoc,
    ViewDoc,
)
from support.git import GitWork
from support.paths import REPO, SHIPPED_CATALOG
from support.site import add_image, new_catalog, site_bytes

MODELS: dict[str, Any] = {
    "Site": SiteDoc,
    "Index": IndexDoc,
    "View": ViewDoc,
    "Image": ImageDoc,
    "Version": VersionDoc,
}


def _load(site: Path, relative: str) -> Any:
    return json.loads((site / relative).read_text())


def _small_catalog(root: Path) -> Path:
    """Three images: one with a deprecated newest version, one multi-arch, one on a lab registry."""
    catalog = new_catalog(root)
    add_image(catalog, "rpi", "1", "2026-01-01T00:00:00Z", architectures=("arm64",),
              targets=("rpi4",), disk=True, tags=("nightly",))  # fmt: skip
    add_image(catalog, "rpi", "2", "2026-01-03T00:00:00Z", architectures=("aarch64",),
              targets=("rpi4",), disk=True, deprecated=True)  # fmt: skip
    add_image(catalog, "qemu", "1.0", "2026-01-02T00:00:00Z", architectures=("x86_64", "aarch64"),
              distro="cs9", tags=("developer", "nightly"))  # fmt: skip
    add_image(catalog, "lab", "7", "2026-01-02T00:00:00Z", host="lab.example.net:5000", disk=True)
    return catalog


# --- layout and formats ------------------------------------------------------------------------


def test_shipped_catalog_site_layout(shipped_site: Path) -> None:
    files = set(site_bytes(shipped_site))
    for expected in [
        "catalog.json",
        "index.json",
        "index.json.gz",
        "latest.json",
        "SHA256SUMS",
        "images/autosd10-rpi4.json",
        "images/autosd10-rpi4/20260110.0812.json",
        "images/autosd10-rpi4/20260124.0805.json",
        "views/architecture/aarch64/latest.json",
        "views/distro/autosd10/latest.json",
        "views/distro/autosd10/all.json",
        "views/target/rpi4/latest.json",
        "views/target/rpi4/all.json",
        "schemas/index.schema.json",
        "schemas/version.schema.json",
    ]:
        assert expected in files
    # An architecture's history is most of the index: no all.json for architectures.
    assert "views/architecture/aarch64/all.json" not in files


def test_index_lists_every_version_newest_first(shipped_site: Path) -> None:
    index = _load(shipped_site, "index.json")
    assert index["schemaVersion"] == SCHEMA_VERSION
    assert index["kind"] == "Index"
    keys = [(s["publishedAt"], s["name"], s["version"]) for s in index["images"]]
    assert len(keys) == len(list(SHIPPED_CATALOG.glob("images/*/*.yaml")))
    assert keys == sorted(keys, key=lambda k: (-_epoch(k[0]), k[1], k[2]))
    assert index["vocabulary"]["aliases"]["architectures"] == {
        "amd64": "x86_64",
        "arm64": "aarch64",
    }
    assert index["vocabulary"]["aliases"]["distros"]["cs9"] == "autosd9-latest-sig"


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def test_summary_fields(shipped_site: Path) -> None:
    by_id = {(s["name"], s["version"]): s for s in _load(shipped_site, "index.json")["images"]}
    cs9 = by_id["cs9-qemu-qcow2", "20260122.0300"]
    assert cs9["distro"] == "autosd9-latest-sig"
    assert cs9["distroAsWritten"] == "cs9"
    assert cs9["architectures"] == ["x86_64", "aarch64"]
    assert cs9["targets"] == [{"name": "qemu", "verified": True}, {"name": "pc", "verified": False}]
    assert cs9["href"] == "images/cs9-qemu-qcow2/20260122.0300.json"
    rpi = by_id["autosd10-rpi4", "20260124.0805"]
    [variant] = rpi["variants"]
    public = (
        "default-route-openshift-image-registry.apps.build.example.com/automotive-builds/"
        "autosd10-rpi4@sha256:74f84f4d4ffdd000f14e8c8a6a87eb2bf030132049696f4ec1c9a2801c97c45d"
    )
    assert variant == {
        "architecture": "aarch64",
        "kind": "disk",
        "digest": "sha256:74f84f4d4ffdd000f14e8c8a6a87eb2bf030132049696f4ec1c9a2801c97c45d",
        "ref": public,
        "oci": f"oci://{public}",
    }
    assert "distroAsWritten" not in rpi
    assert by_id["autosd10-rpi4", "20260110.0812"]["deprecated"] is True
    assert by_id["autosd10-rpi4", "20260110.0812"]["supersededBy"] == "autosd10-rpi4@20260124.0805"


def test_version_document_has_artifacts_with_download_urls(shipped_site: Path) -> None:
    doc = _load(shipped_site, "images/rhivos-ride4-sa8775p/2.0.3.json")
    [disk] = doc["variants"]
    assert [a["partition"] for a in disk["artifacts"]] == ["boot_a", "system_a", "vbmeta_a", "efi"]
    boot = disk["artifacts"][0]
    assert boot == {
        "title": "boot_a.simg.lz4",
        "mediaType": "application/vnd.automotive.disk.simg+lz4",
        "format": "simg",
        "compression": "lz4",
        "sha256": "08d50f2e4a84a04d321e3ed247e8508b254309fe17748482f7a6412ed2db4a6b",
        "size": 22369621,
        "decompressedSize": 67108864,
        "partition": "boot_a",
        "url": "https://default-route-openshift-image-registry.apps.build.example.com/v2/"
        "automotive-builds/rhivos-ride4-sa8775p/blobs/"
        "sha256:08d50f2e4a84a04d321e3ed247e8508b254309fe17748482f7a6412ed2db4a6b",
    }
    assert doc["source"]["imageBuild"]["name"] == "rhivos-ride4-203"
    both = _load(shipped_site, "images/autosd9-rcar-s4/20260118.2210.json")["variants"]
    assert [(v["architecture"], v["kind"]) for v in both] == [
        ("aarch64", "container"),
        ("aarch64", "disk"),
    ]


def test_image_document_names_the_latest_version(shipped_site: Path) -> None:
    doc = _load(shipped_site, "images/autosd10-rpi4.json")
    assert doc["latest"] == "20260124.0805"
    assert [v["version"] for v in doc["versions"]] == ["20260124.0805", "20260110.0812"]
    # Each version in the image file is exactly its own file.
    for version in doc["versions"]:
        assert version == _load(shipped_site, f"images/autosd10-rpi4/{version['version']}.json")


def test_every_file_reads_back_through_its_model(shipped_site: Path) -> None:
    """Every file decodes into its contract type and encodes back to the very same bytes."""
    documents = 0
    for relative, data in site_bytes(shipped_site).items():
        if not relative.endswith(".json") or relative.startswith("schemas/"):
            continue
        model = MODELS[json.loads(data)["kind"]]
        parsed = msgspec.json.decode(data, type=model)
        assert contract.encode(parsed) + b"\n" == data, relative
        documents += 1
    assert documents > 50


def test_schemas_are_published(shipped_site: Path) -> None:
    for kind, model in MODELS.items():
        schema = _load(shipped_site, f"schemas/{kind.lower()}.schema.json")
        assert schema["$id"] == f"{kind.lower()}.schema.json"
        assert schema["title"] == model.__name__


def test_sha256sums_lists_every_other_file(shipped_site: Path) -> None:
    files = site_bytes(shipped_site)
    listed = {}
    header, *lines = files.pop("SHA256SUMS").decode().splitlines()
    assert header.startswith("# image-catalog index: catalog commit ")
    for line in lines:
        digest, _, path = line.partition("  ")
        listed[path] = digest
    assert listed == {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    done = subprocess.run(
        ["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=shipped_site, capture_output=True
    )
    assert done.returncode == 0, done.stdout


def test_large_files_have_a_deterministic_gz(shipped_site: Path) -> None:
    files = site_bytes(shipped_site)
    for path, data in files.items():
        if path.endswith(".gz") or path == "SHA256SUMS":
            continue
        if len(data) >= storing.GZIP_MIN_BYTES:
            packed = files[f"{path}.gz"]
            assert gzip.decompress(packed) == data
            assert packed[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
            assert packed[3] & 0x08 == 0, "no file name in the gzip header"
        else:
            assert f"{path}.gz" not in files


def test_views_hold_the_heads_and_the_history(shipped_site: Path) -> None:
    def ids(relative: str) -> list[str]:
        return [f"{s['name']}@{s['version']}" for s in _load(shipped_site, relative)["images"]]

    assert ids("views/target/rpi4/latest.json") == ["autosd10-rpi4@20260124.0805"]
    assert ids("views/target/rpi4/all.json") == [
        "autosd10-rpi4@20260124.0805",
        "autosd10-rpi4@20260110.0812",
    ]
    assert "autosd10-rpi4@20260110.0812" not in ids("latest.json")
    site = _load(shipped_site, "catalog.json")
    assert site["views"]["target"]["rpi4"] == {"latest": 1, "all": 2}
    assert site["views"]["architecture"]["x86_64"] == {"latest": 3}
    assert site["views"]["target"]["beagleplay"] == {"latest": 0, "all": 0}
    assert site["counts"] == {"images": len(ids("latest.json")), "versions": len(ids("index.json"))}


def test_small_catalog_heads_aliases_and_hosts(tmp_path: Path) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    build_from_scratch(catalog, tmp_path / "site")
    site = tmp_path / "site"
    rpi = _load(site, "images/rpi.json")
    assert rpi["latest"] == "1"  # version 2 is newer but deprecated
    # latest.json keeps both heads of rpi: the current one and the newer deprecated one.
    heads = [(s["name"], s["version"]) for s in _load(site, "latest.json")["images"]]
    assert heads == [("rpi", "2"), ("lab", "7"), ("qemu", "1.0"), ("rpi", "1")]
    one = _load(site, "images/rpi/1.json")
    assert one["architectures"] == ["aarch64"]  # written as arm64
    url = one["variants"][0]["artifacts"][0]["url"]
    assert url.startswith("https://images.example.com/v2/builds/rpi/blobs/sha256:")
    assert one["variants"][0]["ref"].startswith("images.example.com/builds/rpi@sha256:")
    lab = _load(site, "images/lab/7.json")["variants"][0]
    assert lab["artifacts"][0]["url"].startswith("http://lab.example.net:5000/v2/builds/lab/")
    assert _load(site, "catalog.json")["catalog"] == {"commit": None}


def test_every_version_deprecated_has_no_latest(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "catalog")
    add_image(catalog, "old", "1", "2026-01-01T00:00:00Z", deprecated=True)
    build_from_scratch(catalog, tmp_path / "site")
    assert "latest" not in _load(tmp_path / "site", "images/old.json")
    heads = _load(tmp_path / "site", "latest.json")["images"]
    assert [(s["version"], s["deprecated"]) for s in heads] == [("1", True)]


def test_own_download_url_wins(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "catalog")
    add_image(
        catalog,
        "mirror",
        "1",
        "2026-01-01T00:00:00Z",
        disk=True,
        boot_url="https://cdn.example.com/boot.gz",
    )
    build_from_scratch(catalog, tmp_path / "site")
    artifacts = _load(tmp_path / "site", "images/mirror/1.json")["variants"][0]["artifacts"]
    assert artifacts[0]["url"] == "https://cdn.example.com/boot.gz"
    assert artifacts[1]["url"].startswith("https://images.example.com/v2/")


@pytest.mark.git
def test_commit_and_base_url(git_catalog: GitWork, tmp_path: Path) -> None:
    first = str(git_catalog.repo.head.target)
    (git_catalog.root / "NOTES.md").write_text("a later commit that touches no entry\n")
    head = git_catalog.commit("Add notes")
    build_from_scratch(git_catalog.root / "catalog", tmp_path / "site", "https://cdn.example.com/c")
    for relative in ("catalog.json", "index.json"):
        doc = _load(tmp_path / "site", relative)
        assert doc["catalog"] == {"commit": head}
        assert doc["baseUrl"] == "https://cdn.example.com/c/"
    # Only those two name the HEAD commit: every other file changes only with its content.
    assert head not in (tmp_path / "site/latest.json").read_text()
    # Each entry names the commit that first published it on the branch (the audit trail).
    version = _load(tmp_path / "site", "images/autosd10-rpi4/20260124.0805.json")
    assert version["firstPublished"] == {"commit": first, "date": "2026-01-01T11:00:00Z"}


@pytest.mark.parametrize("url", ["ftp://x/", "cdn.example.com", "https://x/?q=1", "https://"])
def test_bad_base_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="--base-url"):
        normalize_base_url(url)


def test_path_segments_are_checked() -> None:
    for bad in ("..", "a/b", ".hidden", "", "x\x00"):
        with pytest.raises(CatalogError, match="cannot be used as a file name"):
            entries.site_path("images", bad)


# --- determinism -------------------------------------------------------------------------------


def test_same_catalog_gives_identical_bytes(tmp_path: Path) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    build_from_scratch(catalog, tmp_path / "one")
    build_from_scratch(catalog, tmp_path / "two")
    first, second = site_bytes(tmp_path / "one"), site_bytes(tmp_path / "two")
    assert first == second
    assert len(first) > 50


def test_rebuild_keeps_mtimes_of_unchanged_files(tmp_path: Path) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build_from_scratch(catalog, site)
    past = 1_700_000_000
    for path in site.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z", targets=("pc",))
    build_from_scratch(catalog, site)
    unchanged = site / "images/rpi/1.json"
    assert unchanged.stat().st_mtime == past
    assert (site / "views/target/rpi4/latest.json").stat().st_mtime == past
    assert (site / "index.json").stat().st_mtime != past
    assert (site / "views/target/pc/latest.json").stat().st_mtime != past


# --- refusals and atomicity ----------------------------------------------------------------------


def _debris(parent: Path, keep: set[str]) -> list[str]:
    """What is left beside the catalog and the site, but the cache of earlier checks and the
    lock builds into the site take turns with (kept: `site/outlock.py`)."""
    return sorted(p.name for p in parent.iterdir() if p.name not in {*keep, ".cache", ".site.lock"})


def test_invalid_catalog_is_refused_and_the_site_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site)]) == 0
    before = site_bytes(site)
    capsys.readouterr()
    broken = catalog / "images/qemu/1.0.yaml"
    broken.write_text(broken.read_text().replace("architecture: x86_64", "architecture: arm"))
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: refusing to build the index: the catalog in {catalog} has 1 problem; fix them "
        "first:\n"
        f"  {broken}:"
    )
    assert "'arm' is not a known architecture" in err
    assert site_bytes(site) == before
    assert _debris(tmp_path, {"catalog", "site"}) == []


def test_failure_half_way_leaves_the_previous_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build_from_scratch(catalog, site)
    before = site_bytes(site)
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z")
    real_store = storing.store_file
    written: list[str] = []

    def disk_full(root: str, relative: str, data: bytes, *rest: Any) -> list[tuple[str, str, int]]:
        if len(written) == 10:
            raise OSError(28, "No space left on device", root + relative)
        written.append(relative)
        return real_store(root, relative, data, *rest)

    monkeypatch.setattr(storing, "store_file", disk_full)
    with pytest.raises(SiteWriteError, match="No space left on device") as caught:
        build_from_scratch(catalog, site)
    assert "the previous site is left as it was" in str(caught.value)
    assert len(written) == 10
    assert site_bytes(site) == before
    assert _debris(tmp_path, {"catalog", "site"}) == []


def test_file_size_limit_fails_the_build_cleanly(tmp_path: Path) -> None:
    """A real write failure: the process may not write files over 16 kB; index.json is larger."""
    catalog = new_catalog(tmp_path / "catalog")
    for i in range(40):
        add_image(catalog, f"img{i}", "1", f"2026-01-01T00:{i:02d}:00Z")
    site = tmp_path / "site"
    site.mkdir()
    (site / "catalog.json").write_text("{}\n")  # an earlier site, as far as the guard is concerned
    limit = 16 * 1024

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "image_catalog", "index", "build"]
    done = subprocess.run(
        [*command, "--catalog", str(catalog), "--out", str(site)],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,  # sets a limit only: safe in a threaded parent
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: cannot write the site into {site}: File too large")
    assert sorted(p.name for p in site.iterdir()) == ["catalog.json"]
    assert _debris(tmp_path, {"catalog", "site"}) == []


def test_swap_without_an_atomic_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2 is missing the site is swapped with two renames, just as cleanly."""
    monkeypatch.setattr(sitewrite, "exchange", lambda staging, out: False)
    catalog = _small_catalog(tmp_path / "catalog")
    site = tmp_path / "site"
    build_from_scratch(catalog, site)
    add_image(catalog, "newer", "1", "2026-03-01T00:00:00Z")
    build_from_scratch(catalog, site)
    assert "images/newer.json" in site_bytes(site)
    assert _debris(tmp_path, {"catalog", "site"}) == []


def test_out_must_be_a_site_or_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me\n")
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(precious)]) == 2
    assert "holds no index (catalog.json is missing); refusing to replace it" in (
        capsys.readouterr().err
    )
    assert (precious / "notes.txt").read_text() == "keep me\n"
    (tmp_path / "file").write_text("x")
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


@pytest.mark.git
def test_cli_build_reports_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(SHIPPED_CATALOG), "--out", str(site)]) == 0
    out = capsys.readouterr().out
    head = pygit2.Repository(str(REPO)).head.target
    assert out.startswith(f"{site}: index of ")
    assert f"({str(head)[:12]})" in out
    assert "gzipped" in out


def test_cli_build_says_when_the_index_has_no_gz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, catalog)
    for image in (catalog / "images").iterdir():
        if image.name != "autosd10-acrn":
            shutil.rmtree(image)
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site)]) == 0
    out = capsys.readouterr().out
    assert not (site / "index.json.gz").exists()
    assert "0 B gzipped" not in out
    assert out.rstrip().endswith("(small enough to be served without a .gz)")
