"""Builds into one `--out` take turns: an exclusive lock on a file beside it, never inside."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from image_catalog.build.outlock import lock_path, out_locked
from image_catalog.build.staging import SiteWriteError


def test_the_lock_file_is_beside_out(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "site") == tmp_path / ".site.lock"


def test_the_lock_excludes_a_second_holder_and_is_released(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "site"
    with out_locked(out):
        assert lock_path(out).is_file()  # its parent folders made
        assert not out.exists()
        fd = os.open(lock_path(out), os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(lock_path(out), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)
    assert lock_path(out).is_file()  # never removed: a second file would not exclude the first


def test_a_second_build_waits_for_the_first(tmp_path: Path) -> None:
    out = tmp_path / "site"
    order: list[str] = []
    holding, waiting = threading.Event(), threading.Event()

    def second() -> None:
        holding.wait()
        waiting.set()
        with out_locked(out):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with out_locked(out):
        holding.set()
        waiting.wait()
        thread.join(0.3)  # still waiting for the lock
        assert thread.is_alive()
        order.append("first")
    thread.join()
    assert order == ["first", "second"]


def test_a_lock_file_it_cannot_open_is_a_write_error(tmp_path: Path) -> None:
    out = tmp_path / "site"
    lock_path(out).symlink_to(tmp_path / "elsewhere")  # no link is followed
    with pytest.raises(SiteWriteError, match="cannot open its lock file"), out_locked(out):
        pass
