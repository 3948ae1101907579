"""Storing a site's files in a staging folder, each with its sha256 and (when large) its .gz.

A file whose bytes the previous site has is linked from it (`PreviousSite`), not written nor
compressed again, so it keeps the previous modification time; any other is created anew, never
written into, since an earlier site being updated shares its unchanged files' inodes with the live
one. Nothing is followed: a link or FIFO put in a file's place in the live site is never taken in.
The .gz bytes depend only on the file (mtime 0, no name), so the same input gives the same bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from stat import S_ISDIR, S_ISREG

GZIP_MIN_BYTES = 4096


@dataclass(frozen=True)
class PreviousSite:
    """The site being replaced, and the sha256 of each of its files; and those of the files the
    folder being written holds already (`here`, empty unless it holds an earlier site)."""

    root: str  # ending in a slash, as every `root` below
    sums: dict[str, str]
    here: dict[str, str]

    def keep_pair(
        self, root: str, relative: str, sha256: str, size: int, gz_size: int | None
    ) -> list[tuple[str, str, int]] | None:
        """Keep or link the previous copy of a file the previous site holds with this sha256,
        and of its .gz when large (`gz_size`: that one's size, if known); (path, sha256, size)
        of each, or None when the previous site cannot give them: the file is then left out."""
        packed = f"{relative}.gz"
        gz = self.sums.get(packed) if size >= GZIP_MIN_BYTES else None
        if size >= GZIP_MIN_BYTES and gz is None:
            return None
        here = self.here
        kept = here.get(relative) == sha256 and (gz is None or here.get(packed) == gz)
        if not kept and self.link(root, relative, sha256, size) is None:
            return None
        rows = [(relative, sha256, size)]
        if gz is not None:
            found = self.link(root, packed, gz, gz_size)
            if found is None:
                # Not left half-done: `write` then starts from a folder without the file.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(root + relative)
                return None
            rows.append((packed, gz, found))
        return rows

    def link(self, root: str, relative: str, digest: str, size: int | None = None) -> int | None:
        """Keep or link the previous copy of `relative` if it has these bytes; its size (`size`
        when known), or None."""
        if self.sums.get(relative) != digest:
            return None
        path = root + relative
        try:
            if relative in self.here:
                if self.here[relative] == digest:
                    # The same bytes as live, and its mtime.
                    return size if size is not None else os.stat(path).st_size
                os.unlink(path)
            # Not a link followed: whoever can write the live site may have put a symbolic link
            # (to a key, to /dev/zero) or a FIFO in a file's place, which must not become part of
            # the new site. What was linked is checked: a regular file of the size expected.
            os.link(self.root + relative, path, follow_symlinks=False)
            info = os.lstat(path)
            if not S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
                os.unlink(path)
                return None
            return info.st_size
        except OSError:
            return None  # gone, another file system, links not allowed: write it instead


# A file to write: relative path, bytes, sha256 if known, what gives its .gz if made elsewhere.
Item = tuple[str, bytes, str | None, Callable[[], bytes] | None]


def store_all(
    root: str, batch: list[Item], previous: PreviousSite | None
) -> list[tuple[str, str, int]]:
    """`store_file` each item of the batch, in a writer thread."""
    return [
        row
        for relative, data, known, packed in batch
        for row in store_file(root, relative, data, previous, known, packed)
    ]


def gzip_bytes(data: bytes) -> bytes:
    """The .gz of a file's bytes: mtime=0 and no file name in the header, so the same input
    gives the same bytes."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def _gzip(data: bytes, packed: Callable[[], bytes] | None) -> bytes:
    return packed() if packed is not None else gzip_bytes(data)


def store_file(
    root: str,
    relative: str,
    data: bytes,
    previous: PreviousSite | None,
    known: str | None = None,
    packed: Callable[[], bytes] | None = None,
) -> list[tuple[str, str, int]]:
    """Write one file, and its .gz when large; (path, sha256, size) of each.

    `known` is the sha256 of `data` if already known; `packed` gives its .gz if made elsewhere.
    A size below zero (-size - 1) marks a file linked from the previous site.
    """
    digest = known if known is not None else hashlib.sha256(data).hexdigest()
    big = len(data) >= GZIP_MIN_BYTES
    if previous is not None and previous.link(root, relative, digest, len(data)) is not None:
        linked = [(relative, digest, -len(data) - 1)]
        gz_path = f"{relative}.gz"
        gz_digest = previous.sums.get(gz_path)
        if not big:
            return linked
        if gz_digest is not None:
            size = previous.link(root, gz_path, gz_digest)
            if size is not None:
                return [*linked, (gz_path, gz_digest, -size - 1)]
        files = [(f"{relative}.gz", _gzip(data, packed))]
        return [*linked, *write_files(root, files, bool(previous.here))]
    files = [(relative, data)]
    if big:
        files.append((f"{relative}.gz", _gzip(data, packed)))
    return write_files(root, files, previous is not None and bool(previous.here))


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def write_files(
    root: str, files: list[tuple[str, bytes]], replace: bool = False
) -> list[tuple[str, str, int]]:
    """Create each file; with `replace`, whatever is at its path is removed first (it may be a
    link to the live site's file, which must stay as it is)."""
    written = []
    for path, content in files:
        if replace:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root + path)
        # Plain system calls: a file object would ask whether it is a terminal and where it is.
        fd = os.open(root + path, _NEW, 0o666)
        try:
            done = 0
            while done < len(content):
                done += os.write(fd, content[done:] if done else content)
        finally:
            os.close(fd)
        written.append((path, hashlib.sha256(content).hexdigest(), len(content)))
    return written


def real_folders(root: str, here: dict[str, str]) -> bool:
    """Whether every folder the files of `here` are in (and each above it) is a folder, not a
    link, under `root`."""
    folders = {relative.rpartition("/")[0] for relative in here}
    steps = {folder[:i] for folder in folders for i, c in enumerate(folder + "/") if c == "/"}
    steps.discard("")
    try:
        return all(S_ISDIR(os.lstat(root + step).st_mode) for step in steps)
    except OSError:
        return False
