"""Connections to a server, kept alive one per origin and thread, through the proxy the
environment configures (plain requests in absolute form for http, a CONNECT tunnel for https).
TLS certificates are verified; `ssl` is loaded only for https (it takes longer to load than a
whole query)."""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from image_catalog.web.errors import (
    ClosedBeforeAnswer,
    CredentialsInUrl,
    FetchError,
    ProtocolError,
    ServerUnreachable,
    redact,
)
from image_catalog.web.wire import Deadline, Response, Wire, keeps_open, read_head

if TYPE_CHECKING:
    import ssl


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL this client fetches; `FetchError` for any other."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{redact(url)}: only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise CredentialsInUrl(
            f"{redact(url)}: credentials in a URL would show in messages and logs; serve the "
            "index without them, or through a proxy that adds them"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"{redact(url)}: {exc}") from None
    host = parts.hostname
    if not host or not host.isascii() or not host.isprintable() or " " in host:
        raise FetchError(f"{redact(url)}: not a plain host name")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def target_of(url: str) -> str:
    """The request target (path and query) of `url`, which must be printable ASCII."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.isascii() or not target.isprintable() or " " in target:
        raise FetchError(f"{redact(url)}: the path is not plain printable ASCII")
    return target


_TLS: ssl.SSLContext | None = None
_TLS_LOCK = threading.Lock()


def tls_context() -> ssl.SSLContext:
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


def forget_tls() -> None:
    """Make the next https connection read the trusted certificates again (SSL_CERT_FILE)."""
    global _TLS
    with _TLS_LOCK:
        _TLS = None


@dataclass(frozen=True)
class Origin:
    """Where requests go: the server, or the proxy in front of it (`proxy`, with its
    `Proxy-Authorization` value when its URL names a user)."""

    scheme: str
    host: str
    port: int
    proxy: tuple[str, int] | None = None
    proxy_authorization: str | None = None

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        return bracketed if self.port == default else f"{bracketed}:{self.port}"


def origin_of(url: str) -> Origin:
    """The origin of an http(s) URL, through the proxy the environment configures for it."""
    scheme, host, port = check_url(url)
    proxy = _proxy_for(scheme, urlsplit(url).netloc)
    if proxy is None:
        return Origin(scheme, host, port)
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme != "http" or not parts.hostname:
        raise FetchError(f"the proxy {redact(proxy)}: only http:// proxies are supported")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Origin(scheme, host, port, (parts.hostname, parts.port or 80), authorization)


def _proxy_for(scheme: str, netloc: str) -> str | None:
    # urllib reads proxies from the environment, and on macOS and Windows from the system too.
    configured = any(name.lower().endswith("_proxy") and v for name, v in os.environ.items())
    if not configured and sys.platform not in ("darwin", "win32"):
        return None
    import urllib.request  # the proxy settings as urllib reads them

    proxies = urllib.request.getproxies()
    if scheme not in proxies or urllib.request.proxy_bypass(netloc):
        return None
    return proxies[scheme]


class Connection:
    """One connection to one origin, opened when first needed; used by one thread at a time."""

    def __init__(self, origin: Origin, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        self.origin = origin
        self.timeout = timeout
        self.tls = tls
        self._sock: socket.socket | None = None
        self._wire: Wire | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def request(
        self, url: str, headers: Mapping[str, str], deadline: Deadline
    ) -> tuple[Response, Wire]:
        """Send a GET for `url` and read its answer's head; the body is the caller's to read."""
        if self._sock is None or self._wire is None:
            self._open(deadline)
        assert self._sock is not None
        assert self._wire is not None
        origin = self.origin
        plain_proxy = origin.proxy is not None and origin.scheme == "http"
        lines = [f"GET {url if plain_proxy else target_of(url)} HTTP/1.1"]
        lines.append(f"Host: {origin.host_header}")
        if plain_proxy:
            lines.append("Connection: close")
            if origin.proxy_authorization:
                lines.append(f"Proxy-Authorization: {origin.proxy_authorization}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._wire.deadline = deadline
        try:
            self._sock.settimeout(min(self.timeout, deadline.remaining()))
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return read_head(self._wire), self._wire
        except BaseException:
            self.close()
            raise

    def _open(self, deadline: Deadline) -> None:
        origin = self.origin
        host, port = origin.proxy or (origin.host, origin.port)
        # The host name as bytes: getaddrinfo would load the IDNA codec for a str (typeshed
        # does not list bytes, which it takes).
        address: Any = (host.encode("ascii"), port)
        sock = socket.create_connection(address, min(self.timeout, deadline.remaining()))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.proxy is not None and origin.scheme == "https":
                self._tunnel(sock, deadline)
            if origin.scheme == "https":
                sock.settimeout(min(self.timeout, deadline.remaining()))
                sock = (self.tls or tls_context()).wrap_socket(sock, server_hostname=origin.host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._wire = Wire(sock.recv, sock.settimeout, self.timeout, sock.recv_into)

    def _tunnel(self, sock: socket.socket, deadline: Deadline) -> None:
        """Ask the proxy for a tunnel to the origin (CONNECT), for TLS through it."""
        origin = self.origin
        lines = [f"CONNECT {origin.host}:{origin.port} HTTP/1.1", f"Host: {origin.host_header}"]
        if origin.proxy_authorization:
            lines.append(f"Proxy-Authorization: {origin.proxy_authorization}")
        sock.settimeout(min(self.timeout, deadline.remaining()))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        wire = Wire(sock.recv, sock.settimeout, self.timeout)
        wire.deadline = deadline
        answer = read_head(wire)
        if answer.status != 200:
            raise ServerUnreachable(f"the proxy refused the tunnel (HTTP {answer.status})")
        # Anything the proxy sent beyond its answer would belong to TLS: there is none to read.

    def close(self) -> None:
        sock = self._sock
        self._sock = self._wire = None
        if sock is not None:
            sock.close()

    def __del__(self) -> None:
        # A pool dropped with its thread or its client closes its connections quietly.
        self.close()


class Pool:
    """Each thread's connections, one per origin.

    A kept connection the server closed or reset while it was idle is found out when it is used
    again: the request (a GET, which may be repeated) is then sent once more on a new
    connection. A new connection that fails, or a kept one that times out, is an error.
    """

    def __init__(self, timeout: float = 10.0, tls: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        self.tls = tls  # a context of the caller's (other CAs, no verification); else the default
        self._local = threading.local()

    def connection(self, origin: Origin) -> Connection:
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            # A new thread, or a forked child: never use a connection another process holds.
            local.pid = pid
            local.connections = {}
        connections: dict[Origin, Connection] = local.connections
        found = connections.get(origin)
        if found is None:
            found = connections[origin] = Connection(origin, self.timeout, self.tls)
        return found

    def open(
        self, url: str, origin: Origin, headers: Mapping[str, str], deadline: Deadline
    ) -> tuple[Response, Connection]:
        connection = self.connection(origin)
        kept = connection.is_open
        try:
            answer, _ = connection.request(url, headers, deadline)
        except (OSError, ProtocolError) as exc:  # closed, reset, a broken pipe, a TLS session end
            retry = kept and isinstance(exc, ConnectionError | ClosedBeforeAnswer)
            if not retry:
                raise
            answer, _ = connection.request(url, headers, deadline)
        return answer, connection


def release(answer: Response, connection: Connection) -> None:
    """After the body was read (or given up): keep the connection only when it can be reused."""
    if not answer.done or not keeps_open(answer):
        connection.close()
