"""`image-catalog pull` against a real loopback registry, with disk images pushed as the build
operator pushes them and a real site: anonymous and basic-auth registries, verification, resume,
reuse, decompression, the signed index, and the ways a pull is refused.

Every pull runs as a child process (`run_confined`): under a memory limit, a timeout, and checked
for tracebacks and raw control characters. A `CountingProxy` in front of the registry counts what
the registry served, so the tests can say what a pull transferred.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from support.confined import assert_refused, run_confined
from support.containers import container_site
from support.counting import CountingProxy
from support.oci import DiskFile, push_image
from support.pulling import (
    BOARD,
    disk_site,
    isolate_credentials,
    pull,
    push_board_disk,
    small_files,
    start_pull,
    wait_for_part,
)
from support.registry import REGISTRY_PASSWORD, LocalRegistry, require_tools, write_authfile
from support.site import add_image, new_catalog

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]

MiB = 1 << 20


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_credentials(monkeypatch, tmp_path)


def test_anonymous_pull_then_nothing_again(registry: LocalRegistry, tmp_path: Path) -> None:
    files = small_files("anon")
    with CountingProxy(registry.port) as proxy:
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
        formatted = run_confined(["pull", "board", "--target", BOARD, "--index", str(site),
                                  "--out", str(out), "--format", "json"])  # fmt: skip
        assert formatted.code == 0, formatted.output
        assert json.loads(formatted.stdout) == layout
        assert proxy.served - before < 8192  # the manifest, nothing of the files
        before = proxy.served
        again = pull(site, out)
        assert again.code == 0, again.output
        assert "0 bytes transferred, 2 already in place" in again.stdout
        assert proxy.served - before < 8192  # the manifest, nothing of the files


def test_files_in_place_are_known_by_their_recorded_status(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    files = small_files("state")
    with CountingProxy(registry.port) as proxy:
        artifact = push_board_disk(registry, "pull/state", files)
        site = disk_site(tmp_path, proxy.host, artifact)
        out = tmp_path / "out"
        assert pull(site, out, "--decompress").code == 0
        assert (out / ".pull-state").is_file()
        # Recorded within RACY_NS of their writing: the next pull hashes them and records them
        # anew, old enough then to be trusted.
        time.sleep(2.2)
        again = pull(site, out, "--decompress")
        assert again.code == 0, again.output
        assert "bytes already on disk read again to verify them" in again.stdout
        before = proxy.served
        third = pull(site, out, "--decompress")
        assert third.code == 0, third.output
        assert "2 already in place (2 verified by their recorded status)" in third.stdout
        assert "read again" not in third.stdout
        assert proxy.served - before < 8192  # the manifest, nothing of the files

        # Changed in place, same size, a new mtime: hashed, found wrong, fetched again.
        root = out / "root.img"
        root.write_bytes(bytes(len(files[1].data)))
        changed = pull(site, out, "--decompress")
        assert changed.code == 0, changed.output
        assert f"{len(files[1].data)} bytes transferred, 1 already in place" in changed.stdout
        assert root.read_bytes() == files[1].data


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


@pytest.fixture
def big(registry: LocalRegistry, tmp_path: Path) -> Iterator[tuple[Path, bytes, CountingProxy]]:
    """A 24 MiB file behind a proxy slowed to 6 MiB/s: a pull takes about 4 s."""
    data = os.urandom(24 * MiB)
    files = [DiskFile("disk.raw", data, media_type="application/vnd.automotive.disk.raw")]
    artifact = push_board_disk(registry, "pull/big", files)
    with CountingProxy(registry.port, rate=6 * MiB) as proxy:
        yield disk_site(tmp_path, proxy.host, artifact), data, proxy


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


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_keeps_the_part(
    big: tuple[Path, bytes, CountingProxy], tmp_path: Path, sent: signal.Signals, code: int
) -> None:
    site, _, _ = big
    out = tmp_path / "out"
    child = start_pull(site, out)
    wait_for_part(out / "disk.raw.part", 3 * MiB, child)
    child.send_signal(sent)
    _, err = child.communicate(timeout=30)
    assert child.returncode == code, err
    assert b"Traceback" not in err
    assert (out / "disk.raw.part").stat().st_size > 0
    assert not (out / "disk.raw").exists()


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


def test_a_container_only_version_is_copied_with_container(
    auth_registry: LocalRegistry, tmp_path: Path, own_home: Path
) -> None:
    image = push_image(auth_registry, "pull/app", None, architecture="arm64")
    site = container_site(tmp_path, image)
    authfile = write_authfile(tmp_path / "auth.json", auth_registry.host, "serviceaccount",
                              REGISTRY_PASSWORD)  # fmt: skip
    out = tmp_path / "out"
    done = run_confined(["pull", "app@1.0", "--target", BOARD, "--index", str(site),
                         "--out", str(out), "--container", "--tls-verify=false",
                         "--authfile", str(authfile)], timeout=120)  # fmt: skip
    assert done.code == 0, done.output
    assert f"into {out / 'app'} (an OCI image layout): oci:{out / 'app'}:1.0" in done.stdout
    index = json.loads((out / "app" / "index.json").read_text())
    [manifest] = index["manifests"]
    assert manifest["digest"] == image.digest
    assert manifest["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    assert REGISTRY_PASSWORD not in done.output


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
