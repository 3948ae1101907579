"""What a pull verified, kept beside the files (`.pull-state`) so a re-run need not read them.

For each file it put in place (a pulled file, a decompressed copy) a pull records the sha256 it
verified and the file's status then: size, mtime, ctime and inode, as git's index and the
catalog's cache do. A later pull trusts a file without reading it only when its status is exactly
the recorded one, the recorded sha256 is the one the index wants, and the status was recorded
more than `RACY_NS` after the file's last change (a change made in the same tick of the file
system's clock as the recording would not show in the status: such a file is hashed again, and
recorded anew, old enough then to be trusted next time).

Invariants: the state is only a cache, never a source of truth: a missing, unreadable or garbled
state file (or an entry of another shape) is the same as no record, and every file then is
hashed; the file is written atomically, after the layout files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from image_catalog.fsutil import RACY_NS, NotAFile, atomic_write_bytes, read_regular_file

STATE_FILE = ".pull-state"
MAX_STATE_BYTES = 1 << 20


class Recorded(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """One file as verified: its sha256 and its status when the sha256 was found."""

    sha256: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    recorded_ns: int
    # A decompressed copy: the sha256 of the compressed file it was made from.
    source: str | None = None


class PullState(msgspec.Struct, kw_only=True, rename="camel"):
    files: dict[str, Recorded]


def status_now(path: Path) -> tuple[os.stat_result, int]:
    """The status of `path` and the time just before it was read (OSError passes through)."""
    at = time.time_ns()
    return path.stat(), at


def recorded(info: os.stat_result, at: int, sha256: str, source: str | None = None) -> Recorded:
    """The record of a file whose status `info` was read at `at` and whose bytes hash to
    `sha256` (made from the compressed file `source`)."""
    return Recorded(
        sha256=sha256,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
        recorded_ns=at,
        source=source,
    )


def trusted(
    record: Recorded | None, info: os.stat_result, sha256: str | None, source: str | None = None
) -> bool:
    """Whether the file with status `info` is known, without reading it, to hash to `sha256`
    (any sha256 when None: a decompressed copy, known by the file it was `source`d from)."""
    if record is None or (sha256 is not None and record.sha256 != sha256):
        return False
    if record.source != source:
        return False
    same = (record.size, record.mtime_ns, record.ctime_ns, record.inode) == (
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        info.st_ino,
    )
    return same and max(record.mtime_ns, record.ctime_ns) < record.recorded_ns - RACY_NS


def read_state(out: Path) -> dict[str, Recorded]:
    """The records of the folder `out`; none when there is no readable state."""
    try:
        data = read_regular_file(out / STATE_FILE, MAX_STATE_BYTES)
        return msgspec.json.decode(data, type=PullState).files
    except (OSError, NotAFile, msgspec.DecodeError, msgspec.ValidationError):
        return {}


def write_state(out: Path, records: Iterable[tuple[str, Recorded]]) -> None:
    """Keep the records of the files in place now (and of no other)."""
    files: Mapping[str, Recorded] = dict(records)
    data = msgspec.json.encode(PullState(files=dict(files)))
    atomic_write_bytes(out / STATE_FILE, data, durable=False)
