"""A loopback HTTP server that plays hostile or broken answers, for the tests of what reads from
servers: gzip bombs, endless and dripping bodies, absurd headers, bad redirects.

Each request is answered by the `Play` registered for its path (`server.play(path, play)`), or by
a file of `files` (a site), or 404. A play writes raw bytes on the socket, so any answer can be
made, however wrong. The server stops its plays when it stops (`stop` is set), so a test never
leaves an endless one behind.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

Play = Callable[["Request"], None]


@dataclass
class Request:
    """One request as received, and the socket to answer on."""

    method: str
    target: str
    headers: dict[str, str]
    sock: socket.socket
    stop: threading.Event

    def send(self, data: bytes) -> bool:
        """Send `data`; False when the client has gone (the play should end)."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return not self.stop.is_set()


@dataclass
class HostileServer:
    files: dict[str, bytes] = field(default_factory=dict)
    plays: dict[str, Play] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def play(self, path: str, play: Play) -> None:
        self.plays[path] = play

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            reader = sock.makefile("rb")
            while not self.stop.is_set():
                try:
                    line = reader.readline(65537)
                except OSError:
                    return
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                request = Request(method, target, headers, sock, self.stop)
                self.requests.append(request)
                path = target.split("?")[0].lstrip("/")
                if target.startswith("http://"):  # absolute form, as a proxy is asked
                    path = target.split("/", 3)[3] if target.count("/") >= 3 else ""
                play = self.plays.get(path)
                try:
                    if play is not None:
                        play(request)
                        return  # plays close the connection after them
                    body = self.files.get(path)
                    if body is None:
                        request.send(answer(404, b"not here\n"))
                    else:
                        request.send(answer(200, body))
                except OSError:
                    return


def answer(status: int, body: bytes, *headers: str, reason: str = "X") -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length."""
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def raw(data: bytes) -> Play:
    """A play that sends `data` and closes."""

    def play(request: Request) -> None:
        request.send(data)

    return play


def endless(head: bytes, piece: bytes, *, every: float = 0.0) -> Play:
    """A play that sends `head`, then `piece` again and again (every `every` seconds) until the
    client goes or the server stops."""

    def play(request: Request) -> None:
        if not request.send(head):
            return
        while request.send(piece):
            if every:
                time.sleep(every)

    return play
