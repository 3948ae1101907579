"""Files: read without following links or blocking, written so a reader never sees half of one."""

from __future__ import annotations

import fcntl
import os
import re
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
    old file or the new one, never half of one. The temp file (`.NAME.XXXXXXXX.tmp`) is locked
    (`flock`) from its first instant until it has been renamed, so a later writer of the same
    target can tell it from one a killed writer left, and sweeps only the latter first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp_leftovers(path.parent, path.name)
    for attempt in range(2):
        fd, tmp = _new_temp(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
            os.fchmod(fd, 0o644)
            try:
                os.replace(tmp, path)  # still locked: never swept before it has its name
            except FileNotFoundError:
                # Another writer swept it in the instant between mkstemp and flock; a new one.
                if attempt:
                    raise
                continue
            return
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)


TEMP_SUFFIX = ".tmp"
# `.NAME.` and eight random hex digits (earlier releases: mkstemp's eight of [a-z0-9_]), `.tmp`.
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
_NEW_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _new_temp(path: Path) -> tuple[int, str]:
    """A new temp file beside `path` (mode 0600), where nothing had its name: a link put there
    is never followed. Not tempfile, which the reader's query path does not load."""
    while True:
        tmp = str(path.with_name(f".{path.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"))
        try:
            return os.open(tmp, _NEW_TEMP, 0o600), tmp
        except FileExistsError:
            continue


def _write_all(fd: int, data: bytes | bytearray) -> None:
    """os.write may write less than asked (a large buffer, a signal): write on until done."""
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])


def sweep_temp_leftovers(folder: Path, target: str | None = None) -> list[Path]:
    """Remove the temp files `atomic_write_bytes` left in `folder` when it was killed mid-write
    (of `target` only, when given); return what was removed.

    Only regular files named exactly as the writer names them, and only when no process holds
    their lock (a live writer holds it until the rename; the kernel drops it when the writer
    dies, however it dies). A link or a folder so named is left alone, never followed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name)
        if match is None or (target is not None and match["target"] != target):
            continue
        if entry.is_file(follow_symlinks=False) and _remove_if_unlocked(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _remove_if_unlocked(path: Path) -> bool:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False  # gone meanwhile, or a link put there meanwhile
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            return False  # renamed and replaced meanwhile: not the file that was locked
        path.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
