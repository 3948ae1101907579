"""`image-catalog pull` against a real loopback registry, with disk images pushed as the build
operator pushes them and a real site: anonymous and basic-auth registries, verification, resume,
reuse, decompression, the signed index, and the ways a pull is refused.

Every pull runs as a child process (`run_confined`): under a memory limit, a timeout, and checked
for tracebacks and raw control characters. A `CountingProxy` in front of the registry counts what
the registry served, so the tests can say what a pull transferred.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from support.confined import assert_refused, run_confined
from support.keys import allowed_signers, make_key
from support.oci import DiskFile
from support.pulling import BOARD, CountingProxy, disk_site, push_board_disk
from support.registry import REGISTRY_PASSWORD, LocalRegistry, require_tools, write_authfile
from support.site import add_image, new_catalog

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]

MiB = 1 << 20


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No auth file of the user's: HOME and the runtime folder are the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return home


def small_files(seed: str) -> list[DiskFile]:
    boot = gzip.compress(f"boot of {seed}".encode() * 100, mtime=0)
    root = os.urandom(MiB)
    return [
        DiskFile("boot.img.gz", boot, partition="boot_a", decompressed_size=len(seed) + 8),
        DiskFile("root.img", root, media_type="application/vnd.automotive.disk.raw",
                 partition="root_a"),
    ]  # fmt: skip


def pull(site: Path, out: Path, *options: str, timeout: float = 60) -> object:
    args = ["pull", "board@1.0", "--target", BOARD, "--index", str(site), "--out", str(out)]
    return run_confined([*args, *options], timeout=timeout)


def test_anonymous_pull_then_nothing_again(registry: LocalRegistry, tmp_path: Path) -> None:
    files = small_files("anon")
    with CountingProxy(registry.host) as proxy:
        artifact = push_board_disk(registry, "pull/anon", files)
        site = disk_site(tmp_path, proxy.host, artifact)
        out = tmp_path / "out"
        done = run_confined(["pull", "board", "--target", BOARD, "--index", str(site),
                             "--out", str(out), "--json"])  # fmt: skip
        assert done.code == 0, done.output
        assert proxy.served > MiB
        layout = json.loads(done.stdout)
        assert [f["file"] for f in layout["files"]] == ["boot.img.gz", "root.img"]
        assert [f["partition"] for f in layout["files"]] == ["boot_a", "root_a"]
        assert layout["ref"] == artifact.ref.replace(registry.host, proxy.host)
        assert json.loads((out / "pull.json").read_text()) == layout
        assert (out / "root.img").read_bytes() == files[1].data
        assert not list(out.glob("*.part"))
        require_tools("sha256sum")
        checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out,
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr

        before = proxy.served
        again = pull(site, out)
        assert again.code == 0, again.output
        assert "0 bytes transferred, 2 already in place" in again.stdout
        assert proxy.served - before < 8192  # the manifest, nothing of the files


def test_basic_auth_with_the_consumers_auth_file(
    auth_registry: LocalRegistry, tmp_path: Path, own_home: Path
) -> None:
    artifact = push_board_disk(auth_registry, "pull/basic", small_files("basic"))
    site = disk_site(tmp_path, auth_registry.host, artifact)
    assert auth_registry.username is not None

    anonymous = pull(site, tmp_path / "none")
    assert_refused(anonymous, 4, f"{auth_registry.host} asks for credentials to pull pull/basic;")
    assert not (tmp_path / "none" / "root.img").exists()

    wrong = write_authfile(tmp_path / "wrong.json", auth_registry.host, "serviceaccount", "nope")
    refused = pull(site, tmp_path / "wrong", "--authfile", str(wrong))
    assert_refused(refused, 4, f"refused the credentials to pull pull/basic (HTTP 401) "
                   f"(credentials from {wrong})")  # fmt: skip

    # Where podman keeps them: found without --authfile.
    podman = own_home / ".config" / "containers"
    podman.mkdir(parents=True)
    write_authfile(podman / "auth.json", auth_registry.host, "serviceaccount", REGISTRY_PASSWORD)
    done = pull(site, tmp_path / "out")
    assert done.code == 0, done.output
    assert REGISTRY_PASSWORD not in done.output
    assert (tmp_path / "out" / "boot.img.gz").is_file()


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


def blob_file(registry: LocalRegistry, digest: str) -> Path:
    hexa = digest.removeprefix("sha256:")
    return registry.storage_dir / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"


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


@pytest.fixture
def big(registry: LocalRegistry, tmp_path: Path) -> Iterator[tuple[Path, bytes, CountingProxy]]:
    """A 24 MiB file behind a proxy slowed to 6 MiB/s: a pull takes about 4 s."""
    data = os.urandom(24 * MiB)
    files = [DiskFile("disk.raw", data, media_type="application/vnd.automotive.disk.raw")]
    artifact = push_board_disk(registry, "pull/big", files)
    with CountingProxy(registry.host, rate=6 * MiB) as proxy:
        yield disk_site(tmp_path, proxy.host, artifact), data, proxy


def start_pull(site: Path, out: Path) -> subprocess.Popen[bytes]:
    args = ["pull", "board@1.0", "--target", BOARD, "--index", str(site), "--out", str(out)]
    return subprocess.Popen([sys.executable, "-m", "image_catalog", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_for_part(part: Path, size: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size >= size):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the pull did not start"
        time.sleep(0.05)


def test_an_interrupted_pull_resumes_with_what_was_missing(
    big: tuple[Path, bytes, CountingProxy], tmp_path: Path
) -> None:
    site, data, proxy = big
    out = tmp_path / "out"
    child = start_pull(site, out)
    wait_for_part(out / "disk.raw.part", 6 * MiB, child)
    child.kill()
    child.communicate()
    kept = (out / "disk.raw.part").stat().st_size
    assert 0 < kept < len(data)
    before = proxy.served
    done = pull(site, out)
    assert done.code == 0, done.output
    assert f"resuming at {kept}" in done.stderr
    assert f"{len(data) - kept} bytes transferred" in done.stdout
    assert proxy.served - before <= len(data) - kept + 16384  # plus the manifest and headers
    assert (out / "disk.raw").read_bytes() == data


def test_sigterm_keeps_the_part_and_exits_143(
    big: tuple[Path, bytes, CountingProxy], tmp_path: Path
) -> None:
    site, _, _ = big
    out = tmp_path / "out"
    child = start_pull(site, out)
    wait_for_part(out / "disk.raw.part", 3 * MiB, child)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 143, err
    assert b"Traceback" not in err
    assert (out / "disk.raw.part").stat().st_size > 0
    assert not (out / "disk.raw").exists()


def test_a_registry_that_vanishes_mid_file(own_registry: LocalRegistry, tmp_path: Path) -> None:
    data = os.urandom(24 * MiB)
    files = [DiskFile("disk.raw", data, media_type="application/vnd.automotive.disk.raw")]
    artifact = push_board_disk(own_registry, "pull/vanish", files)
    with CountingProxy(own_registry.host, rate=6 * MiB) as proxy:
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


@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_decompress_checks_the_decompressed_size(
    registry: LocalRegistry, tmp_path: Path, compression: str
) -> None:
    raw = os.urandom(MiB // 2) + bytes(MiB)
    packed = gzip.compress(raw, mtime=0) if compression == "gzip" else lzma.compress(raw)
    suffix = ".gz" if compression == "gzip" else ".xz"
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
    with CountingProxy(registry.host) as proxy:
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


def test_a_container_only_version_says_how_to_fetch_it(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "catalog")
    add_image(catalog, "app", "1.0", "2026-01-01T00:00:00Z", architectures=("aarch64",),
              targets=(BOARD,))  # fmt: skip
    build_from_scratch(catalog, tmp_path / "site")
    done = run_confined(["pull", "app@1.0", "--target", BOARD, "--index", str(tmp_path / "site")])
    assert_refused(done, 1, "app 1.0 has no disk image for ridesx4; it has a container image:")
    assert (
        "fetch it with: skopeo copy docker://images.example.com/builds/app@sha256:" in done.stderr
    )


def test_the_gates(registry: LocalRegistry, tmp_path: Path) -> None:
    artifact = push_board_disk(registry, "pull/gates", small_files("gates"))
    deprecated = {"reason": "broken boot", "date": "2026-02-01"}
    site = disk_site(tmp_path, registry.host, artifact, lifecycle={"deprecated": deprecated})
    done = pull(site, tmp_path / "out")
    assert_refused(done, 1, "board 1.0 is deprecated (broken boot); pass "
                   "--allow-deprecated to pull it anyway")  # fmt: skip
    allowed = pull(site, tmp_path / "out", "--allow-deprecated")
    assert allowed.code == 0, allowed.output
    assert "warning: board 1.0 is deprecated" in allowed.stderr
