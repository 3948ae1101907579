"""Writing a site folder so that no reader and no failed build ever sees half of one.

Files are written into a staging folder next to the target, each with its sha256 (collected into
SHA256SUMS) and, when large, a deterministic .gz beside it; the staging folder then replaces the
target in one rename. Unchanged files keep the previous site's mtime, so Last-Modified and
mtime-based ETags stay valid across rebuilds.

The staging folder is either empty or an earlier site being brought up to date (`spare.py`): a file
it already holds with the right bytes, which the live site holds with the same bytes too, is kept;
one the live site has is linked from it; any other is written. A file is never written into: it is
removed and created again, because the earlier site shares its unchanged files' inodes with the
live one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gzip
import hashlib
import os
import shutil
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISREG

from image_catalog.site.sums import SIGNATURE_FILE, SUMS_FILE, format_sums, read_sums_file

GZIP_MIN_BYTES = 4096
_WRITERS = 4
# Jobs and bytes that may wait for the threads before the main thread waits for the oldest: a
# few large files (index.json, views) are hashed and compressed while it goes on.
_IN_FLIGHT_JOBS = 64
_IN_FLIGHT_BYTES = 128 << 20
_BATCH = 32  # files per job: one job per file costs the main thread more than the writing
_ALONE = 1 << 20  # a file this large starts its job at once, not after 31 more files


class SiteWriter:
    """Writes files under the staging folder, each with its hash and (when large) its .gz.

    Creating files, compressing and hashing release the GIL, so a few threads do them while the
    main thread encodes the next documents; at most _IN_FLIGHT_JOBS batches of files, and about
    _IN_FLIGHT_BYTES, wait in memory.
    """

    def __init__(
        self,
        root: Path,
        previous: Path | None = None,
        *,
        update: bool = False,
        live: dict[str, str] | None = None,
    ) -> None:
        """`update`: `root` holds an earlier site, which its SHA256SUMS describes, to bring up to
        date in place (`previous` is then the live site). `live`: the SHA256SUMS of `previous`,
        when the caller has read it already."""
        self.root = root
        self._root = os.path.join(root, "")  # plain strings in the loops: Path costs too much
        here: dict[str, str] = {}
        if update:
            here = read_sums_file(root / SUMS_FILE)
            # From here on the folder no longer says what it holds: a build that stops now
            # leaves nothing a later one would trust.
            for name in (SUMS_FILE, SIGNATURE_FILE):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._root + name)
            if not _real_folders(self._root, here):
                # A folder of it replaced by a link (to elsewhere) or a file while it was the live
                # site: nothing in it is trusted, and nothing is written or removed through it.
                shutil.rmtree(root)  # which follows no link
                os.mkdir(root)
                os.chmod(root, 0o755)  # noqa: S103 (a site is public)
                here = {}
        self._here = here
        self._update = bool(here)  # new folders are checked: no link followed in an earlier site
        # A file whose bytes the previous site already has is linked from it: not written nor
        # compressed again, and its modification time is the previous one.
        self._reuse = (
            _Previous(
                os.path.join(previous, ""),
                live if live is not None else read_sums_file(previous / SUMS_FILE),
                here,
            )
            if previous
            else None
        )
        self.reused = 0
        self._linked: set[str] = set()  # share the previous file's inode, hence its mtime
        self.sums: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self._folders: set[str] = {relative.rpartition("/")[0] for relative in here}
        self._pool = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="site-writer")
        self._pending: deque[tuple[Future[list[tuple[str, str, int]]], int]] = deque()
        self._in_flight = 0  # bytes of the pending jobs
        self._batch: list[_Item] = []

    def __enter__(self) -> SiteWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(cancel=kind is not None)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the threads; with `cancel`, what they have not started is dropped."""
        # Wait for the threads even on failure, so nothing writes into a folder being removed.
        self._pool.shutdown(wait=True, cancel_futures=cancel)

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
                self._make_folder(folder)

    def write(self, relative: str, data: bytes, sha256: str | None = None) -> None:
        """Queue one file: `data` (UTF-8 JSON) and a final newline; `sha256`, that file's hash
        when the caller knows it already (it is not computed again)."""
        if sha256 is not None and len(data) < GZIP_MIN_BYTES - 1 and self._kept(relative, sha256):
            self.sums[relative] = sha256
            self.sizes[relative] = len(data) + 1
            return
        folder = relative.rpartition("/")[0]
        if folder and folder not in self._folders:
            self._make_folder(folder)
        self._batch.append((relative, data + b"\n", sha256, None))
        if len(self._batch) >= _BATCH or len(data) >= _ALONE:
            self._submit()

    def write_packed(
        self, relative: str, file: bytes, packed: Callable[[], bytes] | None = None
    ) -> None:
        """Queue one large file: `file` (its bytes, final newline included) and `packed`, what
        gives its .gz if made elsewhere (e.g. started before the site was written); its job
        starts at once."""
        folder = relative.rpartition("/")[0]
        if folder and folder not in self._folders:
            self._make_folder(folder)
        self._batch.append((relative, file, None, packed))
        self._submit()

    def keep_all(self, files: list[tuple[str, str, int]]) -> list[int]:
        """`keep` each (relative path, sha256, size); the positions of those not kept."""
        reuse = self._reuse
        if reuse is None:
            return list(range(len(files)))
        live, here, sums, sizes, linked = (
            reuse.sums,
            self._here,
            self.sums,
            self.sizes,
            self._linked,
        )
        left = []
        kept = 0
        for i, (relative, sha256, size) in enumerate(files):
            if size < GZIP_MIN_BYTES and here.get(relative) == sha256 == live.get(relative):
                kept += 1  # as `keep` does, without a call per file
                linked.add(relative)
                sums[relative] = sha256
                sizes[relative] = size
            elif not self.keep(relative, sha256, size):
                left.append(i)
        self.reused += kept
        return left

    def keep(self, relative: str, sha256: str, size: int, gz_size: int | None = None) -> bool:
        """Put the file whose bytes (with their final newline: `size` bytes) have this sha256
        into the folder without its bytes: kept if the folder holds it as the live site does,
        else linked from the live site (its .gz too, when large; `gz_size`, that one's size if
        known). False when the live site does not hold it: the caller then writes its bytes."""
        reuse = self._reuse
        if reuse is None or reuse.sums.get(relative) != sha256:
            return False
        if size < GZIP_MIN_BYTES and self._here.get(relative) == sha256:
            # Most files after a small change: the folder's own copy is the live one's.
            self.reused += 1
            self._linked.add(relative)
            self.sums[relative] = sha256
            self.sizes[relative] = size
            return True
        packed = f"{relative}.gz"
        gz = reuse.sums.get(packed) if size >= GZIP_MIN_BYTES else None
        if size >= GZIP_MIN_BYTES and gz is None:
            return False
        here = self._here
        kept = here.get(relative) == sha256 and (gz is None or here.get(packed) == gz)
        if not kept:
            folder = relative.rpartition("/")[0]
            if folder and folder not in self._folders:
                self._make_folder(folder)
            if reuse.link(self._root, relative, sha256, size) is None:
                return False
        packed_size = 0
        if gz is not None:
            found = reuse.link(self._root, packed, gz, gz_size)
            if found is None:
                # Not left half-done: `write` then starts from a folder without the file.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._root + relative)
                return False
            packed_size = found
        for path, digest, length in ((relative, sha256, size), (packed, gz, packed_size)):
            if digest is not None:
                self.reused += 1
                self._linked.add(path)
                self.sums[path] = digest
                self.sizes[path] = length
        return True

    def _make_folder(self, folder: str) -> None:
        """Create `folder` (and its parents); in an earlier site, whatever is at its place and is
        not a folder (a link to elsewhere) is removed first, so nothing is written through it."""
        if not self._update:
            os.makedirs(self._root + folder, exist_ok=True)
        else:
            parts = folder.split("/")
            for i in range(1, len(parts) + 1):
                step = "/".join(parts[:i])
                if step in self._folders:
                    continue
                try:
                    if not S_ISDIR(os.lstat(self._root + step).st_mode):
                        os.unlink(self._root + step)  # the link itself: its parent is checked
                        os.mkdir(self._root + step)
                except FileNotFoundError:
                    os.mkdir(self._root + step)
                self._folders.add(step)
        self._folders.add(folder)

    def _kept(self, relative: str, digest: str) -> bool:
        """Whether the folder's own copy of a file stays: the same bytes as here and as live."""
        reuse = self._reuse
        if (
            reuse is None
            or self._here.get(relative) != digest
            or reuse.sums.get(relative) != digest
        ):
            return False
        self.reused += 1
        self._linked.add(relative)
        return True

    def _submit(self) -> None:
        batch, self._batch = self._batch, []
        size = sum(len(item[1]) for item in batch)
        self._pending.append((self._pool.submit(_store_all, self._root, batch, self._reuse), size))
        self._in_flight += size
        while len(self._pending) > _IN_FLIGHT_JOBS or self._in_flight > _IN_FLIGHT_BYTES:
            self._collect_oldest()

    def _collect_oldest(self) -> None:
        future, size = self._pending.popleft()
        self._in_flight -= size
        self._collect(future)

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
            self._collect_oldest()
        self._remove_stale()
        data = format_sums(self.sums, header)
        (self.root / SUMS_FILE).write_bytes(data)
        self.sums[SUMS_FILE] = hashlib.sha256(data).hexdigest()
        self.sizes[SUMS_FILE] = len(data)
        if self._reuse is not None and self._reuse.root == os.path.join(previous, ""):
            old, before = self._reuse.sums, self._reuse.root
        else:
            old, before = read_sums_file(previous / SUMS_FILE), os.path.join(previous, "")
        for relative, digest in self.sums.items():
            if relative not in self._linked and old.get(relative) == digest:
                try:
                    stat = os.stat(before + relative)
                except FileNotFoundError:
                    continue
                os.utime(self._root + relative, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    def _remove_stale(self) -> None:
        """Remove what the earlier site in the folder holds and this one does not."""
        emptied: set[str] = set()
        for relative in self._here:
            if relative not in self.sums:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._root + relative)
                emptied.add(relative.rpartition("/")[0])
        while emptied:
            folder = max(emptied, key=len)  # the deepest first
            emptied.discard(folder)
            if folder:
                try:
                    os.rmdir(self._root + folder)
                except OSError:
                    continue  # not empty
                emptied.add(folder.rpartition("/")[0])


