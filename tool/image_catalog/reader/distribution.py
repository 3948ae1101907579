"""One repository of an OCI registry, read over the distribution API: a manifest by digest, blobs.

Authentication follows the registry's `WWW-Authenticate` challenge to a 401: `Basic` is answered
with the stored credentials; `Bearer realm=…,service=…,scope=…` with a token fetched from the
realm (`GET realm?service=…&scope=repository:REPO:pull`, with the stored credentials as Basic when
there are any, anonymously otherwise; the answer's `token` or `access_token`), as Distribution's
token authentication specifies. The `Authorization` found is kept for the repository's next
requests, and is sent as a sensitive header: a redirect to a blob store on another origin (S3, a
CDN) is followed without it. A file with its own `downloadUrl` is fetched from there without the
registry's credentials, and what goes wrong there is said of that server (its URL shown without
user information or query: a pre-signed URL's signature is a secret), never of the registry.

Invariants: a manifest is returned only when its bytes hash to the digest asked for; every request
is bounded (`web.fetch`: a head within `HEAD_DEADLINE`, each read of a body within `IDLE_TIMEOUT`);
a registry that cannot be reached, answers 429/5xx, or refuses the credentials is
`RegistryUnavailable` (exit 4), naming the auth file used and never its content; a manifest or
blob the registry does not have is `CatalogError` (exit 1).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

from image_catalog import __version__
from image_catalog.errors import CatalogError, RegistryUnavailable
from image_catalog.reader.auth import Found
from image_catalog.text import printable
from image_catalog.web.connection import Pool
from image_catalog.web.errors import FetchError, ServerUnreachable, redact
from image_catalog.web.fetch import FetchLimits, Stream, get, stream

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
MAX_MANIFEST = 4 << 20  # what Distribution itself accepts
MAX_TOKEN_ANSWER = 1 << 20
HEAD_DEADLINE = 60.0  # seconds for an answer's head, redirects included
IDLE_TIMEOUT = 30.0  # seconds a body may stay silent before the registry counts as gone
_UNREACHABLE = frozenset({408, 429, 500, 502, 503, 504})
_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """A `WWW-Authenticate` value as (scheme in lower case, parameters)."""
    scheme, _, rest = value.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) or ""
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), params


def token_of(body: bytes, realm: str) -> str:
    """The bearer token in a realm's answer (`token`, or OAuth2's `access_token`)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise RegistryUnavailable(f"the token service {realm} did not answer JSON") from None
    token = None
    if isinstance(document, dict):
        token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token.isascii() or not token.isprintable():
        raise RegistryUnavailable(f"the token service {realm} answered no usable token")
    return token


