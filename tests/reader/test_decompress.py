"""`reader.decompress`: streamed, bounded pieces; a cut or trailing stream is corrupt."""

from __future__ import annotations

import gzip
import lzma
import os
import sys

import pytest
import zstandard
from image_catalog.errors import CatalogError
from image_catalog.reader.decompress import (
    PIECE,
    Corrupt,
    compression_of,
    decompressed_name,
    inflater,
)

RAW = os.urandom(100_000) + bytes(8 * PIECE)
PACKED = {
    "gzip": gzip.compress(RAW, mtime=0),
    "xz": lzma.compress(RAW),
    "zstd": zstandard.ZstdCompressor().compress(RAW),
}


def run(compression: str, data: bytes, step: int = 65536) -> bytes:
    engine = inflater(compression)
    out = []
    for at in range(0, len(data), step):
        out += list(engine.feed(data[at : at + step]))
    out += list(engine.finish())
    assert all(len(piece) <= PIECE for piece in out)
    return b"".join(out)


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_streamed_in_bounded_pieces(compression: str) -> None:
    assert run(compression, PACKED[compression]) == RAW
    assert run(compression, PACKED[compression] * 2) == RAW * 2  # concatenated streams


@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_cut_short_or_corrupt(compression: str) -> None:
    with pytest.raises(Corrupt, match="cut short"):
        run(compression, PACKED[compression][:-4])
    with pytest.raises(Corrupt):
        run(compression, PACKED[compression] + b"garbage")


def test_zstd_garbage_after_a_frame_is_corrupt() -> None:
    # A zstd stream cut short is not seen by the decoder: the size check after it refuses it.
    with pytest.raises(Corrupt):
        run("zstd", PACKED["zstd"] + b"garbage")


def test_names_and_kinds() -> None:
    assert compression_of(None, "application/vnd.automotive.disk.raw+xz", "a") == "xz"
    assert compression_of("zstd", "x", "a") == "zstd"
    assert compression_of(None, "application/vnd.automotive.disk.raw", "a.img.gz") == "gzip"
    assert compression_of(None, "application/vnd.automotive.disk.raw", "a.img") is None
    assert decompressed_name("a.img.zst", "zstd") == "a.img"
    assert decompressed_name("disk", "gzip") == "disk.raw"


def test_zstd_without_zstandard_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as where it is not installed
    with pytest.raises(CatalogError, match="pip install zstandard"):
        inflater("zstd")
