"""Registry access: the one module that runs skopeo.

Every registry call is `skopeo inspect --raw` (plus `--config --raw` for an image's config), run as
an argument list with a timeout, retried with bounded exponential backoff when the registry could
not be reached or answered 5xx. skopeo exits 1 on every failure, so the kind of failure is read
from its message and turned into a typed error that names the registry and the reference and says
what to do.

Credentials reach skopeo only through a private temporary containers auth file (`--authfile`),
written for the call and removed after it: never `--creds`, never a secret in argv, in skopeo's
environment, in a message or an exception. The service-account token is read from its file at every
call because the kubelet rotates it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from image_catalog.errors import CatalogError, ExitCode, ImageCatalogError, RegistryUnavailable
from image_catalog.manifest.model import (
    AuthFileAuth,
    EnvironmentAuth,
    NoAuth,
    Registry,
    ServiceAccountTokenAuth,
)
from image_catalog.manifest.reference import Reference

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_CONFIG_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
ANNOTATION_PREFIX = "automotive.sdv.cloud.redhat.com/"
TITLE_ANNOTATION = "org.opencontainers.image.title"
PARTITION_ANNOTATION = ANNOTATION_PREFIX + "partition"
DECOMPRESSED_SIZE_ANNOTATION = ANNOTATION_PREFIX + "decompressed-size"
INSTALL_HINT = "install skopeo: apt-get install skopeo"

# What skopeo may inherit from our environment. An allow-list, so that neither credentials meant
# for us (the variables of `environment` auth) nor ambient auth settings (REGISTRY_AUTH_FILE,
# DOCKER_CONFIG) reach it: the Registry manifest alone decides how skopeo authenticates.
_INHERITED_ENVIRONMENT = (
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


class ManifestKind(StrEnum):
    IMAGE = "image"
    INDEX = "index"
    ARTIFACT = "artifact"


@dataclass(frozen=True)
class Platform:
    """One manifest listed by an image index."""

    architecture: str
    os: str
    variant: str | None
    digest: str
    media_type: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_attestation(self) -> bool:
        """Build attestations (buildx) sit in indexes as `unknown/unknown`; they are no platform."""
        kind = self.annotations.get("vnd.docker.reference.type")
        return kind == "attestation-manifest" or (self.architecture, self.os) == (
            "unknown",
            "unknown",
        )

    def __str__(self) -> str:
        name = f"{self.os}/{self.architecture}"
        return f"{name}/{self.variant}" if self.variant else name


@dataclass(frozen=True)
class Layer:
    """A layer descriptor: for a disk artifact, one file with its flashing annotations."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str | None:
        return self.annotations.get(TITLE_ANNOTATION)

    @property
    def partition(self) -> str | None:
        return self.annotations.get(PARTITION_ANNOTATION)

    @property
    def decompressed_size(self) -> int | None:
        value = self.annotations.get(DECOMPRESSED_SIZE_ANNOTATION)
        return int(value) if value is not None and value.isdigit() else None


@dataclass(frozen=True)
class ManifestInfo:
    """What the registry holds for one reference, read from the manifest's exact bytes."""

    reference: Reference
    digest: str
    media_type: str
    size: int
    kind: ManifestKind
    platforms: tuple[Platform, ...] = ()
    architecture: str | None = None
    os: str | None = None
    created: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    layers: tuple[Layer, ...] = ()
    config_media_type: str | None = None
    config_digest: str | None = None
    config_fetched: bool = False

    def pinned(self) -> str:
        return self.reference.pinned(self.digest)


# --- errors --------------------------------------------------------------------------------------


