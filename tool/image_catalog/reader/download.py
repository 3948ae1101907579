"""Fetching one file of a pull: streamed to `TITLE.part`, hashed as it comes, renamed when right.

Invariants:
- nothing is ever under a file's title unless its size and sha256 are the index's (and, with
  decompression, the raw copy's size is the index's `decompressedSize`): the bytes go to
  `TITLE.part`, renamed (`os.replace`, in the same folder) only after the check;
- a `.part` left by an interrupted run is continued from its end with a `Range` request, its
  bytes hashed again from the disk first; a server that ignores the range (200) restarts the
  file from zero; a file already under its title and verified is not fetched again: it is known
  by the status a previous pull recorded (`reader.state`) or else hashed;
- a mismatch deletes the `.part` (its bytes are wrong, a re-run must not continue them) and is
  `CatalogError` naming the file, the expected and the received digest;
- an interruption (Ctrl-C, SIGTERM: `stop` is set) or a registry gone mid-file keeps the `.part`;
- memory is one piece of the answer at a time, read into one buffer (`READ_PIECE` bytes) that is
  hashed and written as it is, with no copy; decompressing, the raw copy's thread
  (`reader.rawcopy`) holds a bounded queue of pieces more.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from image_catalog.errors import CatalogError
from image_catalog.reader.distribution import Repository
from image_catalog.reader.plan import PART_SUFFIX, PlannedFile
from image_catalog.reader.rawcopy import RawCopy, write_to
from image_catalog.reader.state import Recorded, recorded, status_now, trusted
from image_catalog.site.contract import Artifact

READ_PIECE = 1 << 20


class PullProgress(Protocol):
    """What a pull reports as it goes; the command line draws it, a library caller may ignore it."""

    def started(self, title: str, total: int, present: int) -> None: ...

    def advanced(self, title: str, count: int) -> None: ...

    def finished(self, title: str, transferred: int, reused: bool) -> None: ...


class Stopped(Exception):
    """The pull was asked to stop (Ctrl-C, SIGTERM in the main thread)."""


@dataclass(frozen=True)
class Fetched:
    """A file in place: how many bytes came over the network for it, the raw copy's sha256, how
    many bytes already on disk were read again to verify it and its raw copy (none when both were
    known by their recorded status), and the records of both for the next pull."""

    title: str
    transferred: int
    reused: bool
    decompressed_sha256: str | None = None
    hashed: int = 0
    records: tuple[tuple[str, Recorded], ...] = ()

    @property
    def by_status(self) -> bool:
        """In place already, and known to be right by its recorded status alone."""
        return self.reused and self.hashed == 0


def read_back(path: Path, stop: threading.Event, *sinks: Callable[[bytes], object]) -> int:
    """Hand the bytes of `path` on disk to each of `sinks`, piece by piece; their count."""
    size = 0
    with path.open("rb") as handle:
        while piece := handle.read(READ_PIECE):
            if stop.is_set():
                raise Stopped
            for sink in sinks:
                sink(piece)
            size += len(piece)
    return size


def _sha256_of(path: Path, stop: threading.Event) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = read_back(path, stop, hasher.update)
    return hasher.hexdigest(), size


class FileFetch:
    """One file's fetch into `out` (see the module documentation)."""

    def __init__(
        self,
        planned: PlannedFile,
        out: Path,
        repository: Repository,
        progress: PullProgress,
        stop: threading.Event,
        known: Mapping[str, Recorded] | None = None,
    ) -> None:
        self.planned = planned
        self.known = known or {}
        self.hashed = 0  # bytes on disk read again to verify
        self.records: dict[str, Recorded] = {}
        self.artifact = planned.artifact
        self.final = out / planned.title
        self.part = out / (planned.title + PART_SUFFIX)
        self.raw_final = out / planned.decompressed if planned.decompressed else None
        self.repository = repository
        self.progress = progress
        self.stop = stop
        self.raw: RawCopy | None = None  # the decompressed copy being written
        self.raw_digest: str | None = None

    def run(self) -> Fetched:
        try:
            return self._run()
        finally:
            if self.raw is not None:
                self.raw.abandon()

    def _run(self) -> Fetched:
        artifact = self.artifact
        if self._present():
            self.progress.started(artifact.title, artifact.size, artifact.size)
            raw_digest = self._raw_in_place()
            self.progress.finished(artifact.title, 0, True)
            return self._fetched(0, True, raw_digest)
        transferred = self._fetch()
        self.progress.finished(artifact.title, transferred, False)
        return self._fetched(transferred, False, self.raw_digest)

    def _fetched(self, transferred: int, reused: bool, raw_digest: str | None) -> Fetched:
        records = tuple(self.records.items())
        return Fetched(self.artifact.title, transferred, reused, raw_digest, self.hashed, records)

    def _record(self, path: Path, sha256: str, source: str | None = None) -> None:
        """Keep the status of a file just put in place or verified, for the next pull."""
        with contextlib.suppress(OSError):  # a file gone again is hashed next time, no harm
            info, at = status_now(path)
            self.records[path.name] = recorded(info, at, sha256, source)

    def _present(self) -> bool:
        """Whether the file is under its title already, with the right size and sha256: known by
        its recorded status, else hashed."""
        artifact = self.artifact
        try:
            info, at = status_now(self.final)
        except FileNotFoundError:
            return False
        if info.st_size != artifact.size:
            return False
        record = self.known.get(artifact.title)
        if record is not None and trusted(record, info, artifact.sha256):
            self.records[artifact.title] = record
            return True
        digest, size = _sha256_of(self.final, self.stop)
        self.hashed += size
        if digest != artifact.sha256:
            return False
        self.records[artifact.title] = recorded(info, at, digest)
        return True

    def _raw_in_place(self) -> str | None:
        """With decompression: the raw copy made (from the verified file, on disk) when it is
        not there yet; its sha256."""
        if self.raw_final is None:
            return None
        expected = self.artifact.decompressed_size
        source = self.artifact.sha256
        with contextlib.suppress(FileNotFoundError):
            info, at = status_now(self.raw_final)
            record = self.known.get(self.raw_final.name)
            if record is not None and trusted(record, info, None, source):
                self.records[self.raw_final.name] = record
                return record.sha256
            if expected is not None and info.st_size == expected:
                digest, size = _sha256_of(self.raw_final, self.stop)
                self.hashed += size
                self.records[self.raw_final.name] = recorded(info, at, digest, source)
                return digest
        self.raw = raw = self._open_raw()
        read_back(self.final, self.stop, raw.feed)
        digest = raw.close()
        self._record(self.raw_final, digest, source)
        return digest

    def _open_raw(self) -> RawCopy:
        assert self.raw_final is not None
        assert self.planned.compression is not None
        limit = self.artifact.decompressed_size
        return RawCopy(self.final, self.raw_final, self.planned.compression, limit)

    def _fetch(self) -> int:
        """Stream the file into its `.part` (and, decompressing, its raw copy as the bytes come)
        and put it under its title; the bytes transferred."""
        artifact = self.artifact
        start = 0
        with contextlib.suppress(FileNotFoundError):
            start = self.part.stat().st_size
        if start > artifact.size:
            start = 0
        self.raw = self._open_raw() if self.raw_final is not None else None
        hasher = hashlib.sha256()
        if start:
            sinks = (hasher.update,) if self.raw is None else (hasher.update, self.raw.feed)
            read_back(self.part, self.stop, *sinks)
        self.progress.started(artifact.title, artifact.size, start)
        transferred = 0
        if start < artifact.size:
            transferred = self._receive(start, hasher)
        else:
            self._verify(hasher.hexdigest(), start)
        os.replace(self.part, self.final)
        self._record(self.final, artifact.sha256)
        if self.raw_final is not None and self.raw_digest is not None:
            self._record(self.raw_final, self.raw_digest, artifact.sha256)
        return transferred

    def _restart_raw(self) -> None:
        if self.raw is not None:
            self.raw.drop()
            self.raw = self._open_raw()

    def _receive(self, start: int, hasher: hashlib._Hash) -> int:
        artifact = self.artifact
        with self.repository.open_blob(artifact.url, start) as answer:
            again = answer.status == 416 or (
                answer.status == 206 and not _range_starts(answer.headers, start)
            )
            if not again:
                if answer.status == 200 and start:  # the server ignored the range
                    self.progress.advanced(artifact.title, -start)
                    hasher, start = hashlib.sha256(), 0
                    self._restart_raw()
                with self.part.open("ab" if start else "wb", buffering=0) as handle:
                    handle.truncate(start)
                    pieces = answer.pieces_into(bytearray(READ_PIECE), 1 << 62)
                    written = self._copy(pieces, handle, hasher, start)
                self._verify(hasher.hexdigest(), written)
                return written - start
        if not start:
            source = self.repository.source_of(artifact.url)
            raise CatalogError(f"{self.final}: {source} answered HTTP 416 to a whole blob")
        # A range the server would not serve as asked: the whole file again.
        self.progress.advanced(artifact.title, -start)
        self.part.unlink(missing_ok=True)
        self._restart_raw()
        return self._receive(0, hashlib.sha256())

    def _copy(
        self, pieces: Iterator[memoryview], handle: IO[bytes], hasher: hashlib._Hash, start: int
    ) -> int:
        written = start
        size = self.artifact.size
        title = self.artifact.title
        for piece in pieces:
            if self.stop.is_set():
                raise Stopped
            written += len(piece)
            if written > size:
                handle.close()
                self.part.unlink(missing_ok=True)
                raise CatalogError(
                    f"{self.final}: {self.repository.source_of(self.artifact.url)} sent more "
                    f"than the {size} bytes the index "
                    "gives; nothing is kept under its title"
                )
            hasher.update(piece)
            write_to(handle, piece, self.part)
            if self.raw is not None:
                self.raw.feed(piece)
            self.progress.advanced(title, len(piece))
        return written

    def _verify(self, received: str, size: int) -> None:
        artifact = self.artifact
        if size == artifact.size and received == artifact.sha256:
            if self.raw is not None:
                self.raw_digest = self.raw.close()
            return
        if self.raw is not None:
            self.raw.drop()
        self.part.unlink(missing_ok=True)
        source = self.repository.source_of(artifact.url)
        raise CatalogError(mismatch(self.final, source, artifact, received, size))


def mismatch(final: Path, source: str, artifact: Artifact, received: str, size: int) -> str:
    """What is wrong with bytes that are not the file the index describes."""
    got = f"{size} bytes, " if size != artifact.size else ""
    said = "the registry's bytes" if source == "the registry" else f"the bytes from {source}"
    return (
        f"{final}: {said} do not match the index: expected sha256:{artifact.sha256} "
        f"({artifact.size} bytes), received {got}sha256:{received}; nothing is kept under its "
        "title"
    )


def _range_starts(headers: Mapping[str, str], start: int) -> bool:
    """Whether a 206's `Content-Range` begins at `start` (`bytes START-END/TOTAL`)."""
    value = str(headers.get("content-range", ""))
    unit, _, spec = value.partition(" ")
    first = spec.partition("-")[0]
    return unit.strip() == "bytes" and first.isdigit() and int(first) == start
