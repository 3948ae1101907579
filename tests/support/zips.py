"""Zip artifacts for the hand-off tests, hostile ones included: entries flagged as encrypted, and
names that `zipfile` will not write (a NUL byte, bytes that are not UTF-8, control characters),
made by patching the name bytes in both headers of an archive written with a placeholder.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

ENCRYPTED = 0x1  # general purpose flag bit 0


def make_zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    """A zip of `entries` (name: bytes) and of symbolic links named `links`."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "../../../../etc/passwd")
    return path


def encrypted_zip(path: Path, name: str, data: bytes) -> Path:
    """A zip whose one entry the central directory flags as encrypted (its data is plain)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, data)
        # zipfile clears the flags while writing an entry; the central directory, written on
        # close, takes them from the entry's info.
        archive.infolist()[-1].flag_bits |= ENCRYPTED
    return path


def renamed_zip(path: Path, placeholder: str, raw: bytes, data: bytes = b"a: 1\n") -> Path:
    """A zip of one entry named `placeholder`, its name bytes then replaced by `raw` (the same
    length) in both the local header and the central directory. A non-ASCII placeholder makes
    zipfile set the UTF-8 flag (bit 11); an ASCII one leaves the name to be read as cp437."""
    encoded = placeholder.encode("utf-8")
    assert len(encoded) == len(raw), "the raw name must keep the placeholder's length"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(placeholder, data)
    content = path.read_bytes()
    assert content.count(encoded) == 2, "the placeholder must appear once in each header"
    path.write_bytes(content.replace(encoded, raw))
    return path
