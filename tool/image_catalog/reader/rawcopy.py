"""The decompressed copy of a pulled file, made in a thread of its own as the compressed bytes come.

The downloading thread hands each piece to `RawCopy.feed`, which queues a copy of it and returns:
the decompression (and the hashing and writing of its output) runs in the copy's own thread, so
on a machine with two cores it overlaps the download instead of adding to it.

Invariants:
- memory stays flat: the queue holds at most `QUEUE_PIECES` pieces (the download waits when the
  decompression falls behind), each output piece is at most `decompress.PIECE` bytes;
- nothing is under the copy's name unless its size is the index's `decompressedSize`: the bytes
  go to `RAW.part`, renamed by `close` only after the check;
- an error the thread meets (a corrupt stream, a bomb, a full disk) deletes `RAW.part`, and is
  raised in the downloading thread by its next `feed` or by `close`; the thread itself always
  drains the queue to its end, so neither side can wait forever for the other;
- `abandon` (an interrupted pull) ends the thread and keeps `RAW.part` as it is.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import IO, NoReturn

from image_catalog.errors import CatalogError
from image_catalog.reader.decompress import Corrupt, inflater
from image_catalog.reader.plan import PART_SUFFIX

QUEUE_PIECES = 8


def write_to(handle: IO[bytes], data: bytes | memoryview, path: Path) -> None:
    """Write all of `data` (an unbuffered file may take part of it: the rest follows), a full
    disk (or any failure to write) said plainly, naming the file."""
    view = memoryview(data)
    try:
        while view:
            view = view[handle.write(view) or 0 :]
    except OSError as exc:
        raise CatalogError(
            f"{path}: cannot write ({exc.strerror or exc}); the .part is kept, free some "
            "space and run the same command again"
        ) from None


class RawCopy:
    """The decompressed copy of one file (see the module documentation)."""

    def __init__(self, final: Path, raw: Path, compression: str, limit: int | None) -> None:
        self.final = final  # the compressed file, for messages
        self.raw = raw
        self.part = raw.with_name(raw.name + PART_SUFFIX)
        self.limit = limit
        self.inflater = inflater(compression)
        # Unbuffered: a full disk fails the write that hit it, not a later close.
        self.handle = self.part.open("wb", buffering=0)
        self.hasher = hashlib.sha256()
        self.written = 0
        self.error: CatalogError | None = None
        self.pieces: queue.Queue[bytes | None] = queue.Queue(QUEUE_PIECES)
        self.thread = threading.Thread(target=self._work, name="pull-decompress", daemon=True)
        self.thread.start()

    def feed(self, data: bytes | memoryview) -> None:
        """Queue a copy of `data` (the caller reuses its buffer); an error found so far raised."""
        self._raise_found()
        self.pieces.put(bytes(data))

    def _work(self) -> None:
        while (data := self.pieces.get()) is not None:
            if self.error is not None:
                continue  # drained, so that a waiting `feed` is never stuck
            try:
                self._inflate(data)
            except CatalogError as exc:
                self.error = exc

    def _inflate(self, data: bytes) -> None:
        try:
            for out in self.inflater.feed(data):
                self._take(out)
        except Corrupt as exc:
            self.refuse(f"it cannot be decompressed ({exc})")

    def _take(self, out: bytes) -> None:
        self.written += len(out)
        if self.limit is not None and self.written > self.limit:
            self.refuse(f"it decompresses to more than the {self.limit} bytes the index gives")
        self.hasher.update(out)
        write_to(self.handle, out, self.part)

    def _end_thread(self) -> None:
        if self.thread.is_alive():
            self.pieces.put(None)
            self.thread.join()

    def _raise_found(self) -> None:
        if self.error is not None:
            self.drop()
            raise self.error

    def close(self) -> str:
        """Put the copy under its name, once every piece is decompressed; its sha256."""
        self._end_thread()
        self._raise_found()
        try:
            for out in self.inflater.finish():
                self._take(out)
        except Corrupt as exc:
            self.refuse(f"it cannot be decompressed ({exc})")
        if self.limit is not None and self.written != self.limit:
            self.refuse(f"it decompresses to {self.written} bytes, the index gives {self.limit}")
        self.handle.close()
        os.replace(self.part, self.raw)
        return self.hasher.hexdigest()

    def abandon(self) -> None:
        """End the thread and close the copy, its `.part` kept."""
        self._end_thread()
        self.handle.close()

    def drop(self) -> None:
        """End the thread and delete the copy's `.part`."""
        self.abandon()
        self.part.unlink(missing_ok=True)

    def refuse(self, why: str) -> NoReturn:
        self.handle.close()
        self.part.unlink(missing_ok=True)
        raise CatalogError(
            f"{self.final}: {why}; the decompressed copy {self.raw.name} is not kept"
        )
