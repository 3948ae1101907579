"""Running skopeo: every registry call, through `process.run`.

Every registry call is `skopeo inspect --raw` (plus `--config --raw` for an image's config), run by
`process.run` as an argument list with an allow-listed environment and a timeout, in a session of
its own so that a hung call is killed with its whole process group, and killed when we die. What a
retry may fix (unreachable, 5xx, rate-limited) is retried with bounded exponential backoff. skopeo
exits 1 on every failure, so the kind of failure is read from its message and turned into a typed
error that names the registry and the reference and says what to do.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from image_catalog import process
from image_catalog.manifest.model import (
    AuthFileAuth,
    NoAuth,
    Registry,
    ServiceAccountTokenAuth,
)
from image_catalog.manifest.reference import Reference
from image_catalog.registry.arguments import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from image_catalog.registry.credentials import Credentials
from image_catalog.registry.errors import (
    ManifestNotFound,
    RegistryError,
    RegistryFailure,
    SkopeoNotFound,
    TlsFailure,
    Unauthorized,
    Unreachable,
    describe,
    file_of,
    where_of,
)

INSTALL_HINT = "install skopeo: apt-get install skopeo"

# What skopeo may inherit from our environment. An allow-list, so that neither credentials meant
# for us (the variables of `environment` auth) nor ambient auth settings (REGISTRY_AUTH_FILE,
# DOCKER_CONFIG) reach it: the Registry manifest alone decides how skopeo authenticates.
INHERITED_ENVIRONMENT = (
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TZ",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CONTAINERS_REGISTRIES_CONF",
    "GOMAXPROCS",
)
_MAX_BACKOFF = 8.0
_MAX_DETAIL = 400

# --- classifying skopeo's failures ---------------------------------------------------------------

_TLS = re.compile(
    r"x509:|server gave http response to https client|\btls: |"
    r"first record does not look like a tls handshake"
)
_AUTH = re.compile(r"unauthorized|authentication required|\bdenied\b|\bforbidden\b")
_NOT_FOUND = re.compile(r"manifest unknown|name unknown|\bnot found\b")
_UNREACHABLE = re.compile(
    r"connection refused|no such host|i/o timeout|timeout|deadline exceeded|connection reset|"
    r"network is unreachable|no route to host|server misbehaving|\beof\b"
)
_TRANSIENT = re.compile(
    r"\b5\d\d\b|toomanyrequests|too many requests|\b429\b|service unavailable|bad gateway"
)
_SKOPEO_MESSAGE = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_READING = re.compile(r"reading manifest \S+ in \S+:")
_PARSING_PREFIX = re.compile(r'^Error parsing image name "[^"]*": ')


def skopeo_detail(stderr: str, secrets: Sequence[str] = ()) -> str:
    """skopeo's own message, without its log framing, scrubbed of secrets and shortened."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    match = _SKOPEO_MESSAGE.search(text)
    if match:
        text = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
    # skopeo says "Error parsing image name" for any failure of its first request.
    text = _PARSING_PREFIX.sub("", text.strip())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def classify(detail: str, reference: Reference) -> type[RegistryError]:
    """The error class for a skopeo failure message (skopeo always exits 1)."""
    # The reference itself must not decide: a repository or a tag may well be called "denied".
    text = _READING.sub("reading manifest:", detail).replace(reference.name, " ").lower()
    for pattern, kind in (
        (_TLS, TlsFailure),
        (_AUTH, Unauthorized),
        (_NOT_FOUND, ManifestNotFound),
        (_UNREACHABLE, Unreachable),
    ):
        if pattern.search(text):
            return kind
    return RegistryFailure


_NO_CONNECTION = re.compile(
    r"connection refused|no such host|server misbehaving|network is unreachable|no route to host"
)


def never_connected(error: RegistryError) -> bool:
    """The registry was not reached at all: the connection was refused or its name did not
    resolve (not a timeout, not a refusal of credentials). From here it never will be."""
    return isinstance(error, Unreachable) and bool(_NO_CONNECTION.search(error.detail.lower()))


def is_transient(error: RegistryError) -> bool:
    """Worth another attempt: unreachable, timed out, 5xx or rate-limited."""
    if isinstance(error, Unreachable):
        return True
    return type(error) is RegistryFailure and bool(_TRANSIENT.search(error.detail.lower()))


# --- running ----------------------------------------------------------------------------------

Authenticate = Callable[[Registry], AbstractContextManager[Credentials]]


