"""Reading one HTTP/1.x answer off a connection, within a deadline and a size cap.

Every read waits at most the time left before the request's deadline (`Deadline`), so a server
that drips bytes ends in `DeadlineExceeded` however many reads it takes. Lines, headers, interim
answers and chunk sizes are bounded as the protocol allows and no further.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator

from image_catalog.web.errors import (
    ClosedBeforeAnswer,
    CutShort,
    DeadlineExceeded,
    FetchError,
    ProtocolError,
    TooLarge,
)

MAX_LINE = 65536  # the longest status or header line read (as http.client)
MAX_HEADERS = 100
MAX_INTERIM = 16  # 1xx answers before the final one
CHUNK = 256 * 1024


class Deadline:
    """A point in time that every read of one request must end before."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """The seconds left; `DeadlineExceeded` when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no complete answer within {self.seconds:g} s")
        return left


class Wire:
    """Buffered reads off one connection, each bounded by the current request's deadline.

    `recv` is the socket's (or anything's with the same contract: bytes, empty at the end);
    `recv_into` the socket's too, when there is one: a long body is then read straight into the
    caller's buffer (`read_into`), with no new object for each piece.
    """

    def __init__(
        self,
        recv: Callable[[int], bytes],
        settimeout: Callable[[float], None] | None = None,
        idle: float = 10.0,
        recv_into: Callable[[memoryview], int] | None = None,
    ) -> None:
        self._recv = recv
        self._recv_into = recv_into
        self._settimeout = settimeout
        self.idle = idle
        self.deadline: Deadline | None = None
        self._buffer = bytearray()

    @classmethod
    def of_bytes(cls, data: bytes) -> Wire:
        """A wire that reads `data` and then its end: for reading a recorded answer."""
        wire = cls(lambda _size: b"")
        wire._buffer += data
        return wire

    def _wait(self) -> None:
        if self._settimeout is not None:
            left = self.deadline.remaining() if self.deadline is not None else self.idle
            self._settimeout(min(self.idle, left))

    def _timed_out(self) -> None:
        if self.deadline is not None:
            self.deadline.remaining()  # raises when the deadline, not the idle time, passed

    def _receive(self) -> bytes:
        self._wait()
        try:
            return bytes(self._recv(CHUNK))
        except TimeoutError:
            self._timed_out()
            raise

    def read_into(self, view: memoryview) -> int:
        """Up to `len(view)` bytes into `view`, as soon as any are there; 0 at the end."""
        if self._buffer or self._recv_into is None:
            data = self.read_some(len(view))
            view[: len(data)] = data
            return len(data)
        self._wait()
        try:
            return self._recv_into(view)
        except TimeoutError:
            self._timed_out()
            raise

    def readline(self) -> bytes:
        """One line with its end, or what is left before the connection closed."""
        start = 0
        while True:
            at = self._buffer.find(b"\n", start)
            if at >= 0:
                line = bytes(self._buffer[: at + 1])
                del self._buffer[: at + 1]
                if len(line) > MAX_LINE:
                    break
                return line
            if len(self._buffer) > MAX_LINE:
                break
            start = len(self._buffer)
            data = self._receive()
            if not data:
                line = bytes(self._buffer)
                self._buffer.clear()
                return line
            self._buffer += data
        raise ProtocolError("a line of the answer is longer than 64 KiB")

    def read_some(self, most: int) -> bytes:
        """Up to `most` bytes, as soon as any are there; empty at the end."""
        if not self._buffer:
            data = self._receive()
            if len(data) <= most:
                return data
            self._buffer += data
        taken = bytes(self._buffer[:most])
        del self._buffer[:most]
        return taken

    def read_exactly(self, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            data = self.read_some(count - len(out))
            if not data:
                raise CutShort(f"the connection closed after {len(out)} of {count} bytes")
            out += data
        return bytes(out)


class Response:
    """An answer whose status line and headers are read; its body is read on demand, once."""

    def __init__(self, wire: Wire, status: int, reason: str, headers: dict[str, str]) -> None:
        self.wire = wire
        self.status = status
        self.reason = reason
        self.headers = headers
        self.done = status in (204, 304)
        self.length: int | None = None
        self.chunked = False
        if not self.done:
            coding = headers.get("transfer-encoding")
            if coding is not None:
                if coding.strip().lower() != "chunked":
                    raise ProtocolError(f"unsupported Transfer-Encoding {coding[:30]!r}")
                self.chunked = True
            elif "content-length" in headers:
                self.length = parse_length(headers["content-length"])
        # Whether the body runs up to the close of the connection (which then cannot be kept).
        self.to_close = not self.done and not self.chunked and self.length is None

    def chunks(self, limit: int, what: str) -> Iterator[bytes]:
        """The body as it arrives, in pieces; `TooLarge` as soon as it would pass `limit`."""
        if self.done:
            return
        if self.length is not None and self.length > limit:
            raise TooLarge(f"{what}: the answer is {self.length} bytes, more than {limit}")
        if self.chunked:
            yield from self._chunked(limit, what)
        elif self.length is not None:
            left = self.length
            while left:
                data = self.wire.read_some(min(left, CHUNK))
                if not data:
                    raise CutShort(
                        f"the connection closed after {self.length - left} of {self.length} bytes"
                    )
                left -= len(data)
                yield data
        else:
            seen = 0
            while data := self.wire.read_some(CHUNK):
                seen += len(data)
                if seen > limit:
                    raise TooLarge(f"{what}: the answer is longer than {limit} bytes")
                yield data
        self.done = True

    def pieces_into(self, buffer: bytearray, limit: int, what: str) -> Iterator[memoryview]:
        """The body as `chunks` gives it, each piece read into `buffer` and yielded as a view of
        it (valid until the next piece is asked for): no copy for a body of known length."""
        view = memoryview(buffer)
        if self.done or self.length is None:
            for data in self.chunks(limit, what):
                for start in range(0, len(data), len(view)):
                    piece = data[start : start + len(view)]
                    view[: len(piece)] = piece
                    yield view[: len(piece)]
            return
        if self.length > limit:
            raise TooLarge(f"{what}: the answer is {self.length} bytes, more than {limit}")
        left = self.length
        while left:
            count = self.wire.read_into(view[: min(left, len(view))])
            if not count:
                raise CutShort(
                    f"the connection closed after {self.length - left} of {self.length} bytes"
                )
            left -= count
            yield view[:count]
        self.done = True

    def _chunked(self, limit: int, what: str) -> Iterator[bytes]:
        seen = 0
        while True:
            size_text = self.wire.readline().split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                raise ProtocolError(f"a malformed chunk size {size_text[:30]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            seen += size
            if seen > limit:
                raise TooLarge(f"{what}: the answer is longer than {limit} bytes")
            left = size
            while left:
                data = self.wire.read_some(min(left, CHUNK))
                if not data:
                    raise CutShort("the connection closed in the middle of a chunk")
                left -= len(data)
                yield data
            if self.wire.readline() not in (b"\r\n", b"\n"):
                raise ProtocolError("a chunk not followed by a line break")
        for _ in range(MAX_HEADERS + 1):  # trailers, ignored
            line = self.wire.readline()
            if line in (b"\r\n", b"\n"):
                return
            if not line:
                raise ProtocolError("the connection closed in the chunked body's trailer")
        raise ProtocolError(f"more than {MAX_HEADERS} trailer lines")

    def read(self, limit: int, what: str) -> bytes:
        """The whole body, at most `limit` bytes."""
        if self.length is not None and self.length <= limit:
            body = self.wire.read_exactly(self.length)
            self.done = True
            return body
        return b"".join(self.chunks(limit, what))


_HEX = frozenset(b"0123456789abcdefABCDEF")


def parse_length(text: str) -> int:
    """A Content-Length: plain decimal digits, at most 18 of them (no `1e20`, no sign)."""
    text = text.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise ProtocolError(f"a malformed Content-Length {text[:30]!r}")
    return int(text)


def read_head(wire: Wire) -> Response:
    """The next final answer's status line and headers (interim 1xx answers skipped)."""
    for index in range(MAX_INTERIM + 1):
        line = wire.readline()
        if not line:
            if index == 0:
                raise ClosedBeforeAnswer()
            raise ProtocolError("the connection closed before the answer")
        version, _, rest = line.rstrip(b"\r\n").partition(b" ")
        code, _, reason = rest.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x answer: {line[:60]!r}")
        status = int(code)
        headers = read_headers(wire)
        if status == 101 or status < 100:
            raise ProtocolError(f"unexpected status {status} to a GET")
        if status >= 200:
            answer = Response(wire, status, reason.decode("latin-1"), headers)
            answer.headers["\0version"] = version.decode("ascii")
            return answer
    raise ProtocolError(f"more than {MAX_INTERIM} interim answers")


def read_headers(wire: Wire) -> dict[str, str]:
    headers: dict[str, str] = {}
    last: str | None = None
    for _ in range(MAX_HEADERS + 1):
        line = wire.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ProtocolError("the connection closed in the middle of the headers")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last is not None:  # an obsolete folded line
            headers[last] += " " + text.strip()
            continue
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise ProtocolError(f"a malformed header line: {text[:60]!r}")
        value = value.strip()
        if name not in headers:
            headers[name] = value
        elif name in ("connection", "transfer-encoding", "content-encoding"):
            headers[name] += ", " + value
        elif name == "content-length" and headers[name] != value:
            raise ProtocolError("two different Content-Length headers")
        last = name
    raise ProtocolError(f"more than {MAX_HEADERS} headers")


def keeps_open(answer: Response) -> bool:
    tokens = {t.strip().lower() for t in answer.headers.get("connection", "").split(",")}
    if answer.headers.get("\0version") == "HTTP/1.1":
        return "close" not in tokens and not answer.to_close
    return "keep-alive" in tokens and not answer.to_close


def gunzip(body: bytes, limit: int, what: str) -> bytes:
    """`body` decoded from gzip, refused (`TooLarge`) as soon as the result would pass `limit`."""
    out = bytearray()
    data = body
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise TooLarge(f"{what}: the answer decodes to more than {limit} bytes")
            out += inflater.flush()
        except zlib.error as exc:
            raise FetchError(f"{what}: the gzip-encoded answer is corrupt ({exc})") from exc
        if len(out) > limit:
            raise TooLarge(f"{what}: the answer decodes to more than {limit} bytes")
        if not inflater.eof:
            raise FetchError(f"{what}: the gzip-encoded answer is cut short")
        data = inflater.unused_data  # a further gzip member
    return bytes(out)