class Repository:
    """One repository on one registry (`base`: scheme://host), with the credentials found for it.

    Safe to share between threads: the `Authorization` found is kept under a lock.
    """

    def __init__(self, base: str, repository: str, found: Found, pool: Pool) -> None:
        self.base = base.rstrip("/")
        self.host = urlsplit(base).netloc
        self.repository = repository
        self.found = found
        self.pool = pool
        self._authorization: str | None = None
        self._lock = threading.Lock()
        self._headers = {"User-Agent": f"image-catalog/{__version__}"}

    def blob_url(self, digest: str) -> str:
        return f"{self.base}/v2/{self.repository}/blobs/{digest}"

    def owns(self, url: str) -> bool:
        """Whether `url` is on the registry itself (its credentials may go there)."""
        return url.startswith(self.base + "/")

    def source_of(self, url: str) -> str:
        """Where the bytes of `url` come from, for messages."""
        return "the registry" if self.owns(url) else f"the server of {printable(redact(url))}"

    def manifest(self, digest: str) -> bytes:
        """The manifest pinned by `digest`, its bytes checked to hash to it."""
        url = f"{self.base}/v2/{self.repository}/manifests/{digest}"
        limits = FetchLimits(MAX_MANIFEST, MAX_MANIFEST, HEAD_DEADLINE, IDLE_TIMEOUT)
        for attempt in range(2):
            try:
                reply = get(
                    url,
                    {**self._headers, "Accept": MANIFEST_ACCEPT},
                    limits,
                    pool=self.pool,
                    sensitive=self._sensitive(),
                )
            except ServerUnreachable as exc:
                raise self.unreachable(exc) from exc
            except FetchError as exc:
                raise CatalogError(printable(str(exc))) from exc
            if reply.status == 401 and attempt == 0:
                self.authenticate(reply.headers.get("www-authenticate", ""))
                continue
            self.check_status(reply.status, f"the manifest {digest}")
            received = "sha256:" + hashlib.sha256(reply.body).hexdigest()
            if received != digest:
                raise CatalogError(
                    f"{url}: the manifest's bytes hash to {received}, not to the pinned {digest}"
                )
            return reply.body
        raise self.refused()

    @contextmanager
    def open_blob(self, url: str, start: int) -> Iterator[Stream]:
        """A blob's body from byte `start` (a `Range` request when over 0): status 206 when the
        server honoured the range, 200 when it sends the whole blob, 416 when it refuses it.
        Registry credentials go only to the registry's own origin."""
        headers = dict(self._headers)
        if start:
            headers["Range"] = f"bytes={start}-"
        limits = FetchLimits(1 << 62, None, HEAD_DEADLINE, IDLE_TIMEOUT)
        own = self.owns(url)
        for attempt in range(2):
            try:
                with stream(
                    url, headers, limits, pool=self.pool, sensitive=self._sensitive() if own else {}
                ) as answer:
                    if answer.status == 401 and own and attempt == 0:
                        challenge = answer.headers.get("www-authenticate", "")
                    else:
                        if answer.status not in (200, 206, 416):
                            if not own:
                                check_download_status(answer.status, url)
                            self.check_status(answer.status, f"the blob {url.rpartition('/')[2]}")
                        yield answer
                        return
            except ServerUnreachable as exc:
                untrusted = untrusted_certificate(exc)
                if not own and untrusted is not None:
                    raise RegistryUnavailable(f"{self.source_of(url)}: {untrusted}") from exc
                if not own:
                    raise RegistryUnavailable(
                        f"{self.source_of(url)} is unreachable ({printable(str(exc))}); run the "
                        "same command again to continue"
                    ) from exc
                raise self.unreachable(exc) from exc
            except FetchError as exc:
                raise CatalogError(printable(str(exc))) from exc
            self.authenticate(challenge)
        raise self.refused()

    def _sensitive(self) -> dict[str, str]:
        with self._lock:
            value = self._authorization
        return {"Authorization": value} if value else {}

    def authenticate(self, challenge: str) -> None:
        """Answer a 401's challenge: keep the `Authorization` the next request sends."""
        scheme, params = parse_challenge(challenge)
        credentials = self.found.credentials
        if scheme == "basic":
            if credentials is None:
                raise self.refused()
            value = credentials.basic()
        elif scheme == "bearer" and params.get("realm"):
            value = "Bearer " + self._token(params)
        else:
            raise RegistryUnavailable(
                f"{self.host} asks for an authentication this client does not speak "
                f"({printable(challenge[:80]) or 'no WWW-Authenticate challenge'})"
            )
        with self._lock:
            self._authorization = value

    def _token(self, params: dict[str, str]) -> str:
        realm = params["realm"]
        query = {"scope": params.get("scope") or f"repository:{self.repository}:pull"}
        if params.get("service"):
            query = {"service": params["service"], **query}
        separator = "&" if urlsplit(realm).query else "?"
        url = f"{realm}{separator}{urlencode(query)}"
        credentials = self.found.credentials
        secret = {"Authorization": credentials.basic()} if credentials is not None else {}
        if secret and self.base.startswith("https:") and not realm.startswith("https:"):
            raise RegistryUnavailable(
                f"{self.host} names the token service {printable(realm[:200])}, which is not "
                "https: the credentials are not sent there in clear text"
            )
        limits = FetchLimits(MAX_TOKEN_ANSWER, MAX_TOKEN_ANSWER, HEAD_DEADLINE, IDLE_TIMEOUT)
        shown = printable(realm[:200])
        try:
            reply = get(url, self._headers, limits, pool=self.pool, sensitive=secret, what=shown)
        except ServerUnreachable as exc:
            raise RegistryUnavailable(
                f"the token service {shown} of {self.host} is unreachable ({printable(str(exc))})"
            ) from exc
        except FetchError as exc:
            raise RegistryUnavailable(
                f"the token service {shown} of {self.host}: {printable(str(exc))}"
            ) from exc
        if reply.status in (401, 403):
            raise self.refused(f"its token service {shown} answered HTTP {reply.status}")
        if reply.status != 200:
            raise RegistryUnavailable(
                f"the token service {shown} of {self.host} answered HTTP {reply.status}"
            )
        return token_of(reply.body, shown)

    def refused(self, why: str = "") -> RegistryUnavailable:
        """The registry wants credentials it was not given, or refused the ones it was."""
        said = f" ({why})" if why else ""
        if self.found.credentials is None:
            return RegistryUnavailable(
                f"{self.host} asks for credentials to pull {self.repository}{said}; "
                f"{self.found.describe()}"
            )
        return RegistryUnavailable(
            f"{self.host} refused the credentials to pull {self.repository}{said} "
            f"({self.found.describe()})"
        )

    def unreachable(self, exc: Exception) -> RegistryUnavailable:
        untrusted = untrusted_certificate(exc)
        if untrusted is not None:
            return RegistryUnavailable(f"the registry {self.host}: {untrusted}")
        return RegistryUnavailable(
            f"the registry {self.host} is unreachable ({printable(str(exc))}); run the same "
            "command again to continue"
        )

    def check_status(self, status: int, what: str) -> None:
        """Nothing for a 2xx answer; otherwise the error its status means."""
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise self.refused(f"HTTP {status}")
        if status in (404, 410):
            raise CatalogError(
                f"{self.host}/{self.repository}: {what} is not in the registry (HTTP {status})"
            )
        if status in _UNREACHABLE:
            raise RegistryUnavailable(
                f"the registry {self.host} is unavailable (HTTP {status}); retry later"
            )
        raise CatalogError(f"{self.host}/{self.repository}: {what}: unexpected HTTP {status}")


