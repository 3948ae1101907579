"""A site served over HTTP(S): conditional requests against the on-disk cache, and the memo.

Every file is fetched with a conditional request (If-None-Match / If-Modified-Since) against the
on-disk cache (`reader.cache`), so an unchanged file costs a 304 and no body; when the server
cannot be reached the cached copy is used and a warning says how old it is. A copy the server
confirmed less than `max_age` seconds ago is used without asking again. Only a body that parsed
(and passed any hash check) is cached or held in memory.

`HttpSource` decides what to read (memo, cache or server); `Fetcher` asks the server through
`web.fetch`: kept connections, bounded answers, a deadline (`reader.limits` says how much and
how long). Both are imported only for an http(s) index.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import msgspec

from image_catalog import __version__
from image_catalog.errors import CatalogError, RegistryUnavailable, UsageError
from image_catalog.reader import memo
from image_catalog.reader.cache import Cache, CachedCopy, sha256_of
from image_catalog.reader.limits import DEFAULT_DEADLINE, cap_for, max_index_bytes
from image_catalog.reader.sources import INDEX_TIMEOUT, Answer, NotInIndex, checked_site_path
from image_catalog.site.parse import D, Parse, model_of
from image_catalog.text import printable

if TYPE_CHECKING:
    from image_catalog.web.connection import Pool

_UNREACHABLE_STATUS = {429, 500, 502, 503, 504}
_REFUSED_STATUS = {401, 403, 407}


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
    `checkedAt`); with max_age=0 every read asks. Requests go out through `Fetcher`.

    Beside the on-disk cache, the documents decoded from it are held in memory (`reader.memo`,
    shared by the clients of one cache folder in this process), so a 304 answer costs neither a
    disk read nor a decode; they are shared: treat them as read-only. After a 304 for a held
    copy, the on-disk `checkedAt` is rewritten at most every `memo.RECORD_EVERY` seconds (a
    warning may then call a cached copy that much older).
    """

    def __init__(
        self,
        base_url: str,
        cache: Cache | None,
        timeout: float = INDEX_TIMEOUT,
        clock: Callable[[], float] = time.time,
        max_age: float = 0.0,
        *,
        max_index: int | None = None,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        if not max_age >= 0:
            raise UsageError(f"max_age {max_age!r}: give a number of seconds, 0 or more")
        self.location = base_url if base_url.endswith("/") else base_url + "/"
        self.cache = cache
        self.timeout = timeout
        self.clock = clock
        self.max_age = max_age
        self.memo = memo.shared(cache.root) if cache is not None else None
        self.fetcher = Fetcher(self.location, timeout, max_index_bytes(max_index), deadline)

    def _fresh(self, confirmed: float | None) -> bool:
        """Whether a copy the server confirmed at `confirmed` is used without asking again."""
        return confirmed is not None and 0 <= self.clock() - confirmed < self.max_age

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        url = urljoin(self.location, checked_site_path(self.location, relative))
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
            response = self.fetcher.get(url, cached)
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

    def forget(self, relative: str) -> None:
        """Drop the copy of `relative` held in memory and on disk: the next read fetches it
        whole, whatever `max_age` says (SHA256SUMS read again after a hash mismatch)."""
        self._drop(urljoin(self.location, checked_site_path(self.location, relative)))

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
            response = self.fetcher.get(url, conditional)
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
        digest = copy.sha256 or sha256_of(copy.body)
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


class Fetcher:
    """Conditional GETs to one site's server, and what each answer's status means.

    Requests go out through `web.fetch` (kept connections, the configured proxy, redirects only
    to http(s)), each within its deadline and its file's cap (`reader.limits`). A status that
    says the server is down (or busy), a deadline passed or a broken answer is `_Unreachable`,
    so a cached copy may stand in; 404 and 410 are `NotInIndex`; an answer larger than its file
    can be, or a redirect not followed, is the server's error (exit 1).
    """

    def __init__(self, location: str, timeout: float, max_index: int, deadline: float) -> None:
        self.location = location
        self.timeout = timeout
        self.max_index = max_index
        self.deadline = deadline
        self._pool: Pool | None = None  # made with the first request
        self._pool_lock = threading.Lock()

    def get(self, url: str, cached: CachedCopy | None) -> _Response:
        """GET `url`, conditional on `cached`'s validators; a 304 only when `cached` is given."""
        from image_catalog.web.errors import CutShort, FetchError, ServerUnreachable
        from image_catalog.web.fetch import FetchLimits, get

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
        cap = cap_for(url.removeprefix(self.location), self.max_index)
        limits = FetchLimits(cap, cap, self.deadline, self.timeout)
        try:
            try:
                reply = get(url, headers, limits, pool=self._connections(), what=url)
            except CutShort:
                # A body shorter than announced (a file replaced while it was sent, a dropped
                # connection) would most likely come whole a second time: asked once more.
                reply = get(url, headers, limits, pool=self._connections(), what=url)
        except ServerUnreachable as exc:
            raise _Unreachable(printable(str(exc)) or type(exc).__name__) from exc
        except FetchError as exc:
            raise CatalogError(printable(str(exc))) from exc
        if not 200 <= reply.status < 300:
            return self._status(url, reply.status, reply.reason, cached)
        return _Response(
            reply.status,
            reply.body,
            reply.headers.get("etag"),
            reply.headers.get("last-modified"),
        )

    def _connections(self) -> Pool:
        if self._pool is not None:
            return self._pool
        with self._pool_lock:
            if self._pool is None:
                # Imported here: a read of a local folder, or within max_age, opens no socket.
                from image_catalog.web.connection import Pool

                self._pool = Pool(self.timeout)
            return self._pool

    def _status(self, url: str, code: int, reason: str, cached: CachedCopy | None) -> _Response:
        reason = printable(reason)  # as the server sent it: it may hold anything
        if code == 304 and cached is not None:
            return _Response(304, b"", None, None)
        if code in (404, 410):
            raise NotInIndex(f"{url}: not found (HTTP {code})")
        if code in _UNREACHABLE_STATUS:
            raise _Unreachable(f"HTTP {code} {reason}")
        if code in _REFUSED_STATUS:
            raise RegistryUnavailable(f"{url}: the index server refused access (HTTP {code})")
        raise CatalogError(f"{url}: unexpected answer HTTP {code} {reason}")


def _legal(value: str) -> bool:
    """Whether `value` can be sent as a header value: printable ASCII (a validator that is not
    is left out, which costs a download)."""
    return value.isascii() and value.isprintable()
