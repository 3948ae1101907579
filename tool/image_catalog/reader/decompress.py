"""Decompressing a downloaded file as it streams: gzip and xz (standard library), zstd (the
`zstandard` package, when it is installed: the reader does not depend on it).

Invariants: memory stays bounded whatever the ratio (each piece of output is at most `PIECE`
bytes; a bomb is stopped as soon as its output passes the size the index gives, `TooMuch`); the
stream must end where the compressed file ends, with nothing after it (`Corrupt` otherwise).
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from image_catalog.errors import CatalogError

PIECE = 1 << 20
SUFFIXES = {"gzip": ".gz", "xz": ".xz", "zstd": ".zst"}
_MEDIA_HINTS = {"gzip": "gzip", "gz": "gzip", "xz": "xz", "zstd": "zstd", "zst": "zstd"}


class Corrupt(Exception):
    """The compressed stream cannot be decoded, or does not end where the file ends."""


class Inflater(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


def compression_of(compression: str | None, media_type: str, title: str) -> str | None:
    """`gzip`, `xz`, `zstd`, or None (not compressed, or a compression not known): from the
    index's `compression`, else the media type's suffix (`+gzip`), else the title's extension."""
    if compression:
        return _MEDIA_HINTS.get(compression.lower())
    suffix = media_type.rpartition("+")[2].lower() if "+" in media_type else ""
    if suffix in _MEDIA_HINTS:
        return _MEDIA_HINTS[suffix]
    for name, extension in SUFFIXES.items():
        if title.endswith(extension):
            return name
    return None


def decompressed_name(title: str, compression: str) -> str:
    """The file name of the decompressed copy: the title without its compression extension."""
    extension = SUFFIXES[compression]
    if title.endswith(extension) and len(title) > len(extension):
        return title[: -len(extension)]
    return title + ".raw"


class _Stdlib:
    """zlib or lzma, with output bounded per call (`max_length`); concatenated streams (a
    multi-member gzip, several xz streams) are read one after the other."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._engine = make()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                engine = self._engine
                if engine.eof:
                    # What follows a stream's end is in unused_data (zlib also leaves it in
                    # unconsumed_tail: taken from unused_data only, once).
                    data = engine.unused_data + data
                    if not data.strip(b"\0"):  # xz streams may be padded with zeros
                        return
                    self._engine = engine = self._make()
                out = engine.decompress(data, PIECE)
                data = b"" if engine.eof else getattr(engine, "unconsumed_tail", b"")
                if out:
                    yield out
                if engine.eof:
                    continue
                if isinstance(engine, lzma.LZMADecompressor):
                    if engine.needs_input:
                        return
                elif not data and len(out) < PIECE:
                    return
        except (zlib.error, lzma.LZMAError, EOFError) as exc:
            raise Corrupt(str(exc)) from exc

    def finish(self) -> Iterator[bytes]:
        if not self._engine.eof:
            raise Corrupt("the compressed stream is cut short")
        return iter(())


class _Zstd:
    """zstandard's stream writer: it bounds its own output buffer (`write_size`)."""

    def __init__(self) -> None:
        try:
            import zstandard  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise CatalogError(
                "--decompress of a zstd file needs the zstandard package: pip install zstandard"
            ) from None
        self._out: list[bytes] = []
        sink: Any = self  # a file for zstandard: it calls write() only
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            sink, write_size=PIECE, write_return_read=True, closefd=False
        )
        self._error = zstandard.ZstdError

    def write(self, data: bytes) -> int:
        self._out.append(bytes(data))
        return len(data)

    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE // 8):
            try:
                self._writer.write(data[start : start + PIECE // 8])
            except self._error as exc:
                raise Corrupt(str(exc)) from exc
            out, self._out = self._out, []
            yield from out

    def finish(self) -> Iterator[bytes]:
        try:
            self._writer.flush()  # type: ignore[no-untyped-call,unused-ignore]
        except self._error as exc:
            raise Corrupt(str(exc)) from exc
        out, self._out = self._out, []
        return iter(out)


def inflater(compression: str) -> Inflater:
    if compression == "gzip":
        return _Stdlib(lambda: zlib.decompressobj(wbits=47))
    if compression == "xz":
        return _Stdlib(lambda: lzma.LZMADecompressor(format=lzma.FORMAT_AUTO))
    return _Zstd()