def untrusted_certificate(exc: BaseException) -> str | None:
    """What to say when `exc` is a TLS certificate that did not verify (no retry would help);
    None for anything else. `ssl` is looked up, not imported: a plain-http pull never loads it,
    and no certificate was checked then."""
    ssl = sys.modules.get("ssl")
    cause = exc.__cause__
    if ssl is None or not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    reason = printable(str(cause.verify_message or cause.reason or "not verified"))
    return (
        f"its TLS certificate is not trusted ({reason}); pass --cert-dir DIR with the CA that "
        "signed it in DIR/ca.crt, or --tls-verify=false to skip the check"
    )


def check_download_status(status: int, url: str) -> None:
    """Nothing for a 2xx answer of a file's own `downloadUrl`; otherwise the error its status
    means, said of that server (the registry's credentials never go there)."""
    if 200 <= status < 300:
        return
    shown = printable(redact(url))
    if status in (401, 403):
        raise RegistryUnavailable(
            f"{shown} refused the download (HTTP {status}); it is the file's own downloadUrl, "
            "to which the registry's credentials are never sent"
        )
    if status in (404, 410):
        raise CatalogError(f"{shown}: the file's downloadUrl is not there (HTTP {status})")
    if status in _UNREACHABLE:
        raise RegistryUnavailable(f"{shown} is unavailable (HTTP {status}); retry later")
    raise CatalogError(f"{shown}: the file's downloadUrl answered an unexpected HTTP {status}")
