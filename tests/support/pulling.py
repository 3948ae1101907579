"""Sites whose disk images sit in a loopback registry, for the tests of `image-catalog pull`, and
a TCP proxy in front of the registry that counts (and may slow) what it serves.

`disk_site` pushes a disk artifact as the build operator does (one annotated layer per file),
records it in a small catalog whose registry host is `host` (the registry itself, or a proxy in
front of it) and builds the site. `CountingProxy` forwards every connection to the registry and
counts the bytes that went back to the client, so a test can assert what a pull transferred.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.cli import main

from support.catalogs import empty_catalog, registry_manifest
from support.confined import Outcome, run_confined
from support.entries import write_entry
from support.git import GitWork
from support.oci import ANNOTATION_PREFIX, DiskFile, PushedArtifact, push_disk_artifact
from support.pushed import disk
from support.registry import LocalRegistry

BOARD = "ridesx4"  # an aarch64 board of the shipped vocabulary


def push_board_disk(
    registry: LocalRegistry, repo: str, files: Sequence[DiskFile]
) -> PushedArtifact:
    annotations = {
        f"{ANNOTATION_PREFIX}distro": "autosd",
        f"{ANNOTATION_PREFIX}target": BOARD,
        f"{ANNOTATION_PREFIX}arch": "arm64",
    }
    return push_disk_artifact(registry, repo, "disk", files, annotations)


def disk_site(
    root: Path,
    host: str,
    artifact: PushedArtifact,
    *,
    name: str = "board",
    version: str = "1.0",
    sign_key: Path | None = None,
    tls_verify: bool = False,
    download_urls: Mapping[str, str] | None = None,
    **entry: object,
) -> Path:
    """A built site with one entry NAME@VERSION: the artifact as an aarch64 disk for `BOARD`,
    recorded on the registry host `host` (an HTTPS one with `tls_verify`; signed with `sign_key`
    when given: the catalog is then committed to a git repository first); `download_urls` gives
    files (by title) a `downloadUrl` of their own; returns the site folder."""
    work = GitWork(root / "repo") if sign_key is not None else None
    folder = work.root / "catalog" if work is not None else root / "catalog"
    registry = registry_manifest("local", host, tls_verify=tls_verify)
    catalog = empty_catalog(folder, {"local": registry})
    variant = disk(artifact, "aarch64")
    pinned = variant["disk"]
    for file in pinned["files"]:
        if download_urls and file["title"] in download_urls:
            file["downloadUrl"] = download_urls[file["title"]]
    pinned["ref"] = pinned["ref"].replace(artifact.host, host, 1)
    spec: dict[str, object] = {
        "displayName": f"{name} {version}",
        "distro": "autosd9-sig",
        "targets": [{"name": BOARD}],
        "variants": [variant],
        "source": {"prebuilt": {"origin": "tests"}},
        "publishedAt": "2026-01-15T09:30:00Z",
        **entry,
    }
    write_entry(catalog, name, version, spec)
    site = root / "site"
    if work is None:
        build_from_scratch(catalog, site)
        return site
    work.commit("A disk image", author="Admin")
    built = main(["index", "build", "--catalog", str(catalog), "--out", str(site),
                  "--sign-key", str(sign_key)])  # fmt: skip
    assert built == 0
    return site


def isolate_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No auth file of the user's: HOME and the runtime folder are the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return home


def small_files(seed: str) -> list[DiskFile]:
    """A gzip boot partition and a 1 MiB raw root partition."""
    raw = f"boot of {seed}".encode() * 100
    boot = gzip.compress(raw, mtime=0)
    root = os.urandom(1 << 20)
    return [
        DiskFile("boot.img.gz", boot, partition="boot_a", decompressed_size=len(raw)),
        DiskFile("root.img", root, media_type="application/vnd.automotive.disk.raw",
                 partition="root_a"),
    ]  # fmt: skip


def pull(
    site: Path,
    out: Path,
    *options: str,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """`image-catalog pull board@1.0 --target BOARD` of `site` into `out`, confined (with `env`
    added to the environment)."""
    args = ["pull", "board@1.0", "--target", BOARD, "--index", str(site), "--out", str(out)]
    return run_confined([*args, *options], timeout=timeout, env=env)


def blob_file(registry: LocalRegistry, digest: str) -> Path:
    """Where the registry stores the blob `digest` (Distribution's filesystem driver)."""
    hexa = digest.removeprefix("sha256:")
    return registry.storage_dir / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"


def start_pull(site: Path, out: Path) -> subprocess.Popen[bytes]:
    """A pull running in the background, for a test to interrupt."""
    args = ["pull", "board@1.0", "--target", BOARD, "--index", str(site), "--out", str(out)]
    return subprocess.Popen([sys.executable, "-m", "image_catalog", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_for_part(part: Path, size: int, child: subprocess.Popen[bytes]) -> None:
    """Wait until `part` holds `size` bytes (the child still running)."""
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size >= size):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the pull did not start"
        time.sleep(0.05)
