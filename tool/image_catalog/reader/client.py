"""Reading a published index, for `query`, `show` and any program: `IndexClient`.

The index is a local folder (`index build --out DIR`) or an HTTP(S) URL. Over HTTP every file is
fetched with a conditional request (If-None-Match / If-Modified-Since) against an on-disk cache,
so an unchanged file costs a 304 and no body; when the server cannot be reached the cached copy is
used and a warning says how old it is. A copy the server confirmed less than `max_age` seconds
ago (default DEFAULT_MAX_AGE, 1 s; 0 asks every time) is used without asking again, and each
thread keeps its connection to the server open between requests. Each answer comes from the
smallest file that holds it:
`catalog.json` (small) says how many rows every view has, and the client reads the smallest view
instead of `index.json`.

    from image_catalog.reader.client import IndexClient, Query

    client = IndexClient("https://images.example.com/catalog/")
    for image in client.query(Query(architecture="arm64", target="rpi4")).images:
        print(image.name, image.version, image.variants[0].oci)
    detail = client.show("autosd10-rpi4").version        # the latest version, in full

The client never prints: warnings come back in each result's `warnings`. Documents are decoded
with msgspec straight into the `site.contract` types the builder writes; this module imports
nothing from the catalog's authoring side (no pydantic, no YAML), so a query starts fast.

With a trust file (`IndexClient(..., trust=PATH)` or $IMAGE_CATALOG_TRUST) the client reads only
a signed index: `reader.trust` verifies SHA256SUMS.sig, then each file against SHA256SUMS before it
is parsed or cached, and refuses a site older than one it has already seen.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast
from urllib.parse import urljoin, urlsplit

import msgspec

from image_catalog import __version__
from image_catalog.errors import CatalogError, RegistryUnavailable, UsageError
from image_catalog.naming import closest, is_name, is_version, schedule_tag

if TYPE_CHECKING:
    from urllib.request import OpenerDirector

    from image_catalog.reader.transport import Pool
    from image_catalog.reader.trust import Check, SignedSums, Trust

from image_catalog.reader import memo
from image_catalog.site import contract
from image_catalog.site.contract import (
    VIEW_DIMENSIONS,
    Document,
    ImageDoc,
    IndexDoc,
    SiteDoc,
    StatusDoc,
    Summary,
    VersionDoc,
    ViewBy,
    ViewDoc,
)
from image_catalog.site.parse import Parse, decode_without_gc, model_of, parser

INDEX_ENV = "IMAGE_CATALOG_INDEX"
CACHE_ENV = "IMAGE_CATALOG_CACHE_DIR"
TRUST_ENV = "IMAGE_CATALOG_TRUST"
DEFAULT_INDEX = "site"
DEFAULT_TIMEOUT = 10.0
# How long a copy the server confirmed is used without asking it again (`IndexClient(max_age=)`).
DEFAULT_MAX_AGE = 1.0

_UNREACHABLE_STATUS = {429, 500, 502, 503, 504}
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
_REFUSED_STATUS = {401, 403, 407}

D = TypeVar("D", bound=Document)
T = TypeVar("T")


class NotInIndex(CatalogError):
    """The index has no such file: an unknown image or version, or not an index at all."""


def default_location() -> str:
    return os.environ.get(INDEX_ENV) or DEFAULT_INDEX


def default_cache_dir() -> Path:
    """$IMAGE_CATALOG_CACHE_DIR, else $XDG_CACHE_HOME/image-catalog, else ~/.cache/image-catalog."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "image-catalog"


