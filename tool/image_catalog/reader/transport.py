"""HTTP/1.1 GETs on kept-alive connections, one set per thread: how the reader asks a server.

A query is one or two small conditional GETs. Opening a connection for each, and loading
http.client (with email and ssl) to do it, would cost more than the answers. This module speaks
just what the reader needs over a socket: a GET with a few headers; a status line, headers and a
body by Content-Length, chunked, or up to the close. TLS is loaded only for https.

Each thread keeps one connection per server (`Pool`) and sends its next request on it while the
server keeps it open (HTTP/1.1 without `Connection: close`). A kept connection the server closed
or reset while it was idle is found out when it is used again: the request (a GET, which may be
repeated) is then sent once more on a new connection. A new connection that fails, or a kept
one that times out, is an error, never retried.

Proxies, redirects and credentials in the URL are not handled here: `HttpSource` sends those
requests through urllib instead.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import ssl

MAX_LINE = 65536  # the longest status or header line read (as http.client)
MAX_HEADERS = 100


class ProtocolError(Exception):
    """The answer is not HTTP/1.x as this reader understands it, or it was cut short."""


class _ClosedBeforeAnswer(ConnectionError):
    """The connection was closed before the first byte of an answer."""

    def __init__(self) -> None:
        super().__init__("the server closed the connection without answering")


class Reply:
    """One answer: its status, its headers (names in lower case) and its whole body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


_TLS: ssl.SSLContext | None = None
_TLS_LOCK = threading.Lock()


def _tls() -> ssl.SSLContext:
    """One TLS context for the process, as urllib makes it (certificates verified)."""
    global _TLS
    with _TLS_LOCK:
        if _TLS is None:
            import ssl  # only for https: it takes longer to load than a whole query

            # The hook PEP 476 documents: what urllib and http.client use when given no context.
            context = ssl._create_default_https_context()
            context.set_alpn_protocols(["http/1.1"])
            _TLS = context
        return _TLS


class Connection:
    """One connection to one server, opened when first needed; used by one thread at a time."""

    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.timeout = timeout
        default = 443 if scheme == "https" else 80
        bracketed = f"[{host}]" if ":" in host else host
        self.host_header = bracketed if port == default else f"{bracketed}:{port}"
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def get(self, target: str, headers: Mapping[str, str]) -> Reply:
        """GET `target` (the path and query); raises OSError or ProtocolError."""
        sock, file = self._sock, self._file
        if sock is None or file is None:
            sock, file = self._open()
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            reply, keep = read_reply(file)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return reply

    def _open(self) -> tuple[socket.socket, BinaryIO]:
        # The host name as bytes: getaddrinfo would load the IDNA codec for a str (typeshed
        # does not list bytes, which it takes).
        address: Any = (self.host.encode("ascii"), self.port)
        sock = socket.create_connection(address, self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                sock = _tls().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        file = sock.makefile("rb")
        self._sock, self._file = sock, file
        return sock, file

    def close(self) -> None:
        file, sock = self._file, self._sock
        self._file = self._sock = None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()

    def __del__(self) -> None:
        # A pool dropped with its thread or its client closes its connections quietly.
        self.close()


class Pool:
    """Each thread's connections, one per server; see the module documentation."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self, scheme: str, host: str, port: int) -> Connection:
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            # A new thread, or a forked child: never use a connection another process holds.
            local.pid = pid
            local.connections = {}
        connections: dict[tuple[str, str, int], Connection] = local.connections
        key = (scheme, host, port)
        found = connections.get(key)
        if found is None:
            found = connections[key] = Connection(scheme, host, port, self.timeout)
        return found

    def get(
        self, scheme: str, host: str, port: int, target: str, headers: Mapping[str, str]
    ) -> Reply:
        """GET on this thread's connection to the server; once more on a new one when a kept
        connection turns out to be closed or reset."""
        connection = self._connection(scheme, host, port)
        kept = connection.is_open
        try:
            return connection.get(target, headers)
        except OSError as exc:  # closed, reset, a broken pipe, a TLS session ended
            if not kept or isinstance(exc, TimeoutError):
                raise
        return connection.get(target, headers)


# --- reading an answer ---------------------------------------------------------------------------


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("a line of the answer is longer than 64 KiB")
    return line


def read_reply(stream: BinaryIO) -> tuple[Reply, bool]:
    """The next answer on `stream` (interim 1xx answers skipped), and whether the connection
    stays open after it; raises ProtocolError when the answer is not HTTP/1.x as read here."""
    first = True
    while True:
        line = _line(stream)
        if not line:
            if first:
                raise _ClosedBeforeAnswer()
            raise ProtocolError("the connection closed before the answer")
        first = False
        version, _, rest = line.rstrip(b"\r\n").partition(b" ")
        code, _, reason = rest.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x answer: {line[:60]!r}")
        status = int(code)
        headers = _read_headers(stream)
        if status == 101 or status < 100:
            raise ProtocolError(f"unexpected status {status} to a GET")
        if status >= 200:
            break
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = "close" not in tokens if version == b"HTTP/1.1" else "keep-alive" in tokens
    if status in (204, 304):
        return Reply(status, reason.decode("latin-1"), headers, b""), keep
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise ProtocolError(f"unsupported Transfer-Encoding {coding!r}")
        body = _read_chunked(stream)
    elif "content-length" in headers:
        body = _read_exactly(stream, _length(headers["content-length"]))
    else:
        body = stream.read()  # up to the close
        keep = False
    return Reply(status, reason.decode("latin-1"), headers, body), keep


def _read_headers(stream: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    last: str | None = None
    for _ in range(MAX_HEADERS + 1):
        line = _line(stream)
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


def _length(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ProtocolError(f"a malformed Content-Length {text[:30]!r}")
    return int(text)


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) < count:
        raise ProtocolError(f"the connection closed after {len(data)} of {count} bytes")
    return data


_HEX = frozenset(b"0123456789abcdefABCDEF")


def _read_chunked(stream: BinaryIO) -> bytes:
    parts = []
    while True:
        size_text = _line(stream).split(b";", 1)[0].strip()
        if not size_text or not _HEX.issuperset(size_text):
            raise ProtocolError(f"a malformed chunk size {size_text[:30]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        parts.append(_read_exactly(stream, size))
        if _line(stream) not in (b"\r\n", b"\n"):
            raise ProtocolError("a chunk not followed by a line break")
    for _ in range(MAX_HEADERS + 1):  # trailers, ignored
        line = _line(stream)
        if line in (b"\r\n", b"\n"):
            return b"".join(parts)
        if not line:
            raise ProtocolError("the connection closed in the chunked body's trailer")
    raise ProtocolError(f"more than {MAX_HEADERS} trailer lines")
