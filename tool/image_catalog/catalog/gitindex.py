"""Which files git's index tells git not to look at: assume-unchanged and skip-worktree entries.

git (and libgit2's status) takes such a file as unchanged whatever its work-tree copy holds, so
the blob id the index or HEAD records for it says nothing about its bytes. libgit2 does not expose
these flags, so they are read from the index file itself (formats 2 to 4, as git's
`Documentation/gitformat-index.txt` describes them). An index this module cannot read in full (an
unknown version, a split index, a truncated file) gives None: then no file may be taken as
unchanged on git's word.
"""

from __future__ import annotations

import struct
from pathlib import Path

_ASSUME_VALID = 0x8000
_EXTENDED = 0x4000
_SKIP_WORKTREE = 0x4000  # in the extended flags
_NAME_MASK = 0x0FFF
_FIXED = 62  # times, ids, mode, sizes, object id (SHA-1), flags


def flagged_paths(index_file: Path) -> set[str] | None:
    """The paths marked assume-unchanged or skip-worktree; None when the index cannot be read."""
    try:
        data = index_file.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError:
        return None
    try:
        return _parse(data)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def _parse(data: bytes) -> set[str] | None:
    signature, version, count = struct.unpack_from(">4sII", data, 0)
    if signature != b"DIRC" or version not in (2, 3, 4):
        return None
    flagged: set[str] = set()
    position = 12
    previous = b""
    for _ in range(count):
        (flags,) = struct.unpack_from(">H", data, position + _FIXED - 2)
        header = _FIXED
        extended = 0
        if flags & _EXTENDED:
            (extended,) = struct.unpack_from(">H", data, position + _FIXED)
            header += 2
        start = position + header
        if version == 4:
            strip, start = _varint(data, start)
            end = data.index(b"\0", start)
            path = previous[: len(previous) - strip] + data[start:end]
            position = end + 1
        else:
            end = data.index(b"\0", start)
            path = data[start:end]
            position += (header + len(path) + 8) & ~7  # NUL-padded to a multiple of 8
        previous = path
        if flags & _ASSUME_VALID or extended & _SKIP_WORKTREE:
            flagged.add(path.decode("utf-8"))
    if _has_extension(data, position, b"link"):
        return None  # a split index: the entries above are only part of it
    return flagged


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """git's offset varint (each continuation adds one before shifting)."""
    byte = data[position]
    value = byte & 0x7F
    position += 1
    while byte & 0x80:
        byte = data[position]
        value = ((value + 1) << 7) | (byte & 0x7F)
        position += 1
    return value, position


def _has_extension(data: bytes, position: int, name: bytes) -> bool:
    end = len(data) - 20  # the trailing checksum (SHA-1)
    while position + 8 <= end:
        signature, size = struct.unpack_from(">4sI", data, position)
        if signature == name:
            return True
        position += 8 + size
    return False
