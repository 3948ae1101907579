"""Hostile inputs to a re-run of `image-catalog pull` and to `pull --container`: a `.pull-state`
that lies, is garbled or is a link to an endless device (all the same as no state: every file is
hashed, a wrong one fetched again), and a container copy that cannot be made (the image is not
in the registry: exit 4; no skopeo: exit 1). Each refusal ends in its exact exit code and
message, run confined (`run_confined`, `assert_refused`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.confined import assert_refused, run_confined
from support.containers import container_site
from support.oci import push_image
from support.pulling import (
    BOARD,
    disk_site,
    isolate_credentials,
    pull,
    push_board_disk,
    small_files,
)
from support.registry import LocalRegistry

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("isolated_reader", "own_home")]


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_credentials(monkeypatch, tmp_path)


def lying_state(out: Path) -> bytes:
    """A state that vouches for every file as it is now, recorded long after its last change:
    trusted by its status alone if the status still matched."""
    state = json.loads((out / ".pull-state").read_bytes())
    for title, record in state["files"].items():
        info = (out / title).stat()
        record.update(size=info.st_size, mtimeNs=info.st_mtime_ns, ctimeNs=info.st_ctime_ns,
                      inode=info.st_ino, recordedNs=info.st_mtime_ns + 10**12)  # fmt: skip
    return json.dumps(state).encode()


@pytest.mark.parametrize("kind", ["lies", "garbled", "endless", "huge"])
def test_a_hostile_state_is_no_state(registry: LocalRegistry, tmp_path: Path, kind: str) -> None:
    files = small_files(f"state-{kind}")
    site = disk_site(tmp_path, registry.host, push_board_disk(registry, f"pull/st-{kind}", files))
    out = tmp_path / "out"
    assert pull(site, out).code == 0
    root = out / "root.img"
    state = out / ".pull-state"
    if kind == "lies":
        # The bytes change after the record, then the record is forged to match the new status:
        # a status is trusted only for the sha256 the index wants, so the lie still gets caught
        # when the status moves (here: the file is rewritten after the forgery).
        state.write_bytes(lying_state(out))
        root.write_bytes(bytes(root.stat().st_size))
    elif kind == "garbled":
        state.write_bytes(b'{"files": {"root.img": {"sha256": 7}}}')
        root.write_bytes(bytes(root.stat().st_size))
    elif kind == "endless":
        state.unlink()
        state.symlink_to("/dev/zero")
        root.write_bytes(bytes(root.stat().st_size))
    else:
        state.write_bytes(b" " * (2 << 20))
        os.utime(root, ns=(0, 0))  # a new status, same bytes: hashed, found right, kept
    done = pull(site, out)
    assert done.code == 0, done.output
    assert root.read_bytes() == files[1].data
    assert "bytes already on disk read again to verify them" in done.stdout


def test_a_container_not_in_the_registry_is_unavailable(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    image = push_image(registry, "pull/app-gone", None, architecture="arm64")
    missing = image.ref.rpartition("@")[0] + "@sha256:" + "0" * 64
    site = container_site(tmp_path, image, ref=missing)
    done = run_confined(["pull", "app@1.0", "--target", BOARD, "--index", str(site),
                         "--out", str(tmp_path / "out"), "--container", "--tls-verify=false"],
                        timeout=120)  # fmt: skip
    assert_refused(done, 4, f"app 1.0 ({missing}): skopeo could not copy it: ")


def test_a_container_copy_without_skopeo_says_how_to_install_it(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    image = push_image(registry, "pull/app-noskopeo", None, architecture="arm64")
    site = container_site(tmp_path, image)
    done = run_confined(["pull", "app@1.0", "--target", BOARD, "--index", str(site),
                         "--out", str(tmp_path / "out"), "--container"],
                        env={"PATH": str(tmp_path / "empty")})  # fmt: skip
    assert_refused(done, 1, f"app 1.0 ({image.ref}): copying a container image needs skopeo: "
                   "install skopeo (dnf install skopeo, apt install skopeo)")  # fmt: skip