class Skopeo:
    """Runs skopeo for the declared registries; safe to share among threads.

    `calls` counts the processes started (retries included). At most `spec.maxConcurrency`
    processes talk to one registry at a time.
    """

    def __init__(
        self,
        registries: Sequence[Registry],
        *,
        executable: str = "skopeo",
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.5,
    ) -> None:
        found = shutil.which(executable)
        if found is None:
            raise SkopeoNotFound(
                f"skopeo ({executable}) was not found on PATH, and registry checks need it: "
                f"{INSTALL_HINT}"
            )
        self.executable = found
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.calls = 0
        self._slots = {
            r.spec.host: threading.BoundedSemaphore(r.spec.max_concurrency) for r in registries
        }
        self._lock = threading.Lock()
        self._running = process.Processes()
        self._closed = False
        # skopeo inspect is a short, network-bound process: one scheduler thread is plenty, and
        # leaves the CPUs to the other skopeo processes running beside it.
        self._environment = process.environment(INHERITED_ENVIRONMENT)
        self._environment.setdefault("GOMAXPROCS", "1")

    def inspect(
        self,
        registry: Registry,
        reference: Reference,
        extra: Sequence[str],
        *,
        tls_args: Sequence[str],
        authenticate: Authenticate,
    ) -> bytes:
        """`skopeo inspect --raw` output, retrying what a retry may fix with bounded backoff."""
        attempt = 0
        while True:
            try:
                return self._attempt(
                    registry, reference, extra, tls_args, authenticate, attempt + 1
                )
            except RegistryError as error:
                if attempt >= self.retries or not is_transient(error):
                    raise
            time.sleep(min(self.backoff * 2**attempt, _MAX_BACKOFF))
            attempt += 1

    def close(self) -> None:
        """Kill the skopeo processes still running; no process is started afterwards."""
        with self._lock:
            self._closed = True
        self._running.kill_all()

    def _attempt(
        self,
        registry: Registry,
        reference: Reference,
        extra: Sequence[str],
        tls_args: Sequence[str],
        authenticate: Authenticate,
        attempt: int,
    ) -> bytes:
        with self._slots[registry.spec.host], authenticate(registry) as credentials:
            argv = [
                self.executable,
                "--command-timeout",
                f"{max(1, int(self.timeout * 1000))}ms",
                "inspect",
                "--raw",
                *extra,
                *tls_args,
                *credentials.args,
                f"docker://{reference}",
            ]
            run = self._run(argv, credentials.pass_fds)
        if run is not None and run.code == 0:
            return run.stdout
        if run is None:
            detail = f"no answer within {self.timeout:g} s"
            kind: type[RegistryError] = Unreachable
        else:
            stderr = run.stderr.decode("utf-8", errors="replace")
            detail = skopeo_detail(stderr, credentials.secrets) or f"exit status {run.code}"
            kind = classify(detail, reference)
        raise kind(
            _message(kind, registry, reference, detail, attempt),
            **where_of(registry, reference),
            detail=detail,
        )

    def _run(self, argv: list[str], pass_fds: Sequence[int] = ()) -> process.Completed | None:
        """Run one skopeo process; None when it was killed (with its group) at the deadline."""
        with self._lock:
            if self._closed:
                raise RegistryFailure("the registry client is closed")
            self.calls += 1
        try:
            # skopeo enforces --command-timeout itself; this deadline is for a hung process.
            return process.run(
                argv,
                timeout=self.timeout + min(self.timeout, 5.0),
                env=self._environment,
                pass_fds=pass_fds,
                within=self._running,
            )
        except process.ExecutableNotFound as exc:
            raise SkopeoNotFound(f"{self.executable} is gone: {INSTALL_HINT}") from exc
        except process.ProcessTimedOut:
            return None


# --- messages ---------------------------------------------------------------------------------


def _auth_hint(registry: Registry) -> str:
    auth = registry.spec.auth
    if isinstance(auth, NoAuth):
        return f"the registry wants credentials: set spec.auth in {file_of(registry)}"
    if isinstance(auth, ServiceAccountTokenAuth):
        return (
            f"check that the service account whose token is at {auth.token_path} may pull "
            "from this repository (OpenShift: the system:image-puller role)"
        )
    if isinstance(auth, AuthFileAuth):
        return f"check the credentials for {registry.spec.host} in {auth.path}"
    return (
        f"check {auth.username_variable} and {auth.password_variable}, and that this account "
        "may pull from this repository"
    )


def _message(
    kind: type[RegistryError], registry: Registry, reference: Reference, detail: str, attempts: int
) -> str:
    where = describe(registry)
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    if kind is ManifestNotFound:
        return (
            f"{reference} was not found in {where}: {detail}; check the reference, or push the "
            "image again if it was deleted"
        )
    if kind is Unauthorized:
        return f"{where} refused access to {reference}: {detail}; {_auth_hint(registry)}"
    if kind is TlsFailure:
        return (
            f"TLS failed with {where} for {reference}: {detail}; give the registry's CA as "
            "spec.caFile, or set spec.tlsVerify: false for a plain-HTTP registry"
        )
    if kind is Unreachable:
        return (
            f"{where} could not be reached for {reference}{tries}: {detail}; check the network "
            "and that the registry is up, then retry"
        )
    return f"{where} failed for {reference}{tries}: {detail}; retry later"
