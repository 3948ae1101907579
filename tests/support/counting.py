"""A loopback TCP proxy that counts the bytes a server sent to its clients.

Put it in front of a registry (``CountingProxy(registry.port)``) and point the client at
``proxy.host``: a test can then assert how many bytes a download, or a resumed one, transferred
(``served``), per connection too (``connections``). With ``record=True`` it also keeps what
clients sent, so a test can read the ``Authorization`` headers a server received
(``authorizations``; plain HTTP only). It relays raw TCP, so HTTP keep-alive,
ranges and chunked answers pass through untouched, and the registry builds its upload and
redirect URLs from the ``Host`` the client sent (the proxy's).

Invariants: it listens on 127.0.0.1 on a port from the kernel; each accepted connection gets its
own upstream connection and two relaying threads; counts only ever grow until ``reset()``;
``close()`` (or leaving the ``with`` block) stops accepting, closes every open connection and
joins the threads.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

from support.service import Service

_AUTHORIZATION = re.compile(rb"^authorization:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
_CHUNK = 16 * 1024  # small: a client killed mid-answer leaves at most one chunk counted


class CountingProxy(Service):
    """Relays 127.0.0.1:``port`` (its own) to 127.0.0.1:``upstream_port``, counting."""

    def __init__(
        self,
        upstream_port: int,
        upstream_host: str = "127.0.0.1",
        rate: int = 0,
        *,
        record: bool = False,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rate = rate  # bytes a second sent back to clients; 0: as fast as they come
        self.record = record
        self._requests: list[bytearray] = []  # with `record`: what each connection sent
        self._lock = threading.Lock()
        self._counts: list[int] = []  # bytes server -> client, one per connection
        self._sent: list[int] = []  # bytes client -> server, one per connection
        self._sockets: set[socket.socket] = set()
        self._in_flight = 0  # pieces received and being passed on, not counted yet
        self._port: int | None = None
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self._port: int | None = listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            _shut(sock)
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        for thread in list(self._threads):
            thread.join(timeout=5)

    # -- where it is and what it counted ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The proxy's own port, from its start on (kept after `close`, for messages)."""
        if self._port is None:
            raise RuntimeError("proxy has not been started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference through the proxy."""
        return f"127.0.0.1:{self.port}"

    @property
    def served(self) -> int:
        """Bytes relayed from the server to clients since start (or ``reset()``)."""
        self._settle()
        with self._lock:
            return sum(self._counts)

    @property
    def received(self) -> int:
        """Bytes relayed from clients to the server since start (or ``reset()``)."""
        self._settle()
        with self._lock:
            return sum(self._sent)

    @property
    def connections(self) -> list[int]:
        """Bytes served on each connection, in the order they were accepted."""
        self._settle()
        with self._lock:
            return list(self._counts)

    def _settle(self, seconds: float = 2.0) -> None:
        """Wait (a little) for the pieces being passed on to be counted."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with self._lock:
                if not self._in_flight:
                    return
            time.sleep(0.005)

    @property
    def authorizations(self) -> list[str]:
        """The values of every ``Authorization`` header clients sent (with ``record=True``)."""
        self._settle()
        with self._lock:
            sent = [bytes(data) for data in self._requests]
        return [
            match.group(1).decode("latin-1")
            for data in sent
            for match in _AUTHORIZATION.finditer(data)
        ]

    def reset(self) -> None:
        """Forget the counts so far (connections still open count on from zero)."""
        with self._lock:
            self._counts[:] = [0] * len(self._counts)
            self._sent[:] = [0] * len(self._sent)

    # -- relaying --------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by close()
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                index = len(self._counts)
                self._counts.append(0)
                self._sent.append(0)
                self._requests.append(bytearray())
                self._sockets |= {client, server}
            pair = _Pair(client, server)
            for source, sink, counts in (
                (server, client, self._counts),
                (client, server, self._sent),
            ):
                thread = threading.Thread(
                    target=self._pump, args=(pair, source, sink, counts, index), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _pump(
        self,
        pair: _Pair,
        source: socket.socket,
        sink: socket.socket,
        counts: list[int],
        index: int,
    ) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                # Counted once passed on (bytes a dead client never took are not), and in flight
                # meanwhile: a reader of the counts waits for the pieces on their way.
                with self._lock:
                    self._in_flight += 1
                try:
                    sink.sendall(chunk)
                except OSError:
                    with self._lock:
                        self._in_flight -= 1
                    raise
                with self._lock:
                    self._in_flight -= 1
                    counts[index] += len(chunk)
                    if self.record and counts is self._sent:
                        self._requests[index] += chunk
                if self.rate and counts is self._counts:
                    time.sleep(len(chunk) / self.rate)
            # An orderly end of one direction is passed on as such (a half-close), so the
            # other direction can still finish its answer.
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            # A reset or a write to a closed peer: end both directions now.
            _shut(sink)
            _shut(source)
        with self._lock:
            pair.ended += 1
            last = pair.ended == 2
            if last:
                self._sockets -= {pair.client, pair.server}
        if last:
            _shut(pair.client)
            _shut(pair.server)


class _Pair:
    """The two sockets of one relayed connection, closed once both directions ended."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.ended = 0


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
