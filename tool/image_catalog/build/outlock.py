"""One build at a time into one `--out`.

A build reads the live site's SHA256SUMS early and trusts it until its own site is swapped in: it
keeps or links the live files that list names, by their hashes. A site swapped in by another build
meanwhile would have other bytes under those names, and the new site files that do not match its
SHA256SUMS (then signed). So builds into one `--out` take turns: each holds an exclusive lock
(`flock`) on a file beside it, `.NAME.lock`, from before it reads the live site until the new one is
in place and the replaced one kept (`spare.py`); a second build waits. The file is never removed:
two builds locking two files of one name would not exclude each other. The kernel drops the lock
of a build that dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from image_catalog.build.staging import SiteWriteError


def lock_path(out: Path) -> Path:
    """The lock file of builds into `out`: beside it, never inside the site."""
    return out.with_name(f".{out.name}.lock")


@contextlib.contextmanager
def out_locked(out: Path) -> Iterator[None]:
    """Hold the lock of builds into `out` for the block, waiting for another build to end."""
    path = lock_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise SiteWriteError(
            f"cannot write the site into {out}: cannot open its lock file {path}: "
            f"{exc.strerror or exc}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # which releases the lock
