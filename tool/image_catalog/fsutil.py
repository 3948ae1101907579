"""Files: read without following links or blocking, written so a reader never sees half of one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


# A file status (size, mtime, ctime, inode) this close to when it was read may not show a change
# made in the same tick of the file system's clock (as git's "racily clean" entries): a file
# known by such a status is read again next time. Two seconds cover the coarsest clocks (FAT).
RACY_NS = 2_000_000_000


class NotAFile(Exception):
    """A path that is not a regular file of a bounded size: a link, a device, a FIFO, too big."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def read_regular_file(path: Path, limit: int, follow_links: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; `NotAFile` for anything else.

    A catalog comes from pull requests, and git stores symbolic links: one to /dev/zero has a
    size of 0 and never ends, a FIFO blocks the reader forever. So the file is opened without
    following a link and without blocking, checked with fstat on the open descriptor (no race
    with a rename), and read no further than the limit. OSError passes through.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:  # files outside the catalog (a mounted token) may be links
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise NotAFile(link_message(path)) from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise NotAFile(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise NotAFile(f"file is {info.st_size} bytes; the limit is {limit} bytes")
        # The size fstat gave, and one byte more, in one read: a regular file gives it whole (an
        # index of 20 MB in one read and no copy); a file that grows is read on to the limit.
        chunks = [os.read(fd, min(info.st_size, limit) + 1)]
        total = len(chunks[0])
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        raise NotAFile(f"file grew past the limit of {limit} bytes while it was read")
    return data


def link_message(path: Path) -> str:
    """What is wrong with a symbolic link met where a catalog file or folder belongs."""
    try:
        target = f" to {os.readlink(path)!r}"
    except OSError:
        target = ""
    return f"is a symbolic link{target}; links are not followed: put the file or folder itself here"


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes | bytearray, *, durable: bool = True) -> None:
    """Write to a temp file in the same folder, then rename it over the target.

    durable=False skips the fsync, for files a crash may lose (a cache): readers still see the
    old file or the new one, never half of one.
    """
    import tempfile  # the reader's path writes only its cache, and only over HTTP

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
