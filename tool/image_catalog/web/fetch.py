"""A whole GET: redirects followed by the rules, the body read within its limits and decoded.

`get` is what the reader, the health check and a pull call; see `image_catalog.web` for what
it guarantees.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from image_catalog.web.connection import Connection, Pool, check_url, origin_of, release
from image_catalog.web.errors import RedirectRefused, ServerUnreachable, redact
from image_catalog.web.wire import Deadline, Response, gunzip

MAX_REDIRECTS = 5
MAX_ERROR_BODY = 64 * 1024  # what is read of a non-2xx answer's body to keep its connection
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchLimits:
    """How much and how long one request may take.

    `max_bytes`: the body as sent; `max_decoded`: the body after its gzip Content-Encoding (the
    same as `max_bytes` when not given); `deadline`: seconds for the whole request, redirects
    included; `timeout`: seconds the connection may stay silent (and to connect).
    """

    max_bytes: int
    max_decoded: int | None = None
    deadline: float = 60.0
    timeout: float = 10.0

    @property
    def decoded_cap(self) -> int:
        return self.max_bytes if self.max_decoded is None else self.max_decoded


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, reason (as sent: print it escaped), headers in lower case, the
    body (decoded from gzip when asked for), and the URL that gave it (after redirects)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str


def follow(url: str, location: str, sensitive: Mapping[str, str]) -> tuple[str, bool]:
    """Where a redirect from `url` to `location` goes, and whether the sensitive headers may
    go there too (same scheme, host and port); `RedirectRefused` for one not followed."""
    to = urljoin(url, location)
    scheme = urlsplit(to).scheme
    if scheme not in ("http", "https"):
        raise RedirectRefused(
            f"{redact(url)} redirects to {redact(to)[:200]!r}: only http and https are followed"
        )
    if urlsplit(url).scheme == "https" and scheme == "http":
        raise RedirectRefused(
            f"{redact(url)} redirects to {redact(to)[:200]!r}: never from https down to http"
        )
    same = check_url(to) == check_url(url)
    return to, same or not sensitive


def get(
    url: str,
    headers: Mapping[str, str],
    limits: FetchLimits,
    *,
    pool: Pool | None = None,
    sensitive: Mapping[str, str] | None = None,
    what: str | None = None,
) -> Reply:
    """GET `url`, following redirects; the answer's body read whole within `limits` (and
    decoded from gzip when the server encoded it so).

    `sensitive` headers (credentials) are sent to `url`'s own origin only, never after a
    redirect to another one. A non-2xx answer comes back with at most `MAX_ERROR_BODY` of its
    body. Raises `ServerUnreachable` (and its kinds), `TooLarge`, `RedirectRefused`, `FetchError`.
    """
    pool = pool or Pool(limits.timeout)
    deadline = Deadline(limits.deadline)
    named = what or redact(url)
    answer, connection, url = _final_answer(url, headers, deadline, pool, sensitive, named)
    try:
        cap = limits.max_bytes if 200 <= answer.status < 300 else MAX_ERROR_BODY
        body = answer.read(cap, named)
    except OSError as exc:
        connection.close()
        if isinstance(exc, TimeoutError):
            deadline.remaining()
        raise ServerUnreachable(str(exc) or type(exc).__name__) from exc
    except BaseException:
        connection.close()
        raise
    finally:
        if answer.done:
            release(answer, connection)
    encoding = answer.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip" and answer.status != 304:
        body = gunzip(body, limits.decoded_cap, named)
    return Reply(answer.status, answer.reason, answer.headers, body, url)


def _final_answer(
    url: str,
    headers: Mapping[str, str],
    deadline: Deadline,
    pool: Pool,
    sensitive: Mapping[str, str] | None,
    named: str,
) -> tuple[Response, Connection, str]:
    """The head of the answer that is not a redirect, its connection and its URL: redirects
    followed by the rules (`follow`), `sensitive` headers only to their own origin."""
    secret = dict(sensitive or {})
    for _ in range(MAX_REDIRECTS + 1):
        try:
            answer, connection = pool.open(url, origin_of(url), {**headers, **secret}, deadline)
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                deadline.remaining()
            raise ServerUnreachable(str(exc) or type(exc).__name__) from exc
        if answer.status not in _REDIRECT_STATUS or "location" not in answer.headers:
            return answer, connection, url
        try:
            answer.read(MAX_ERROR_BODY, named)
        except OSError as exc:
            connection.close()
            raise ServerUnreachable(str(exc) or type(exc).__name__) from exc
        except BaseException:
            connection.close()
            raise
        release(answer, connection)
        url, keep = follow(url, answer.headers["location"], secret)
        secret = secret if keep else {}
    raise RedirectRefused(f"{named}: more than {MAX_REDIRECTS} redirects")


@dataclass
class Stream:
    """An answer whose body is read by the caller, piece by piece (`chunks`), within the
    stream's idle time; `url` is where it came from after redirects."""

    status: int
    reason: str
    headers: Mapping[str, str]
    url: str
    response: Response

    def chunks(self, limit: int) -> Iterator[bytes]:
        """The body as it arrives; `TooLarge` past `limit`, `ServerUnreachable` when it stops."""
        try:
            yield from self.response.chunks(limit, redact(self.url))
        except OSError as exc:
            raise ServerUnreachable(str(exc) or type(exc).__name__) from exc

    def pieces_into(self, buffer: bytearray, limit: int) -> Iterator[memoryview]:
        """As `chunks`, each piece read into `buffer` and yielded as a view of it, valid until
        the next one is asked for: a long body read with no copy and no new object per piece."""
        try:
            yield from self.response.pieces_into(buffer, limit, redact(self.url))
        except OSError as exc:
            raise ServerUnreachable(str(exc) or type(exc).__name__) from exc


@contextmanager
def stream(
    url: str,
    headers: Mapping[str, str],
    limits: FetchLimits,
    *,
    pool: Pool | None = None,
    sensitive: Mapping[str, str] | None = None,
    what: str | None = None,
) -> Iterator[Stream]:
    """GET `url` as `get` does (redirects, `sensitive` headers kept to their origin), but hand
    the body over unread: the `Stream` yielded reads it in pieces, so a file of any size costs
    one piece of memory.

    `limits.deadline` bounds the answer's head (redirects included); the body then has no total
    deadline, only `limits.timeout` for each read: a 4 GiB blob over a slow link takes as long as
    it takes, while a server that stops sending is found out within `timeout` seconds. A non-2xx
    answer is yielded too, its body left to the caller (read at most `MAX_ERROR_BODY` of it).
    The connection is kept for the next request only when the body was read to its end.
    """
    pool = pool or Pool(limits.timeout)
    deadline = Deadline(limits.deadline)
    named = what or redact(url)
    answer, connection, url = _final_answer(url, headers, deadline, pool, sensitive, named)
    answer.wire.deadline = None  # from here on, each read waits at most the idle time
    try:
        yield Stream(answer.status, answer.reason, answer.headers, url, answer)
    finally:
        release(answer, connection)
