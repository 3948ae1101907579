"""A writer SIGKILLed in the middle of an atomic write leaves its `.NAME.XXXXXXXX.tmp` behind; the
next run that writes the same file sweeps it. A temp file a live writer still holds, a link or a
folder named like one, and another target's temp file are left alone.

The killed writer is the real `validate`, stopped inside its real cache write: after the bytes
went into the temp file and before the rename (its `os.replace` is made to block and say so).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from image_catalog.catalog.cache import CACHE_FOLDER
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.entries import write_document

DEADLINE = 60

# validate, blocked in its cache write (the temp file written and locked, not yet renamed).
_BLOCKED_WRITER = """
import os, sys, time
from pathlib import Path
ready = Path(sys.argv[1])
def blocked(source, target):
    ready.write_text("writing")
    time.sleep(3600)
os.replace = blocked
from image_catalog.cli import main
main(["validate", "--catalog", "catalog"])
"""


def _start_blocked_writer(root: Path, ready: Path) -> subprocess.Popen[bytes]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _BLOCKED_WRITER, str(ready)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The child says when it is inside the write: no guess of how long that takes.
        for _ in range(DEADLINE * 20):
            if ready.exists() or writer.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert ready.exists(), f"the writer never reached its cache write (exit {writer.poll()})"
    except BaseException:
        writer.kill()
        writer.wait()
        raise
    return writer


def _validate(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "image_catalog", "validate", "--catalog", "catalog"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_killed_writers_temp_file_is_swept_by_the_next_run_and_a_live_ones_is_not(
    tmp_path: Path,
) -> None:
    catalog = empty_catalog(tmp_path / "catalog", {"quay": registry_manifest("quay", "quay.io")})
    write_document(catalog, "demo", "1.0", image_document("demo", "1.0", fake_digest("demo")))
    cache = tmp_path / CACHE_FOLDER
    writer = _start_blocked_writer(tmp_path, tmp_path / "ready")
    try:
        [live] = _temps(cache)
        assert live.startswith(".facts-")
        # Another run meanwhile writes the same file, and leaves the live writer's temp alone.
        _validate(tmp_path)
        assert _temps(cache) == [live]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert _temps(cache) == [live]  # what a SIGKILL leaves
    target = live[1:].rsplit(".", 2)[0]
    # Named like temp files but not the writer's own: a link, a folder, another target's.
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (cache / f".{target}.linklink.tmp").symlink_to(victim)
    (cache / f".{target}.folderxx.tmp").mkdir()
    (cache / ".other.msgpack.01234567.tmp").write_text("not this target's")
    _validate(tmp_path)
    assert _temps(cache) == sorted(
        [f".{target}.linklink.tmp", f".{target}.folderxx.tmp", ".other.msgpack.01234567.tmp"]
    )
    assert victim.read_text() == "keep me"
    assert os.path.islink(cache / f".{target}.linklink.tmp")
