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
import hashlib
import os
import shutil
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from stat import S_ISDIR

from image_catalog.build.storing import (
    GZIP_MIN_BYTES,
    Item,
    PreviousSite,
    real_folders,
    store_all,
)
from image_catalog.site.sums import SIGNATURE_FILE, SUMS_FILE, format_sums, read_sums_file

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
        here = open_earlier_site(root) if update else {}
        self._here = here
        self._update = bool(here)  # new folders are checked: no link followed in an earlier site
        # A file whose bytes the previous site already has is linked from it: not written nor
        # compressed again, and its modification time is the previous one.
        self._reuse = None
        if previous:
            sums = live if live is not None else read_sums_file(previous / SUMS_FILE)
            self._reuse = PreviousSite(os.path.join(previous, ""), sums, here)
        self.reused = 0
        self._linked: set[str] = set()  # share the previous file's inode, hence its mtime
        self.sums: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self._folders: set[str] = {relative.rpartition("/")[0] for relative in here}
        self._pool = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="site-writer")
        self._pending: deque[tuple[Future[list[tuple[str, str, int]]], int]] = deque()
        self._in_flight = 0  # bytes of the pending jobs
        self._batch: list[Item] = []

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
                _make_folder(self._root, folder, self._folders, self._update)

    def write(self, relative: str, data: bytes, sha256: str | None = None) -> None:
        """Queue one file: `data` (UTF-8 JSON) and a final newline; `sha256`, that file's hash
        when the caller knows it already (it is not computed again)."""
        if sha256 is not None and len(data) < GZIP_MIN_BYTES - 1 and self._kept(relative, sha256):
            self.sums[relative] = sha256
            self.sizes[relative] = len(data) + 1
            return
        folder = relative.rpartition("/")[0]
        if folder and folder not in self._folders:
            _make_folder(self._root, folder, self._folders, self._update)
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
            _make_folder(self._root, folder, self._folders, self._update)
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
        folder = relative.rpartition("/")[0]
        if folder and folder not in self._folders:
            _make_folder(self._root, folder, self._folders, self._update)
        rows = reuse.keep_pair(self._root, relative, sha256, size, gz_size)
        if rows is None:
            return False
        for path, digest, length in rows:
            self.reused += 1
            self._linked.add(path)
            self.sums[path] = digest
            self.sizes[path] = length
        return True

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
        self._pending.append((self._pool.submit(store_all, self._root, batch, self._reuse), size))
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
        _remove_stale(self._root, self._here, self.sums)
        data = format_sums(self.sums, header)
        (self.root / SUMS_FILE).write_bytes(data)
        self.sums[SUMS_FILE] = hashlib.sha256(data).hexdigest()
        self.sizes[SUMS_FILE] = len(data)
        if self._reuse is not None and self._reuse.root == os.path.join(previous, ""):
            old, before = self._reuse.sums, self._reuse.root
        else:
            old, before = read_sums_file(previous / SUMS_FILE), os.path.join(previous, "")
        _carry_mtimes(self._root, self.sums, self._linked, old, before)


def _make_folder(root: str, folder: str, folders: set[str], update: bool) -> None:
    """Create `folder` (and its parents) under `root` and add it to `folders`, those made; with
    `update` (in an earlier site), whatever is at its place and is not a folder (a link to
    elsewhere) is removed first, so nothing is written through it."""
    if not update:
        os.makedirs(root + folder, exist_ok=True)
    else:
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            step = "/".join(parts[:i])
            if step in folders:
                continue
            try:
                if not S_ISDIR(os.lstat(root + step).st_mode):
                    os.unlink(root + step)  # the link itself: its parent is checked
                    os.mkdir(root + step)
            except FileNotFoundError:
                os.mkdir(root + step)
            folders.add(step)
    folders.add(folder)


def _carry_mtimes(
    root: str, sums: dict[str, str], linked: set[str], old: dict[str, str], before: str
) -> None:
    """Give each file of the site at `root` that the previous one at `before` had with the same
    bytes (`old`: its sums) the previous file's times; a linked file shares them already."""
    for relative, digest in sums.items():
        if relative not in linked and old.get(relative) == digest:
            try:
                stat = os.stat(before + relative)
            except FileNotFoundError:
                continue
            os.utime(root + relative, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _remove_stale(root: str, here: dict[str, str], sums: dict[str, str]) -> None:
    """Remove what the earlier site in the folder holds (`here`) and this one does not (`sums`),
    and the folders that leaves empty."""
    emptied: set[str] = set()
    for relative in here:
        if relative not in sums:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root + relative)
            emptied.add(relative.rpartition("/")[0])
    while emptied:
        folder = max(emptied, key=len)  # the deepest first
        emptied.discard(folder)
        if folder:
            try:
                os.rmdir(root + folder)
            except OSError:
                continue  # not empty
            emptied.add(folder.rpartition("/")[0])


def open_earlier_site(root: Path) -> dict[str, str]:
    """The sums of the earlier site at `root` to update in place, which from then on no longer
    says what it holds; {} when it cannot be trusted, `root` then emptied."""
    here = read_sums_file(root / SUMS_FILE)
    prefix = os.path.join(root, "")
    # A build that stops now leaves nothing a later one would trust.
    for name in (SUMS_FILE, SIGNATURE_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(prefix + name)
    if real_folders(prefix, here):
        return here
    # A folder of it replaced by a link (to elsewhere) or a file while it was the live site:
    # nothing in it is trusted, and nothing is written or removed through it.
    shutil.rmtree(root)  # which follows no link
    os.mkdir(root)
    os.chmod(root, 0o755)  # noqa: S103 (a site is public)
    return {}


def swap_in(staging: Path, out: Path) -> None:
    """Put the staged site at `out`; the previous one (if any) is removed afterwards."""
    if not out.exists():
        os.rename(staging, out)
        return
    if exchange(staging, out):
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


def exchange(a: Path, b: Path) -> bool:
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
