"""Scratch folders that a killed process does not leave behind for good.

A scratch folder is locked (`flock` on the folder itself) by the process that made it, for as long
as that process lives; the kernel drops the lock when it dies, however it dies. Before making a new
one, a command removes the folders of the same kind whose lock nobody holds: only folders with its
own prefix, owned by the same user, and only when their owner is gone (a lock held by another live
process, in any PID namespace, keeps its folder safe).

A folder is locked from birth: it is made under a claim name (`PREFIX*.claim`), locked, then
renamed to its working name, so a sweep never mistakes a folder being born for a stale one. A claim
left by a kill in that very instant is swept once it is an hour old.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_CLAIM = ".claim"
_CLAIM_GRACE = 3600.0


@dataclass
class Scratch:
    """A locked scratch folder; `release` unlocks it (after it was removed or renamed)."""

    path: Path
    _fd: int

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def make_scratch(parent: Path, prefix: str) -> Scratch:
    """A new folder `parent/PREFIX*` (mode 0700), locked by this process; stale ones are removed."""
    sweep_stale(parent, prefix)
    claim = Path(tempfile.mkdtemp(prefix=prefix, suffix=_CLAIM, dir=parent))
    fd = os.open(claim, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = claim.with_name(claim.name.removesuffix(_CLAIM))
        os.rename(claim, path)
    except BaseException:
        os.close(fd)
        shutil.rmtree(claim, ignore_errors=True)
        raise
    return Scratch(path, fd)


@contextlib.contextmanager
def scratch_dir(parent: Path | None, prefix: str) -> Iterator[Path]:
    """A scratch folder for the block, removed after it."""
    scratch = make_scratch(Path(parent or tempfile.gettempdir()), prefix)
    try:
        yield scratch.path
    finally:
        shutil.rmtree(scratch.path, ignore_errors=True)
        scratch.release()


def sweep_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove this user's `parent/PREFIX*` folders whose owner is gone; return what was removed."""
    removed: list[Path] = []
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return removed
    for name in names:
        if name.startswith(prefix) and _remove_if_stale(parent / name):
            removed.append(parent / name)
    return removed


def _remove_if_stale(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False  # a symlink, a file, or somebody else's: never ours to remove
    if path.name.endswith(_CLAIM) and time.time() - info.st_mtime < _CLAIM_GRACE:
        return False  # being born right now, most likely
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its owner is alive
        if os.fstat(fd).st_ino != info.st_ino:
            return False  # replaced meanwhile
        shutil.rmtree(path, ignore_errors=True)
        return not os.path.lexists(path)
    finally:
        os.close(fd)
