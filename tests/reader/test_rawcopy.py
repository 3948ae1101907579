"""`reader.rawcopy`: the decompressed copy made in its own thread, fed through a bounded queue;
an error the thread meets reaches the feeding thread, and the copy's `.part` is gone."""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path

import pytest
from image_catalog.errors import CatalogError
from image_catalog.reader.rawcopy import QUEUE_PIECES, RawCopy

RAW = bytes(range(256)) * 8192  # 2 MiB
PACKED = gzip.compress(RAW, mtime=0)


def copy_of(tmp_path: Path, limit: int | None = len(RAW)) -> RawCopy:
    return RawCopy(tmp_path / "disk.img.gz", tmp_path / "disk.img", "gzip", limit)


def feed_all(raw: RawCopy, pieces: list[bytes]) -> str:
    for piece in pieces:
        raw.feed(piece)
    return raw.close()


def test_the_copy_is_made_in_its_own_thread(tmp_path: Path) -> None:
    raw = copy_of(tmp_path)
    assert raw.thread is not threading.current_thread()
    assert raw.thread.is_alive()
    buffer = bytearray(PACKED)
    for start in range(0, len(PACKED), 1000):
        raw.feed(memoryview(buffer)[start : start + 1000])
    buffer[:] = bytes(len(buffer))  # the caller reuses its buffer: the queue kept copies
    assert raw.close() == hashlib.sha256(RAW).hexdigest()
    assert not raw.thread.is_alive()
    assert (tmp_path / "disk.img").read_bytes() == RAW
    assert not (tmp_path / "disk.img.part").exists()


def test_a_corrupt_stream_reaches_the_feeder_without_a_hang(tmp_path: Path) -> None:
    raw = copy_of(tmp_path)
    garbage = [b"not gzip at all" * 100] * (10 * QUEUE_PIECES)  # more than the queue holds
    with pytest.raises(CatalogError, match="it cannot be decompressed") as refused:
        feed_all(raw, garbage)
    assert str(refused.value).endswith("the decompressed copy disk.img is not kept")
    assert not raw.thread.is_alive()
    assert not (tmp_path / "disk.img.part").exists()


def test_a_bomb_stops_at_the_size_the_index_gives(tmp_path: Path) -> None:
    raw = copy_of(tmp_path, limit=1000)
    with pytest.raises(CatalogError, match="more than the 1000 bytes the index gives"):
        feed_all(raw, [PACKED])
    assert not (tmp_path / "disk.img.part").exists()


def test_abandon_keeps_the_part(tmp_path: Path) -> None:
    raw = copy_of(tmp_path)
    raw.feed(PACKED[:1000])
    raw.abandon()
    assert not raw.thread.is_alive()
    assert (tmp_path / "disk.img.part").exists()