@dataclass(frozen=True)
class _Previous:
    """The site being replaced, and the sha256 of each of its files; and those of the files the
    folder being written holds already (`here`, empty unless it holds an earlier site)."""

    root: str  # ending in a slash, as every `root` below
    sums: dict[str, str]
    here: dict[str, str]

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
_Item = tuple[str, bytes, str | None, Callable[[], bytes] | None]


def _store_all(
    root: str, batch: list[_Item], previous: _Previous | None
) -> list[tuple[str, str, int]]:
    """`_store` each item of the batch."""
    return [
        row
        for relative, data, known, packed in batch
        for row in _store(root, relative, data, previous, known, packed)
    ]


def gzip_bytes(data: bytes) -> bytes:
    """The .gz of a file's bytes: mtime=0 and no file name in the header, so the same input
    gives the same bytes."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def _gzip(data: bytes, packed: Callable[[], bytes] | None) -> bytes:
    return packed() if packed is not None else gzip_bytes(data)


def _store(
    root: str,
    relative: str,
    data: bytes,
    previous: _Previous | None,
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
        return [*linked, *_write(root, files, bool(previous.here))]
    files = [(relative, data)]
    if big:
        files.append((f"{relative}.gz", _gzip(data, packed)))
    return _write(root, files, previous is not None and bool(previous.here))


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _write(
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


def _real_folders(root: str, here: dict[str, str]) -> bool:
    """Whether every folder the files of `here` are in (and each above it) is a folder, not a
    link, under `root`."""
    folders = {relative.rpartition("/")[0] for relative in here}
    steps = {folder[:i] for folder in folders for i, c in enumerate(folder + "/") if c == "/"}
    steps.discard("")
    try:
        return all(S_ISDIR(os.lstat(root + step).st_mode) for step in steps)
    except OSError:
        return False


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
