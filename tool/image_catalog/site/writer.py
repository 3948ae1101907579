"""Writing a site folder so that no reader and no failed build ever sees half of one.

Files are written into a staging folder next to the target, each with its sha256 (collected into
SHA256SUMS) and, when large, a deterministic .gz beside it; the staging folder then replaces the
target in one rename. Unchanged files keep the previous site's mtime, so Last-Modified and
mtime-based ETags stay valid across rebuilds.
"""

from __future__ import annotations

import ctypes
import errno
import gzip
import hashlib
import os
import shutil
import sys
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SUMS_FILE = "SHA256SUMS"
GZIP_MIN_BYTES = 4096
_WRITERS = 4
_IN_FLIGHT = 256
_BATCH = 32  # files per job: one job per file costs the main thread more than the writing


class SiteWriter:
    """Writes files under the staging folder, each with its hash and (when large) its .gz.

    Creating files, compressing and hashing release the GIL, so a few threads do them while the
    main thread encodes the next documents; at most _IN_FLIGHT files wait in memory.
    """

    def __init__(self, root: Path, previous: Path | None = None) -> None:
        self.root = root
        self._root = os.path.join(root, "")  # plain strings in the loops: Path costs too much
        # A file whose bytes the previous site already has is linked from it: not written nor
        # compressed again, and its modification time is the previous one.
        self._reuse = (
            _Previous(os.path.join(previous, ""), _read_sums(previous / SUMS_FILE))
            if previous
            else None
        )
        self.reused = 0
        self._linked: set[str] = set()  # share the previous file's inode, hence its mtime
        self.sums: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self._folders: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="site-writer")
        self._pending: deque[Future[list[tuple[str, str, int]]]] = deque()
        self._batch: list[tuple[str, bytes, str | None]] = []

    def __enter__(self) -> SiteWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        # Wait for the threads even on failure, so nothing writes into a folder being removed.
        self._pool.shutdown(wait=True, cancel_futures=kind is not None)

    @property
    def files(self) -> int:
        return len(self.sums)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def folders(self, folders: Iterable[str]) -> None:
        """Create these folders now, before the threads write, rather than one by one later."""
        for folder in folders:
            if folder not in self._folders:
                os.makedirs(self._root + folder, exist_ok=True)
                self._folders.add(folder)

    def write(self, relative: str, data: bytes, sha256: str | None = None) -> None:
        """Queue one file: `data` (UTF-8 JSON) and a final newline; `sha256`, that file's hash
        when the caller knows it already (it is not computed again)."""
        folder = relative.rpartition("/")[0]
        if folder and folder not in self._folders:
            os.makedirs(self._root + folder, exist_ok=True)
            self._folders.add(folder)
        self._batch.append((relative, data + b"\n", sha256))
        if len(self._batch) >= _BATCH:
            self._submit()

    def _submit(self) -> None:
        batch, self._batch = self._batch, []
        self._pending.append(self._pool.submit(_store_all, self._root, batch, self._reuse))
        if len(self._pending) > _IN_FLIGHT // _BATCH:
            self._collect(self._pending.popleft())

    def _collect(self, future: Future[list[tuple[str, str, int]]]) -> None:
        for relative, digest, size in future.result():
            if size < 0:  # linked from the previous site
                self.reused += 1
                self._linked.add(relative)
                size = -size - 1
            self.sums[relative] = digest
            self.sizes[relative] = size

    def finish(self, previous: Path, header: str | None = None) -> None:
        """Write SHA256SUMS (after `header`, a '#' line), and keep the mtime of every file the
        previous site had unchanged."""
        if self._batch:
            self._submit()
        while self._pending:
            self._collect(self._pending.popleft())
        text = "".join(f"{digest}  {path}\n" for path, digest in sorted(self.sums.items()))
        if header is not None:
            text = f"{header}\n{text}"
        data = text.encode("utf-8")
        (self.root / SUMS_FILE).write_bytes(data)
        self.sums[SUMS_FILE] = hashlib.sha256(data).hexdigest()
        self.sizes[SUMS_FILE] = len(data)
        if self._reuse is not None and self._reuse.root == os.path.join(previous, ""):
            old, before = self._reuse.sums, self._reuse.root
        else:
            old, before = _read_sums(previous / SUMS_FILE), os.path.join(previous, "")
        for relative, digest in self.sums.items():
            if relative not in self._linked and old.get(relative) == digest:
                try:
                    stat = os.stat(before + relative)
                except FileNotFoundError:
                    continue
                os.utime(self._root + relative, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@dataclass(frozen=True)
class _Previous:
    """The site being replaced, and the sha256 of each of its files."""

    root: str  # ending in a slash, as every `root` below
    sums: dict[str, str]

    def link(self, root: str, relative: str, digest: str) -> int | None:
        """Link the previous copy of `relative` if it has these bytes; its size, or None."""
        if self.sums.get(relative) != digest:
            return None
        try:
            os.link(self.root + relative, root + relative)
            return os.stat(root + relative).st_size
        except OSError:
            return None  # gone, another file system, links not allowed: write it instead


def _store_all(
    root: str, batch: list[tuple[str, bytes, str | None]], previous: _Previous | None
) -> list[tuple[str, str, int]]:
    """`_store` each (relative path, data, sha256 if known) of the batch."""
    return [
        row
        for relative, data, known in batch
        for row in _store(root, relative, data, previous, known)
    ]


def _store(
    root: str, relative: str, data: bytes, previous: _Previous | None, known: str | None = None
) -> list[tuple[str, str, int]]:
    """Write one file, and its .gz when large; (path, sha256, size) of each.

    `known` is the sha256 of `data` if already known. A size below zero (-size - 1) marks a file
    linked from the previous site.
    """
    digest = known if known is not None else hashlib.sha256(data).hexdigest()
    big = len(data) >= GZIP_MIN_BYTES
    if previous is not None and previous.link(root, relative, digest) is not None:
        linked = [(relative, digest, -len(data) - 1)]
        packed = f"{relative}.gz"
        gz_digest = previous.sums.get(packed)
        if not big:
            return linked
        if gz_digest is not None:
            size = previous.link(root, packed, gz_digest)
            if size is not None:
                return [*linked, (packed, gz_digest, -size - 1)]
        files = [(packed, gzip.compress(data, compresslevel=6, mtime=0))]
        return [*linked, *_write(root, files)]
    files = [(relative, data)]
    if big:
        # mtime=0 and no file name in the header: the same input gives the same bytes.
        files.append((f"{relative}.gz", gzip.compress(data, compresslevel=6, mtime=0)))
    return _write(root, files)


def _write(root: str, files: list[tuple[str, bytes]]) -> list[tuple[str, str, int]]:
    written = []
    for path, content in files:
        with open(root + path, "wb") as stream:
            stream.write(content)
        written.append((path, hashlib.sha256(content).hexdigest(), len(content)))
    return written


def _read_sums(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return {}
    sums = {}
    for line in lines:
        if line.startswith("#"):
            continue  # the catalog commit line, which sha256sum skips too
        digest, _, relative = line.partition("  ")
        sums[relative] = digest
    return sums


def swap_in(staging: Path, out: Path) -> None:
    """Put the staged site at `out`; the previous one (if any) is removed afterwards."""
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return  # `staging` now holds the previous site; the caller removes it
    # No atomic exchange on this system: two renames, and put the old site back if the second fails.
    old = staging.with_name(staging.name + ".previous")
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step with Linux renameat2(RENAME_EXCHANGE); False if unsupported.

    With it, a web server serving `out` never sees a moment without a site.
    """
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))