def describe_age(seconds: float) -> str:
    """'42 s', '5 min', '3 h 12 min', '2 days 4 h': how old a cached copy is."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


# --- where the files come from ----------------------------------------------------------------


class Answer(msgspec.Struct, Generic[D], frozen=True):
    """A parsed document, where it was read, and a warning when it is a stale cached copy."""

    doc: D
    location: str
    warning: str | None = None
    body: bytes = b""  # the JSON `doc` was decoded from

    def __repr__(self) -> str:
        return f"Answer({self.doc!r}, {self.location!r}, {self.warning!r})"


class SiteReader(Protocol):
    location: str

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        """Read `relative` (a path inside the site) and parse it; raises NotInIndex when absent."""
        ...


class DirectorySource:
    """A site on the local file system."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise UsageError(
                f"{root}: no index here (build one with 'image-catalog index build --out {root}', "
                f"or pass --index DIR|URL or set ${INDEX_ENV})"
            )
        self.root = root
        self.location = str(root)

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        path = self.root / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotInIndex(f"{path}: no such file in the index") from exc
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        return Answer(parse(data, str(path)), str(path), body=data)


class CachedCopy(msgspec.Struct, frozen=True):
    body: bytes
    etag: str | None
    last_modified: str | None
    checked_at: float
    sha256: str | None = None  # the body's, when known already (it is hashed once)


class Cache:
    """Bodies and validators of fetched files, one pair of files per URL.

    The metadata names the body's sha256, so a body torn by a crash is never served as valid.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = _sha256(url.encode("utf-8"))[:40]
        return self.root / f"{key}.json", self.root / f"{key}.meta"

    def get(self, url: str) -> CachedCopy | None:
        body_path, meta_path = self._paths(url)
        try:
            meta = msgspec.json.decode(meta_path.read_bytes())
            body = body_path.read_bytes()
        except (OSError, msgspec.DecodeError):
            return None
        if not isinstance(meta, dict) or meta.get("url") != url:
            return None
        digest = _sha256(body)
        if meta.get("sha256") != digest:
            return None
        checked = meta.get("checkedAt", 0)
        if not isinstance(checked, int | float):
            return None  # damaged metadata: as good as no cached copy
        return CachedCopy(body, meta.get("etag"), meta.get("lastModified"), float(checked), digest)

    def put(
        self, url: str, copy: CachedCopy, *, body: bool = True, sha256: str | None = None
    ) -> None:
        """Store a copy; body=False only records that the server confirmed it (after a 304).

        `sha256` is the body's, when the caller has it already.
        """
        body_path, meta_path = self._paths(url)
        meta = {
            "url": url,
            "etag": copy.etag,
            "lastModified": copy.last_modified,
            "checkedAt": copy.checked_at,
            "sha256": sha256 or copy.sha256 or _sha256(copy.body),
        }
        # Not synced to disk: a copy lost in a crash costs one download, and a torn one is never
        # served (the metadata names the body's sha256).
        if body:
            _replace(body_path, copy.body)
        _replace(meta_path, msgspec.json.encode(meta, order="sorted") + b"\n")

    def drop(self, url: str) -> None:
        for path in self._paths(url):
            path.unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    """Write `path` anew through a temporary file renamed over it, not synced (a cache file).

    The temporary file is named after the process and thread, which no other live writer has:
    one found under that name was left by a crash (or planted) and is removed first; the new one
    is made only where nothing has its name (a link there is never followed).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    except FileExistsError:
        tmp.unlink()
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256(data: bytes) -> str:
    import hashlib  # only the HTTP cache needs it, and OpenSSL is slow to load

    return hashlib.sha256(data).hexdigest()


