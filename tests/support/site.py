"""Helpers for index tests: small catalogs written entry by entry, and a CDN-like HTTP server.

`SiteServer` serves a built site on 127.0.0.1 the way a CDN or nginx with `gzip_static` does:
ETags taken from the site's SHA256SUMS (the content hash the build publishes for this), a
Last-Modified from each file's mtime, 304s for If-None-Match and If-Modified-Since, and the .gz
beside a file when the client accepts gzip. It counts every answer, so tests can assert that a
second fetch was a 304 and which files a query read. With keep_alive=True it speaks HTTP/1.1 and
keeps connections open (it counts them; a test can close or reset the idle ones); otherwise it
answers HTTP/1.0 and closes each connection after one answer.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import struct
import threading
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from support.catalogs import empty_catalog
from support.entries import write_entry

# --- catalogs ----------------------------------------------------------------------------------

PUBLIC_REGISTRY = """\
apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1
kind: Registry
metadata:
  name: internal
spec:
  kind: openshift
  host: registry.internal.svc:5000
  publicHost: images.example.com
"""
LAB_REGISTRY = """\
apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1
kind: Registry
metadata:
  name: lab
spec:
  kind: generic
  host: lab.example.net:5000
  tlsVerify: false
"""


def new_catalog(root: Path) -> Path:
    """A catalog with the shipped vocabulary, two registries (one with a public host, one plain
    HTTP) and no images."""
    return empty_catalog(root, {"internal": PUBLIC_REGISTRY, "lab": LAB_REGISTRY})


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def add_image(
    catalog: Path,
    name: str,
    version: str,
    published: str,
    *,
    architectures: tuple[str, ...] = ("x86_64",),
    distro: str = "autosd10",
    targets: tuple[str, ...] = ("qemu",),
    tags: tuple[str, ...] = (),
    deprecated: bool = False,
    disk: bool = False,
    host: str = "registry.internal.svc:5000",
    boot_url: str | None = None,
    **spec: Any,
) -> Path:
    """Write images/NAME/VERSION.yaml: one container (or, with disk=True, one disk artifact with
    two partitions, the first served from `boot_url` when given) per architecture; digests are
    derived from name, version and architecture."""
    repo = f"{host}/builds/{name}"
    variants = []
    for arch in architectures:
        manifest: dict[str, Any] = {
            "ref": f"{repo}@{_digest(name, version, arch)}",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 1000,
        }
        if disk:
            manifest["files"] = [
                {
                    "title": f"{part}.img.gz",
                    "mediaType": "application/vnd.automotive.disk.raw+gzip",
                    "compression": "gzip",
                    "sha256": _digest(name, version, arch, part)[7:],
                    "size": 1000 + i,
                    "decompressedSize": 4000 + i,
                    "partition": part,
                }
                for i, part in enumerate(("boot", "rootfs"))
            ]
            if boot_url:
                manifest["files"][0]["downloadUrl"] = boot_url
        variants.append({"architecture": arch, "disk" if disk else "container": manifest})
    body: dict[str, Any] = {
        "displayName": f"{name} {version}",
        "distro": distro,
        "targets": [{"name": t, "verified": i == 0} for i, t in enumerate(targets)],
        "tags": list(tags),
        "variants": variants,
        "source": {"prebuilt": {"origin": "tests"}},
        "publishedAt": published,
        **spec,
    }
    if deprecated:
        body["lifecycle"] = {"deprecated": {"reason": "broken", "date": "2026-02-01"}}
    return write_entry(catalog, name, version, body)


def site_bytes(site: Path) -> dict[str, bytes]:
    """Every file of a site by relative path."""
    return {
        str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()
    }


# --- a CDN-like server -------------------------------------------------------------------------


class SiteServer:
    """A site served on loopback; see the module documentation."""

    def __init__(
        self,
        root: Path,
        *,
        etags: bool = True,
        keep_alive: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """tls: (certificate, key) PEM files to serve HTTPS with."""
        self.root = root
        self.etags = etags
        self.keep_alive = keep_alive
        self.answers: Counter[tuple[str, int]] = Counter()
        self.fail_with: int | None = None  # answer every request with this status instead
        # Requests for paths under this prefix are redirected (301) to the path without it.
        self.redirect_prefix: str | None = None
        self.requests: list[dict[str, str]] = []
        self.connections = 0  # connections accepted
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        # A short poll interval: stopping the server waits for it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering: later connections are refused, open ones closed."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self.drop_connections()

    def drop_connections(self, *, reset: bool = False) -> None:
        """Close the open connections (reset=True: abort them with a TCP reset) and wait until
        their handlers are done."""
        with self._lock:
            open_now = list(self._open)
        for connection in open_now:
            try:
                if reset:
                    connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    connection.shutdown(socket.SHUT_RD)  # the handler stops; its close resets
                else:
                    connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                if not self._open & set(open_now):
                    return
            time.sleep(0.01)
        raise AssertionError("the server's connections did not close")

    def count(self, path: str, status: int) -> int:
        return self.answers[path, status]

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def _etag(self, relative: str, data: bytes) -> str:
        sums = self.root / "SHA256SUMS"
        if sums.is_file():
            for line in sums.read_text().splitlines():
                digest, _, path = line.partition("  ")
                if path == relative:
                    return f'"{digest}"'
        return f'"{hashlib.sha256(data).hexdigest()}"'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if server.keep_alive else "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1
                    server._open.add(self.connection)

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with server._lock:
                        server._open.discard(self.connection)

            def do_GET(self) -> None:
                relative = unquote(urlsplit(self.path).path).lstrip("/")
                headers = {key.title(): value for key, value in self.headers.items()}
                server.requests.append({"path": relative, **headers})
                self._requested = relative
                self._answer(relative)

            def send_response(self, code: int, message: str | None = None) -> None:
                # Counted before the client can read the answer, so a test that asserts right
                # after its request returns sees it.
                server.answers[self._requested, code] += 1
                super().send_response(code, message)

            def _answer(self, relative: str) -> int:
                if server.fail_with is not None:
                    self.send_error(server.fail_with)
                    return server.fail_with
                prefix = server.redirect_prefix
                if prefix is not None and relative.startswith(prefix):
                    self.send_response(301)
                    self.send_header("Location", "/" + relative.removeprefix(prefix))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return 301
                file = (server.root / relative).resolve()
                if server.root.resolve() not in file.parents or not file.is_file():
                    self.send_error(404)
                    return 404
                encoding = None
                gz = file.with_name(file.name + ".gz")
                if "gzip" in self.headers.get("Accept-Encoding", "") and gz.is_file():
                    file, encoding, relative = gz, "gzip", relative + ".gz"
                data = file.read_bytes()
                etag = server._etag(relative, data)
                mtime = int(file.stat().st_mtime)
                if self._not_modified(etag, mtime):
                    self.send_response(304)
                    self._validators(etag, mtime)
                    self.end_headers()
                    return 304
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if encoding:
                    self.send_header("Content-Encoding", encoding)
                self._validators(etag, mtime)
                self.end_headers()
                self.wfile.write(data)
                return 200

            def _not_modified(self, etag: str, mtime: int) -> bool:
                if server.etags and "If-None-Match" in self.headers:
                    return self.headers["If-None-Match"] == etag
                since = self.headers.get("If-Modified-Since")
                return since is not None and int(parsedate_to_datetime(since).timestamp()) >= mtime

            def _validators(self, etag: str, mtime: int) -> None:
                if server.etags:
                    self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(mtime, usegmt=True))

        return Handler


def serve_copy(
    site: Path, into: Path, *, etags: bool = True, keep_alive: bool = False
) -> SiteServer:
    """A server (not yet started: use it in a `with`) of a copy of `site` made at `into`, so the
    test may change what is served without touching `site`."""
    shutil.copytree(site, into)
    return SiteServer(into, etags=etags, keep_alive=keep_alive)
