"""Hostile inputs to `image-catalog pull`: a registry whose bytes were altered, that vanishes
mid-file or refuses credentials, auth files that cannot be used, a tampered signed index, a title
that is a path, a decompressed size that lies and a full disk. Each ends in its exact exit code and
message, run confined (`run_confined`, `assert_refused`)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import subprocess
from pathlib import Path

import pytest
import zstandard
from support.confined import assert_refused
from support.counting import CountingProxy
from support.keys import allowed_signers, make_key
from support.oci import DiskFile
from support.pulling import (
    blob_file,
    disk_site,
    isolate_credentials,
    pull,
    push_board_disk,
    small_files,
    start_pull,
    wait_for_part,
)
from support.registry import LocalRegistry, require_tools

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]

MiB = 1 << 20


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_credentials(monkeypatch, tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "the auth file does not exist"),
        ("{not json", "the auth file is not valid JSON"),
        ('{"auths": []}', "`auths` is not a JSON object"),
    ],
)
def test_an_auth_file_that_cannot_be_used(
    registry: LocalRegistry, tmp_path: Path, content: str | None, message: str
) -> None:
    artifact = push_board_disk(registry, "pull/authfile", small_files("authfile"))
    site = disk_site(tmp_path, registry.host, artifact)
    authfile = tmp_path / "auth.json"
    if content is not None:
        authfile.write_text(content)
    done = pull(site, tmp_path / "out", "--authfile", str(authfile))
    assert_refused(done, 1, f"{authfile}: {message}")
    assert "{not" not in done.output


def test_a_credential_helper_is_named_when_credentials_are_needed(
    auth_registry: LocalRegistry, tmp_path: Path, own_home: Path
) -> None:
    artifact = push_board_disk(auth_registry, "pull/helper", small_files("helper"))
    site = disk_site(tmp_path, auth_registry.host, artifact)
    docker = own_home / ".docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credsStore": "desktop"}))
    done = pull(site, tmp_path / "out")
    said = "leaves its credentials to a credential helper (credHelpers or credsStore), which "
    assert_refused(done, 4, f"{docker / 'config.json'} {said}image-catalog does not run")


def test_a_blob_altered_in_the_registry_is_refused(
    own_registry: LocalRegistry, tmp_path: Path
) -> None:
    artifact = push_board_disk(own_registry, "pull/altered", small_files("altered"))
    site = disk_site(tmp_path, own_registry.host, artifact)
    layer = artifact.layers[1]
    stored = blob_file(own_registry, layer.digest)
    data = bytearray(stored.read_bytes())
    data[1000] ^= 0xFF
    stored.write_bytes(bytes(data))
    received = hashlib.sha256(data).hexdigest()
    out = tmp_path / "out"
    done = pull(site, out)
    assert_refused(done, 1, f"{out / 'root.img'}: the registry's bytes do not match the index: "
                   f"expected {layer.digest} ({layer.size} bytes), received sha256:{received}; "
                   "nothing is kept under its title")  # fmt: skip
    assert not (out / "root.img").exists()
    assert not (out / "root.img.part").exists()
    assert (out / "boot.img.gz").is_file()  # the other file was right
    assert not (out / "pull.json").exists()


def test_a_registry_that_vanishes_mid_file(own_registry: LocalRegistry, tmp_path: Path) -> None:
    data = os.urandom(24 * MiB)
    files = [DiskFile("disk.raw", data, media_type="application/vnd.automotive.disk.raw")]
    artifact = push_board_disk(own_registry, "pull/vanish", files)
    with CountingProxy(own_registry.port, rate=6 * MiB) as proxy:
        site = disk_site(tmp_path, proxy.host, artifact)
        out = tmp_path / "out"
        child = start_pull(site, out)
        wait_for_part(out / "disk.raw.part", 3 * MiB, child)
        own_registry.stop()
        proxy.close()
        _, err = child.communicate(timeout=60)
    text = err.decode()
    assert child.returncode == 4, text
    assert f"the registry {proxy.host} is unreachable" in text
    assert "run the same command again to continue" in text
    assert (out / "disk.raw.part").stat().st_size > 0
    assert not (out / "disk.raw").exists()


PACK = {
    "gzip": (lambda raw: gzip.compress(raw, mtime=0), ".gz"),
    "xz": (lzma.compress, ".xz"),
    "zstd": (lambda raw: zstandard.ZstdCompressor().compress(raw), ".zst"),
}


@pytest.mark.parametrize("compression", sorted(PACK))
def test_decompress_checks_the_decompressed_size(
    registry: LocalRegistry, tmp_path: Path, compression: str
) -> None:
    raw = os.urandom(MiB // 2) + bytes(MiB)
    pack, suffix = PACK[compression]
    packed = pack(raw)
    media = f"application/vnd.automotive.disk.raw+{compression}"
    good = DiskFile(f"good.img{suffix}", packed, media, "boot_a", decompressed_size=len(raw))
    bad = DiskFile(f"bad.img{suffix}", packed, media, "root_a", decompressed_size=len(raw) - 1)
    artifact = push_board_disk(registry, f"pull/{compression}", [good, bad])
    site = disk_site(tmp_path, registry.host, artifact)
    out = tmp_path / "out"
    done = pull(site, out, "--decompress")
    assert_refused(done, 1, f"{out}/bad.img{suffix}: it decompresses to more than the "
                   f"{len(raw) - 1} bytes the index gives; the decompressed copy bad.img is not "
                   "kept")  # fmt: skip
    assert (out / "good.img").read_bytes() == raw
    assert not (out / "bad.img").exists()
    assert not (out / "bad.img.part").exists()


def test_a_tampered_version_document_is_refused_before_any_download(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    require_tools("ssh-keygen")
    key = make_key(tmp_path / "keys", "index")
    trust = allowed_signers(tmp_path / "allowed_signers", key)
    artifact = push_board_disk(registry, "pull/signed", small_files("signed"))
    with CountingProxy(registry.port) as proxy:
        site = disk_site(tmp_path, proxy.host, artifact, sign_key=key)
        assert pull(site, tmp_path / "ok", "--trust", str(trust)).code == 0
        document = site / "images/board/1.0.json"
        text = document.read_text()
        document.write_text(text.replace('"size":1048576', '"size":1048577'))
        (site / "images/board/1.0.json.gz").unlink(missing_ok=True)
        before = proxy.served
        done = pull(site, tmp_path / "out", "--trust", str(trust))
        assert_refused(done, 1, "images/board/1.0.json")
        assert "SHA256SUMS" in done.stderr
        assert proxy.served == before
    assert not (tmp_path / "out").exists()


def test_a_hostile_title_is_refused(registry: LocalRegistry, tmp_path: Path) -> None:
    artifact = push_board_disk(registry, "pull/title", small_files("title"))
    site = disk_site(tmp_path, registry.host, artifact)
    document = site / "images/board/1.0.json"
    document.write_text(document.read_text().replace('"root.img"', '"..\\u001b[2Jroot.img"'))
    done = pull(site, tmp_path / "out")
    assert_refused(done, 1, "board 1.0 (aarch64): the file title '..\\x1b[2Jroot.img' is not a "
                   "plain file name")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_full_disk_is_refused_before_the_first_byte(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs can be mounted here: {mounted.stderr.decode().strip()}")
    try:
        artifact = push_board_disk(registry, "pull/full", small_files("full"))
        site = disk_site(tmp_path, registry.host, artifact)
        done = pull(site, small / "out")
        assert_refused(done, 1, f"{small / 'out'}: the pull needs 1.0 MiB more and only ")
        assert "free some space or choose another folder with --out" in done.stderr
        assert list((small / "out").iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_an_index_whose_files_are_not_the_manifests_layers(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    artifact = push_board_disk(registry, "pull/layers", small_files("layers"))
    site = disk_site(tmp_path, registry.host, artifact)
    document = site / "images/board/1.0.json"
    document.write_text(document.read_text().replace('"size":1048576', '"size":1048575'))
    done = pull(site, tmp_path / "out")
    assert_refused(done, 1, f"{artifact.ref}: the manifest's layers are not the files the index "
                   "lists (manifest: sha256:")  # fmt: skip
    assert not (tmp_path / "out").exists()