class _Response(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


class _Unreachable(Exception):
    """The server did not answer usefully; a cached copy may stand in."""


class HttpSource:
    """A site served over HTTP(S), with conditional requests and an on-disk cache.

    A read asks the server (a conditional request) unless the server confirmed the cached copy
    less than `max_age` seconds ago, in this process or as the cache folder records it (its
    `checkedAt`); with max_age=0 every read asks. Requests go out on connections each thread
    keeps open (`site.transport`); through urllib when a proxy is configured for the server.

    Beside the on-disk cache, the documents decoded from it are held in memory (`site.memo`,
    shared by the clients of one cache folder in this process), so a 304 answer costs neither a
    disk read nor a decode; they are shared: treat them as read-only. After a 304 for a held
    copy, the on-disk `checkedAt` is rewritten at most every `memo.RECORD_EVERY` seconds (a
    warning may then call a cached copy that much older).
    """

    def __init__(
        self,
        base_url: str,
        cache: Cache | None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        max_age: float = 0.0,
    ) -> None:
        if not max_age >= 0:
            raise UsageError(f"max_age {max_age!r}: give a number of seconds, 0 or more")
        self.location = base_url if base_url.endswith("/") else base_url + "/"
        self.cache = cache
        self.timeout = timeout
        self.clock = clock
        self.max_age = max_age
        self.memo = memo.shared(cache.root) if cache is not None else None
        self._pool: Pool | None = None  # made with the first request
        self._pool_lock = threading.Lock()
        self._origin = _direct_origin(self.location)
        self._opener: OpenerDirector | None = None

    def _fresh(self, confirmed: float | None) -> bool:
        """Whether a copy the server confirmed at `confirmed` is used without asking again."""
        return confirmed is not None and 0 <= self.clock() - confirmed < self.max_age

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        url = urljoin(self.location, relative)
        held = self.memo.get(url) if self.memo is not None else None
        if held is not None:
            return self._read_held(relative, url, held, parse)
        cached = self.cache.get(url) if self.cache else None
        if cached is not None and self.max_age and self._fresh(cached.checked_at):
            try:
                doc = parse(cached.body, f"{url} (cached)")
            except CatalogError:
                self._drop(url)
                return self.read(relative, parse)
            self._hold(url, cached, parse, doc)
            return Answer(doc, url, body=cached.body)
        try:
            response = self._get(url, cached)
        except _Unreachable as exc:
            return self._unreachable(url, cached, exc, parse)
        if response.status == 304 and cached is not None:
            try:
                doc = parse(cached.body, f"{url} (cached)")
            except CatalogError:
                # A copy this client cannot read (written by another version): fetch it whole.
                self._drop(url)
                return self.read(relative, parse)
            confirmed = CachedCopy(
                cached.body, cached.etag, cached.last_modified, self.clock(), cached.sha256
            )
            digest = self._hold(url, confirmed, parse, doc)
            self._store(url, confirmed, body=False, sha256=digest)
            return Answer(doc, url, body=cached.body)
        return self._fetched(url, response, parse)

    def _fetched(self, url: str, response: _Response, parse: Parse[D]) -> Answer[D]:
        doc = parse(response.body, url)  # only a body that parses is cached
        copy = CachedCopy(response.body, response.etag, response.last_modified, self.clock())
        digest = self._hold(url, copy, parse, doc)
        self._store(url, copy, sha256=digest)
        return Answer(doc, url, body=response.body)

    def _read_held(self, relative: str, url: str, held: memo.Held, parse: Parse[D]) -> Answer[D]:
        """`read`, asking the server whether the copy held in memory is still current."""
        assert self.memo is not None
        if self.max_age and self._fresh(self.memo.confirmed(url)):
            return self._held_answer(relative, url, held, parse, confirmed=None)
        conditional = CachedCopy(held.body, held.etag, held.last_modified, 0.0)
        try:
            response = self._get(url, conditional)
        except _Unreachable as exc:
            # The on-disk copy knows when it was last confirmed, for the warning.
            cached = self.cache.get(url) if self.cache else None
            return self._unreachable(url, cached, exc, parse)
        if response.status != 304:
            self.memo.drop(url)
            return self._fetched(url, response, parse)
        return self._held_answer(relative, url, held, parse, confirmed=self.clock())

    def _held_answer(
        self, relative: str, url: str, held: memo.Held, parse: Parse[D], confirmed: float | None
    ) -> Answer[D]:
        """The answer from a held copy; `confirmed`: when the server just confirmed it."""
        assert self.memo is not None
        model = model_of(parse)
        doc: D | None = self.memo.doc(url, held, model) if model is not None else None
        if doc is None:
            # A document type not decoded from this body yet, or a parse with a check of its
            # own (a trust file's hash check), which runs on every read.
            try:
                doc = parse(held.body, f"{url} (cached)")
            except CatalogError:
                self._drop(url)
                return self.read(relative, parse)
            if model is not None:
                self.memo.put(
                    url, held.body, held.etag, held.last_modified, held.sha256, model, doc
                )
        if confirmed is not None:
            self.memo.confirm(url, confirmed)
            if self.memo.record_due(url, confirmed):
                copy = CachedCopy(held.body, held.etag, held.last_modified, confirmed)
                self._store(url, copy, body=False, sha256=held.sha256)
        return Answer(doc, url, body=held.body)

    def _hold(self, url: str, copy: CachedCopy, parse: Parse[D], doc: D) -> str | None:
        """Keep a document that parsed (and passed any check) in memory; its body's sha256."""
        model = model_of(parse)
        if self.memo is None or model is None:
            return None
        digest = copy.sha256 or _sha256(copy.body)
        self.memo.put(url, copy.body, copy.etag, copy.last_modified, digest, model, doc)
        self.memo.confirm(url, copy.checked_at)
        self.memo.record_due(url, copy.checked_at)  # the caller writes this confirmation
        return digest

    def _unreachable(
        self, url: str, cached: CachedCopy | None, exc: _Unreachable, parse: Parse[D]
    ) -> Answer[D]:
        if cached is None:
            raise RegistryUnavailable(
                f"{url}: the index server is unreachable ({exc}) and there is no cached copy; "
                "retry when it is back"
            ) from exc
        age = describe_age(self.clock() - cached.checked_at)
        warning = f"{url}: the index server is unreachable ({exc}); using the copy cached {age} ago"
        return Answer(parse(cached.body, f"{url} (cached)"), url, warning, cached.body)

    def _get(self, url: str, cached: CachedCopy | None) -> _Response:
        headers = {
            "User-Agent": f"image-catalog/{__version__}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        }
        # Validators come from the server or the cache folder: only ones that can be sent.
        if cached is not None and cached.etag and _legal(cached.etag):
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified and _legal(cached.last_modified):
            headers["If-Modified-Since"] = cached.last_modified
        target = _target(url) if self._origin and url.startswith(self.location) else None
        if self._origin is None or target is None:
            return self._get_through_urllib(url, headers, cached)
        from image_catalog.reader.transport import ProtocolError

        try:
            reply = self._connections().get(*self._origin, target, headers)
        except (OSError, ProtocolError) as exc:
            raise _Unreachable(str(exc) or type(exc).__name__) from exc
        if reply.status in _REDIRECT_STATUS and "location" in reply.headers:
            return self._get_through_urllib(url, headers, cached)  # which follows redirects
        if not 200 <= reply.status < 300:
            return self._status(url, reply.status, reply.reason, cached)
        return _Response(
            reply.status,
            _decode(url, reply.body, reply.headers.get("content-encoding")),
            reply.headers.get("etag"),
            reply.headers.get("last-modified"),
        )

    def _connections(self) -> Pool:
        if self._pool is not None:
            return self._pool
        with self._pool_lock:
            if self._pool is None:
                # Imported here: a read of a local folder, or within max_age, opens no socket.
                from image_catalog.reader.transport import Pool

                self._pool = Pool(self.timeout)
            return self._pool

    def _get_through_urllib(
        self, url: str, headers: dict[str, str], cached: CachedCopy | None
    ) -> _Response:
        """A GET with urllib: through the configured proxy, following redirects."""
        # Imported here: only a proxy, a redirect or credentials in the URL need them.
        import http.client
        import urllib.error
        import urllib.request

        if self._opener is None:
            # Made per source, so the proxy settings are those when it was made, as _origin's.
            self._opener = urllib.request.build_opener()
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                body, status, reply_headers = reply.read(), reply.status, reply.headers
        except urllib.error.HTTPError as exc:
            with exc:
                return self._status(url, exc.code, exc.reason, cached)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise _Unreachable(str(reason)) from exc
        return _Response(
            status,
            _decode(url, body, reply_headers.get("Content-Encoding")),
            reply_headers.get("ETag"),
            reply_headers.get("Last-Modified"),
        )

    def _status(self, url: str, code: int, reason: str, cached: CachedCopy | None) -> _Response:
        if code == 304 and cached is not None:
            return _Response(304, b"", None, None)
        if code in (404, 410):
            raise NotInIndex(f"{url}: not found (HTTP {code})")
        if code in _UNREACHABLE_STATUS:
            raise _Unreachable(f"HTTP {code} {reason}")
        if code in _REFUSED_STATUS:
            raise RegistryUnavailable(f"{url}: the index server refused access (HTTP {code})")
        raise CatalogError(f"{url}: unexpected answer HTTP {code} {reason}")

    def _store(
        self, url: str, copy: CachedCopy, *, body: bool = True, sha256: str | None = None
    ) -> None:
        if self.cache is None:
            return
        # A cache that cannot be written only costs a download next time.
        with contextlib.suppress(OSError):
            self.cache.put(url, copy, body=body, sha256=sha256)

    def _drop(self, url: str) -> None:
        if self.memo is not None:
            self.memo.drop(url)
        if self.cache is not None:
            self.cache.drop(url)


def _decode(url: str, body: bytes, encoding: str | None) -> bytes:
    """The body without its gzip Content-Encoding; parsing checks that it is UTF-8 JSON."""
    if (encoding or "identity").strip().lower() == "gzip":
        import gzip
        import zlib

        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise CatalogError(f"{url}: the gzip-encoded answer is corrupt ({exc})") from exc
    return body


def _legal(value: str) -> bool:
    """Whether `value` can be sent as a header value: printable ASCII (a validator that is not
    is left out, which costs a download)."""
    return value.isascii() and value.isprintable()


def _direct_origin(location: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) when requests to `location` go out on `transport` connections: an
    http(s) URL with a plain ASCII host name, no credentials, and no proxy for it."""
    parts = urlsplit(location)
    try:
        port = parts.port
    except ValueError:
        return None  # urllib says what is wrong with it
    host = parts.hostname
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or not host:
        return None
    if not (host.isascii() and host.isprintable()) or " " in host:
        return None
    # urllib reads proxies from the environment, and on macOS and Windows from the system too.
    configured = any(name.lower().endswith("_proxy") and v for name, v in os.environ.items())
    if configured or sys.platform in ("darwin", "win32"):
        import urllib.request  # the proxy settings as urllib reads them

        proxies = urllib.request.getproxies()
        if parts.scheme in proxies and not urllib.request.proxy_bypass(parts.netloc):
            return None
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _target(url: str) -> str | None:
    """The path and query of `url` to send, or None when it is not plain printable ASCII."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not (target.isascii() and target.isprintable()) or " " in target:
        return None
    return target


def open_source(
    location: str | Path,
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.time,
    max_age: float = DEFAULT_MAX_AGE,
) -> SiteReader:
    """A folder path, or an http(s) URL (cached under `cache_dir`, default_cache_dir(); a copy
    confirmed less than `max_age` seconds ago is used without asking the server)."""
    text = str(location)
    if "://" not in text:
        return DirectorySource(Path(text))
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--index {text!r}: only http:// and https:// URLs or a folder are read")
    return HttpSource(text, Cache(cache_dir or default_cache_dir()), timeout, clock, max_age)


# --- queries ----------------------------------------------------------------------------------


class Query(msgspec.Struct, frozen=True):
    """Filters combine with AND; every tag must be present."""

    architecture: str | None = None
    distro: str | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    all_versions: bool = False
    include_deprecated: bool = False
    available: bool = False  # only versions the last health check found available
    schedule: str | None = None  # only builds of this ScheduledImageBuild (their schedule tag)

    def __post_init__(self) -> None:
        if self.schedule is not None and schedule_tag(self.schedule) is None:
            raise UsageError(
                f"--schedule {self.schedule!r} is not a ScheduledImageBuild name the catalog "
                "tags (lower-case letters, digits, '.', '-', at most 54 characters)"
            )

    @property
    def every_version(self) -> bool:
        """Whether the answer needs every version: --available may pass over newer versions."""
        return self.all_versions or self.available or self.schedule is not None

    def dimensions(self) -> dict[ViewBy, str]:
        given = {"architecture": self.architecture, "distro": self.distro, "target": self.target}
        return {by: value for by in VIEW_DIMENSIONS if (value := given[by]) is not None}


class _Rows(msgspec.Struct):
    """A view or index.json with each row kept as the JSON text the site publishes."""

    images: list[msgspec.Raw]


_ROWS = msgspec.json.Decoder(_Rows)


class QueryResult(msgspec.Struct):
    images: list[Summary]
    source: str = ""
    warnings: list[str] = msgspec.field(default_factory=list)
    # The file the rows were read from, and where each row of `images` is in its `images`.
    published: bytes = b""
    positions: list[int] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return f"QueryResult({self.images!r}, {self.source!r}, {self.warnings!r})"

    def encoded_images(self) -> list[msgspec.Raw]:
        """Each row's JSON as the site publishes it, for a program to read.

        Taken from the file rather than encoded again (the builder encodes every row the same
        way, so the bytes are the same), which makes `query --json` over a large index fast.
        """
        if not self.published or len(self.positions) != len(self.images):
            return [msgspec.Raw(contract.encode(s)) for s in self.images]
        rows = decode_without_gc(_ROWS, self.published).images
        return [rows[i] for i in self.positions]


class ShowResult(msgspec.Struct):
    version: VersionDoc
    latest: str | None = None
    versions: list[str] = msgspec.field(default_factory=list)
    source: str = ""
    warnings: list[str] = msgspec.field(default_factory=list)


def resolve(query: Query, site: SiteDoc) -> Query:
    """The query with canonical names; an unknown value is a usage error naming the known ones."""
    vocabulary = site.vocabulary

    def canonical(
        kind: str, value: str | None, names: Sequence[str], aliases: dict[str, str]
    ) -> str | None:
        if value is None or value in names:
            return value
        if value in aliases:
            return aliases[value]
        known = ", ".join(names)
        alias_text = f"; aliases: {', '.join(aliases)}" if aliases else ""
        raise UsageError(
            f"unknown {kind} {value!r}{closest(value, [*names, *aliases])} "
            f"(known: {known}{alias_text})"
        )

    return Query(
        architecture=canonical(
            "architecture",
            query.architecture,
            vocabulary.architectures,
            vocabulary.aliases.architectures,
        ),
        distro=canonical("distro", query.distro, vocabulary.distros, vocabulary.aliases.distros),
        target=canonical("target", query.target, list(vocabulary.targets), {}),
        tags=query.tags,
        all_versions=query.all_versions,
        include_deprecated=query.include_deprecated,
        available=query.available,
        schedule=query.schedule,
    )


def choose_file(query: Query, site: SiteDoc | None) -> str:
    """The smallest file holding the answer: the view with the fewest rows, else a root file."""
    every = query.every_version
    best = "index.json" if every else "latest.json"
    fewest: int | None = None
    for by, value in query.dimensions().items():
        count = site.views.get(by, {}).get(value) if site is not None else None
        if count is None:
            continue
        rows = count.all if every else count.latest
        if rows is not None and (fewest is None or rows < fewest):
            fewest = rows
            best = f"views/{by}/{value}/{'all' if every else 'latest'}.json"
    return best


def matches(summary: Summary, query: Query) -> bool:
    if query.architecture is not None and query.architecture not in summary.architectures:
        return False
    if query.distro is not None and summary.distro != query.distro:
        return False
    if query.target is not None and all(t.name != query.target for t in summary.targets):
        return False
    return all(tag in summary.tags for tag in query.tags)


def select(rows: Iterable[Summary], query: Query) -> list[Summary]:
    """Apply a (canonical) query to rows in index order.

    Without --all-versions each image's head is chosen first (its newest version, skipping
    deprecated ones unless asked) and the filters apply to it: an image whose newest version no
    longer fits is not listed with an older one. With --available, versions the last health
    check did not find available are passed over first, like deprecated ones: an image's head is
    then its newest available version, as a flashing tool needs.
    """
    listed = rows if isinstance(rows, list) else list(rows)
    return [listed[i] for i in positions(listed, query)]


def positions(rows: Sequence[Summary], query: Query) -> list[int]:
    """Where the rows `select` picks are in `rows`, in order."""

    # Like deprecated ones, versions --available or --schedule leave out are passed over before
    # an image's head is chosen: its head is then its newest available version, or the latest
    # build of the schedule.
    tag = schedule_tag(query.schedule) if query.schedule is not None else None

    def passed_over(summary: Summary) -> bool:
        return (
            (summary.deprecated and not query.include_deprecated)
            or (query.available and summary.health != "available")
            or (tag is not None and tag not in summary.tags)
        )

    chosen: list[int]
    if query.all_versions and tag is None and not query.available:
        # Only deprecation passes a version over: the common case, over every row of an index.
        if query.include_deprecated:
            chosen = list(range(len(rows)))
        else:
            chosen = [i for i, s in enumerate(rows) if not s.deprecated]
    elif query.all_versions:
        chosen = [i for i, s in enumerate(rows) if not passed_over(s)]
    else:
        seen: set[str] = set()
        chosen = []
        for i, summary in enumerate(rows):
            if summary.name in seen or passed_over(summary):
                continue
            seen.add(summary.name)
            chosen.append(i)
    if not query.dimensions() and not query.tags:
        return chosen
    return [i for i in chosen if matches(rows[i], query)]


def check_name(name: str, version: str | None = None) -> None:
    """Names and versions become paths and URLs: refuse anything the catalog would refuse."""
    if not is_name(name):
        raise UsageError(f"{name!r} is not an image name (lowercase letters, digits and '-')")
    if version is not None and not is_version(version):
        raise UsageError(f"{version!r} is not a version (letters, digits, '.', '_' and '-')")


# The rows recent queries chose from the documents they read, shared by the clients of this
# process (documents of unchanged files are shared too, see HttpSource). Keyed by the document's
# id, which holding the document keeps from being reused; at most _CHOSEN_KEPT are remembered.
_CHOSEN: dict[tuple[int, Query], tuple[object, list[int]]] = {}
_CHOSEN_KEPT = 256


class IndexClient:
    """Queries a published index; see the module documentation."""

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        trust: Path | str | None = None,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self.source = open_source(
            location or default_location(), cache_dir, timeout, clock, max_age
        )
        chosen = trust if trust is not None else os.environ.get(TRUST_ENV) or None
        self._trust: Trust | None = None
        if chosen is not None:
            # Imported here: a reader without a trust file does not pay for it.
            from image_catalog.reader.trust import Trust, trust_file

            # The newest signed commit time seen from each index is kept beside the cache.
            self._trust = Trust.of(trust_file(chosen), cache_dir or default_cache_dir())
        self._sums: SignedSums | None = None

    @property
    def location(self) -> str:
        return self.source.location

    def site(self) -> Answer[SiteDoc]:
        return self._read("catalog.json", parser(SiteDoc))

    def index(self) -> Answer[IndexDoc]:
        return self._read("index.json", parser(IndexDoc))

    def status(self) -> Answer[StatusDoc]:
        """status.json: the last health check, with each entry's history and the figures.

        Raises `NotInIndex` when the site was built without a status.
        """
        return self._read("status.json", parser(StatusDoc))

    def image(self, name: str) -> Answer[ImageDoc]:
        check_name(name)
        try:
            return self._read(f"images/{name}.json", parser(ImageDoc))
        except NotInIndex as exc:
            raise NotInIndex(f"no image {name!r} in the index at {self.location}") from exc

    def version(self, name: str, version: str) -> Answer[VersionDoc]:
        check_name(name, version)
        try:
            return self._read(f"images/{name}/{version}.json", parser(VersionDoc))
        except NotInIndex as exc:
            known = ", ".join(v.version for v in self.image(name).doc.versions)
            raise NotInIndex(
                f"no version {version!r} of {name} in the index at {self.location} "
                f"(versions: {known})"
            ) from exc

    def _read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        """Read through the source; with a trust file, only what the signed SHA256SUMS lists."""
        if self._trust is None:
            return self.source.read(relative, parse)
        sums = self._signed_sums(self._trust)
        if sums.digest(relative) is None:
            raise NotInIndex(f"{relative}: not in the signed SHA256SUMS of {self.location}")
        return self.source.read(relative, sums.checked(relative, parse))

    def _signed_sums(self, trust: Trust) -> SignedSums:
        if self._sums is None:
            location = self.location
            if "://" not in location:
                location = str(Path(location).resolve())
            try:
                self._sums = trust.signed_sums(location, self._read_raw)
            except NotInIndex as exc:
                raise trust.unsigned(self.location) from exc
        return self._sums

    def _read_raw(self, relative: str, check: Check[SignedSums]) -> SignedSums:
        answer = self.source.read(relative, cast(Parse[Any], check))
        return cast("SignedSums", answer.doc)

    def query(self, query: Query) -> QueryResult:
        warnings: list[str] = []
        site: SiteDoc | None = None
        if query.dimensions() or query.available:
            # Aliases, view sizes and whether there is health live in catalog.json, a few kB.
            answer = self.site()
            site = answer.doc
            _note(answer, warnings)
            query = resolve(query, site)
            if query.available and site.status is None:
                raise CatalogError(
                    f"the index at {self.location} carries no registry health (it was built "
                    "without --status), so --available cannot be answered"
                )
        path = choose_file(query, site)
        answer_rows: Answer[ViewDoc] | Answer[IndexDoc]
        answer_rows = self.index() if path == "index.json" else self._read(path, parser(ViewDoc))
        _note(answer_rows, warnings)
        rows = answer_rows.doc.images
        chosen = self._positions(answer_rows.doc, rows, query)
        return QueryResult(
            [rows[i] for i in chosen],
            answer_rows.location,
            warnings,
            published=answer_rows.body,
            positions=chosen,
        )

    def _positions(self, doc: object, rows: Sequence[Summary], query: Query) -> list[int]:
        key = (id(doc), query)
        known = _CHOSEN.get(key)
        if known is not None and known[0] is doc:
            return list(known[1])
        chosen = positions(rows, query)
        if len(_CHOSEN) >= _CHOSEN_KEPT:
            _CHOSEN.clear()
        _CHOSEN[key] = (doc, chosen)
        return list(chosen)

    def show(self, name: str, version: str | None = None) -> ShowResult:
        warnings: list[str] = []
        if version is not None:
            answer = self.version(name, version)
            _note(answer, warnings)
            return ShowResult(answer.doc, source=answer.location, warnings=warnings)
        image = self.image(name)
        _note(image, warnings)
        doc = image.doc
        if not doc.versions:
            raise CatalogError(f"{image.location}: image {name} lists no versions")
        chosen = next((v for v in doc.versions if v.version == doc.latest), None)
        if chosen is None:
            chosen = doc.versions[0]
            warnings.append(f"every version of {name} is deprecated; showing the newest")
        return ShowResult(
            chosen, doc.latest, [v.version for v in doc.versions], image.location, warnings
        )


def _note(answer: Answer[Any], warnings: list[str]) -> None:
    if answer.warning:
        warnings.append(answer.warning)