class RegistryError(ImageCatalogError):
    """A registry call failed; the message names the registry and the reference."""

    def __init__(
        self,
        message: str,
        *,
        registry: str | None = None,
        host: str | None = None,
        reference: str | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.host = host
        self.reference = reference
        self.detail = detail


class ManifestNotFound(RegistryError):
    """The registry answered that the manifest does not exist: the reference is wrong."""

    exit_code = ExitCode.INVALID


class UnsupportedManifest(RegistryError):
    """The registry holds something the catalog cannot use (not JSON, Docker schema 1)."""

    exit_code = ExitCode.INVALID


class Unauthorized(RegistryError, RegistryUnavailable):
    """The registry refused the credentials, or they could not be read."""

    exit_code = ExitCode.UNAVAILABLE


class Unreachable(RegistryError, RegistryUnavailable):
    """Connection refused, DNS failure or timeout, after every retry."""

    exit_code = ExitCode.UNAVAILABLE


class TlsFailure(RegistryError, RegistryUnavailable):
    """The TLS handshake or certificate check failed."""

    exit_code = ExitCode.UNAVAILABLE


class RegistryFailure(RegistryError):
    """Any other failure (5xx after every retry, an unexpected answer); checks are incomplete."""

    exit_code = ExitCode.UNAVAILABLE


class DigestMismatch(RegistryFailure):
    """The bytes served for a digest hash to another digest: never trust them."""


class SkopeoNotFound(RegistryFailure):
    """The skopeo executable is missing."""


# --- parsing manifests ---------------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _descriptors(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def parse_manifest(reference: Reference, raw: bytes, digest: str) -> ManifestInfo:
    """Read a manifest's bytes: an image index, an image, or an OCI artifact.

    Raises `ValueError` when the bytes are not a manifest the catalog can use.
    """
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValueError("the manifest is not JSON") from exc
    if not isinstance(doc, Mapping):
        raise ValueError("the manifest is not a JSON object")
    if doc.get("schemaVersion") == 1:
        raise ValueError("it is a Docker schema 1 manifest; push it again with a current tool")
    is_index = "manifests" in doc or doc.get("mediaType") in INDEX_MEDIA_TYPES
    media_type = _text(doc.get("mediaType")) or (OCI_INDEX if is_index else OCI_MANIFEST)
    common: dict[str, Any] = {
        "reference": reference,
        "digest": digest,
        "media_type": media_type,
        "size": len(raw),
        "annotations": _strings(doc.get("annotations")),
    }
    if is_index:
        return ManifestInfo(kind=ManifestKind.INDEX, platforms=_platforms(doc), **common)
    config = _mapping(doc.get("config"))
    config_type = _text(config.get("mediaType"))
    layers = tuple(
        Layer(
            media_type=_text(item.get("mediaType")) or "",
            digest=_text(item.get("digest")) or "",
            size=_count(item.get("size")),
            annotations=_strings(item.get("annotations")),
        )
        for item in _descriptors(doc.get("layers"))
    )
    artifact_type = _text(doc.get("artifactType"))
    # oras 1.1 writes artifactType and an empty config; older clients write no artifactType and a
    # config that is not an image config: either sign means "not a runnable image".
    is_artifact = artifact_type is not None or config_type not in IMAGE_CONFIG_MEDIA_TYPES
    return ManifestInfo(
        kind=ManifestKind.ARTIFACT if is_artifact else ManifestKind.IMAGE,
        artifact_type=(artifact_type or config_type) if is_artifact else None,
        layers=layers,
        config_media_type=config_type,
        config_digest=_text(config.get("digest")),
        **common,
    )


def _platforms(doc: Mapping[str, Any]) -> tuple[Platform, ...]:
    platforms = []
    for item in _descriptors(doc.get("manifests")):
        platform = _mapping(item.get("platform"))
        platforms.append(
            Platform(
                architecture=_text(platform.get("architecture")) or "",
                os=_text(platform.get("os")) or "",
                variant=_text(platform.get("variant")),
                digest=_text(item.get("digest")) or "",
                media_type=_text(item.get("mediaType")) or "",
                size=_count(item.get("size")),
                annotations=_strings(item.get("annotations")),
            )
        )
    return tuple(platforms)


def with_config(info: ManifestInfo, raw: bytes) -> ManifestInfo:
    """The image's facts from its config blob: platform, creation time and labels."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValueError("the image config is not JSON") from exc
    if not isinstance(doc, Mapping):
        raise ValueError("the image config is not a JSON object")
    runtime = _mapping(doc.get("config"))
    return replace(
        info,
        architecture=_text(doc.get("architecture")),
        os=_text(doc.get("os")),
        created=_text(doc.get("created")),
        labels=_strings(runtime.get("Labels")),
        config_fetched=True,
    )


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


def is_transient(error: RegistryError) -> bool:
    """Worth another attempt: unreachable, timed out, 5xx or rate-limited."""
    if isinstance(error, Unreachable):
        return True
    return type(error) is RegistryFailure and bool(_TRANSIENT.search(error.detail.lower()))


# --- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    args: tuple[str, ...]
    secrets: tuple[str, ...] = ()


@dataclass
class _Run:
    returncode: int | None  # None: killed at the deadline
    stdout: bytes
    stderr: bytes


class RegistryClient:
    """Reads manifests from the declared registries through skopeo; safe to share among threads.

    `calls` counts the skopeo processes started (retries included). At most
    `spec.maxConcurrency` skopeo processes talk to one registry at a time.
    """

    def __init__(
        self,
        registries: Sequence[Registry],
        *,
        timeout: float = 30.0,
        retries: int = 3,
        skopeo: str = "skopeo",
        backoff: float = 0.5,
    ) -> None:
        found = shutil.which(skopeo)
        if found is None:
            raise SkopeoNotFound(
                f"skopeo ({skopeo}) was not found on PATH, and registry checks need it: "
                f"{INSTALL_HINT}"
            )
        self._skopeo = found
        self._registries = {r.spec.host: r for r in registries}
        self._slots = {
            r.spec.host: threading.BoundedSemaphore(r.spec.max_concurrency) for r in registries
        }
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.calls = 0
        self._lock = threading.Lock()
        self._private: Path | None = None
        self._cert_dirs: dict[str, Path] = {}
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self._environment = {k: os.environ[k] for k in _INHERITED_ENVIRONMENT if k in os.environ}
        # skopeo inspect is a short, network-bound process: one scheduler thread is plenty, and
        # leaves the CPUs to the other skopeo processes running beside it.
        self._environment.setdefault("GOMAXPROCS", "1")

    # -- public API ------------------------------------------------------------------------------

    def registry_for(self, host: str) -> Registry:
        """The declared registry for `host`; registries are an allow-list."""
        registry = self._registries.get(host)
        if registry is None:
            raise CatalogError(
                f"host {host!r} is not a declared registry (declare it in registries/; "
                f"declared: {', '.join(sorted(self._registries)) or 'none'})"
            )
        return registry

    def inspect(self, ref: str | Reference, *, config: bool = True) -> ManifestInfo:
        """Fetch and read the manifest `ref` names (tag or digest).

        The digest is always sha256 of the bytes received; when `ref` carries a digest, the bytes
        must hash to it. For an image, the config is fetched too (a second call) unless
        `config=False`.
        """
        reference = _reference(ref)
        registry = self.registry_for(reference.host)
        raw = self._fetch(registry, reference, ())
        digest = sha256_digest(raw)
        if reference.digest is not None and digest != reference.digest:
            raise DigestMismatch(
                f"{_describe(registry)} served bytes hashing to {digest} for {reference}: "
                "the registry or a proxy in between is corrupt; do not use this image, and "
                "report it to the registry's operators",
                **_where(registry, reference),
            )
        try:
            info = parse_manifest(reference, raw, digest)
        except ValueError as exc:
            raise UnsupportedManifest(
                f"{reference} in {_describe(registry)} cannot be used: {exc}",
                **_where(registry, reference),
            ) from exc
        return self.fetch_config(info) if config else info

    def fetch_config(self, info: ManifestInfo) -> ManifestInfo:
        """Add an image's config (architecture, os, created, labels); other kinds are returned."""
        if info.kind is not ManifestKind.IMAGE or info.config_fetched:
            return info
        registry = self.registry_for(info.reference.host)
        # By digest, so that a tag moved between the two calls cannot mix two images.
        pinned = Reference.parse(info.pinned())
        raw = self._fetch(registry, pinned, ("--config",))
        if info.config_digest is not None and sha256_digest(raw) != info.config_digest:
            raise DigestMismatch(
                f"{_describe(registry)} served a config for {pinned} that does not hash to "
                f"{info.config_digest}: do not use this image, and report it to the registry's "
                "operators",
                **_where(registry, pinned),
            )
        try:
            return with_config(info, raw)
        except ValueError as exc:
            raise UnsupportedManifest(
                f"{pinned} in {_describe(registry)} cannot be used: {exc}",
                **_where(registry, pinned),
            ) from exc

    def close(self) -> None:
        """Stop skopeo processes still running and remove the private temp folder."""
        with self._lock:
            self._closed = True
            running = list(self._running)
            private, self._private = self._private, None
            self._cert_dirs.clear()
        for process in running:
            if process.returncode is None:  # not reaped yet, so its group id is still its own
                _kill_group(process)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- calls, retries and classification -------------------------------------------------------

    def _fetch(self, registry: Registry, reference: Reference, extra: Sequence[str]) -> bytes:
        """skopeo's output, retrying what a retry may fix with bounded exponential backoff."""
        attempt = 0
        while True:
            try:
                return self._attempt(registry, reference, extra, attempt + 1)
            except RegistryError as error:
                if attempt >= self.retries or not is_transient(error):
                    raise
            time.sleep(min(self.backoff * 2**attempt, _MAX_BACKOFF))
            attempt += 1

    def _attempt(
        self, registry: Registry, reference: Reference, extra: Sequence[str], attempt: int
    ) -> bytes:
        with self._slots[registry.spec.host], self._credentials(registry) as credentials:
            argv = [
                self._skopeo,
                "--command-timeout",
                f"{max(1, int(self.timeout * 1000))}ms",
                "inspect",
                "--raw",
                *extra,
                *self._tls_args(registry),
                *credentials.args,
                f"docker://{reference}",
            ]
            run = self._run(argv)
        if run.returncode == 0:
            return run.stdout
        if run.returncode is None:
            detail = f"no answer within {self.timeout:g} s"
            kind: type[RegistryError] = Unreachable
        else:
            stderr = run.stderr.decode("utf-8", errors="replace")
            detail = skopeo_detail(stderr, credentials.secrets) or f"exit status {run.returncode}"
            kind = classify(detail, reference)
        raise kind(
            _message(kind, registry, reference, detail, attempt),
            **_where(registry, reference),
            detail=detail,
        )

    def _run(self, argv: list[str]) -> _Run:
        """Run one skopeo process; on the deadline kill its whole process group."""
        with self._lock:
            if self._closed:
                raise RegistryFailure("the registry client is closed")
            self.calls += 1
        try:
            # A session of its own, so a timeout kills skopeo and anything it started.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environment,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise SkopeoNotFound(f"{self._skopeo} is gone: {INSTALL_HINT}") from exc
        with self._lock:
            self._running.add(process)
        try:
            # skopeo enforces --command-timeout itself; this deadline is for a hung process.
            stdout, stderr = process.communicate(timeout=self.timeout + min(self.timeout, 5.0))
        except subprocess.TimeoutExpired:
            _kill_group(process)  # before reaping it, so the group id cannot have been reused
            process.communicate()
            return _Run(None, b"", b"")
        finally:
            with self._lock:
                self._running.discard(process)
        return _Run(process.returncode, stdout, stderr)

    # -- TLS and credentials ---------------------------------------------------------------------

    def _tls_args(self, registry: Registry) -> list[str]:
        args = [f"--tls-verify={'true' if registry.spec.tls_verify else 'false'}"]
        if registry.spec.ca_file is not None:
            args += ["--cert-dir", str(self._cert_dir(registry))]
        return args

    def _cert_dir(self, registry: Registry) -> Path:
        """A folder holding only the registry's CA as ca.crt, which is what --cert-dir reads."""
        ca_file = registry.spec.ca_file
        assert ca_file is not None
        with self._lock:
            known = self._cert_dirs.get(registry.spec.host)
            if known is not None:
                return known
            folder = Path(tempfile.mkdtemp(prefix="certs-", dir=self._private_dir()))
            try:
                shutil.copyfile(ca_file, folder / "ca.crt")
            except OSError as exc:
                raise TlsFailure(
                    f"the CA file {ca_file} of {_describe(registry)} cannot be read "
                    f"({exc.strerror}): fix spec.caFile in {_file(registry)}",
                    registry=registry.metadata.name,
                    host=registry.spec.host,
                ) from exc
            self._cert_dirs[registry.spec.host] = folder
            return folder

    def _private_dir(self) -> Path:
        """The client's own temp folder (mode 0700); call with the lock held."""
        if self._closed:
            raise RegistryFailure("the registry client is closed")
        if self._private is None:
            self._private = Path(tempfile.mkdtemp(prefix="image-catalog-registry-"))
            os.chmod(self._private, 0o700)
        return self._private

    @contextlib.contextmanager
    def _credentials(self, registry: Registry) -> Iterator[_Credentials]:
        """How skopeo authenticates for one call; a temp auth file lives only as long as it."""
        auth = registry.spec.auth
        if isinstance(auth, NoAuth):
            yield _Credentials(("--no-creds",))
            return
        if isinstance(auth, AuthFileAuth):
            if not os.access(auth.path, os.R_OK):
                raise Unauthorized(
                    f"{_describe(registry)} authenticates with the auth file {auth.path}, which "
                    "does not exist or cannot be read: create it (skopeo login --authfile "
                    f"{auth.path} {registry.spec.host}) or fix spec.auth.path",
                    registry=registry.metadata.name,
                    host=registry.spec.host,
                )
            yield _Credentials(("--authfile", auth.path))
            return
        username, password = self._secret(registry, auth)
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        document = json.dumps({"auths": {registry.spec.host: {"auth": encoded}}})
        with self._lock:
            folder = self._private_dir()
        # mkstemp creates the file 0600 and exclusively: one file per call, so concurrent calls
        # and a token rotated between them never share one.
        fd, name = tempfile.mkstemp(prefix="auth-", suffix=".json", dir=folder)
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(document)
            yield _Credentials(("--authfile", name), (password, encoded))
        finally:
            path.unlink(missing_ok=True)

    def _secret(
        self, registry: Registry, auth: ServiceAccountTokenAuth | EnvironmentAuth
    ) -> tuple[str, str]:
        """User name and password, read now (a rotated token is picked up at the next call)."""
        where = f"fix spec.auth in {_file(registry)}"
        if isinstance(auth, ServiceAccountTokenAuth):
            try:
                token = Path(auth.token_path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise Unauthorized(
                    f"{_describe(registry)} authenticates with the service-account token at "
                    f"{auth.token_path}, which cannot be read ({exc.strerror}): run where the "
                    f"token is mounted, or {where}",
                    registry=registry.metadata.name,
                    host=registry.spec.host,
                ) from None
            if not token:
                raise Unauthorized(
                    f"the service-account token file {auth.token_path} of {_describe(registry)} "
                    f"is empty: run where the token is mounted, or {where}",
                    registry=registry.metadata.name,
                    host=registry.spec.host,
                )
            return auth.username, token
        missing = [
            name
            for name in (auth.username_variable, auth.password_variable)
            if not os.environ.get(name)
        ]
        if missing:
            raise Unauthorized(
                f"{_describe(registry)} takes its credentials from the environment, but "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                f"export {', '.join(missing)}, or {where}",
                registry=registry.metadata.name,
                host=registry.spec.host,
            )
        return os.environ[auth.username_variable], os.environ[auth.password_variable]


def _reference(ref: str | Reference) -> Reference:
    if isinstance(ref, Reference):
        return ref
    try:
        return Reference.parse(ref)
    except ValueError as exc:
        raise CatalogError(str(exc)) from exc


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _describe(registry: Registry) -> str:
    return f"registry {registry.metadata.name} ({registry.spec.host})"


def _file(registry: Registry) -> str:
    return f"registries/{registry.metadata.name}.yaml"


def _where(registry: Registry, reference: Reference) -> dict[str, str]:
    return {
        "registry": registry.metadata.name,
        "host": registry.spec.host,
        "reference": str(reference),
    }


def _auth_hint(registry: Registry) -> str:
    auth = registry.spec.auth
    if isinstance(auth, NoAuth):
        return f"the registry wants credentials: set spec.auth in {_file(registry)}"
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
    where = _describe(registry)
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
