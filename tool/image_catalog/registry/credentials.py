"""How skopeo authenticates with, and trusts, each declared registry.

Credentials reach skopeo only through a containers auth file (`--authfile`) with no name on disk:
a memfd (where there is none, a temp file unlinked before skopeo starts), inherited by skopeo as a
descriptor and named `/proc/self/fd/N`, which skopeo 1.9 opens like any file. It dies with the
last process holding it, so not even SIGKILL leaves it behind. Never `--creds`, never a secret in
argv, in skopeo's environment, in a message or an exception. The service-account token is read
from its file at every call because the kubelet rotates it. A registry's CA reaches skopeo as a
`--cert-dir` holding only that CA, in a private scratch folder. A CA, auth file or token file that
is missing, unreadable or not a regular file is `DeclaredFileUnusable` (exit 1: the declaration
or the machine is wrong), never a refusal by the registry that a retry might clear.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.model import (
    AuthFileAuth,
    EnvironmentAuth,
    NoAuth,
    Registry,
    ServiceAccountTokenAuth,
)
from image_catalog.registry.errors import (
    DeclaredFileUnusable,
    RegistryFailure,
    Unauthorized,
    describe,
    file_of,
)
from image_catalog.scratch import Scratch, make_scratch, sweep_stale

_PREFIX = "image-catalog-registry-"


@dataclass(frozen=True)
class Credentials:
    """What one skopeo call receives to authenticate, and the secrets to scrub from its output."""

    args: tuple[str, ...]
    secrets: tuple[str, ...] = ()
    pass_fds: tuple[int, ...] = ()


class CredentialStore:
    """Credentials and CA folders for the declared registries; safe to share among threads.

    Everything written lives in one private temp folder (mode 0700), removed by `close`.
    """

    def __init__(self) -> None:
        # What a killed client left, auth files of earlier releases included, goes now.
        sweep_stale(Path(tempfile.gettempdir()), _PREFIX)
        self._lock = threading.Lock()
        self._private: Path | None = None
        self._cert_dirs: dict[str, Path] = {}
        self._closed = False
        self._scratch: Scratch | None = None

    @property
    def private(self) -> Path | None:
        """The private temp folder, once something was written to it."""
        return self._private

    def tls_args(self, registry: Registry) -> list[str]:
        args = [f"--tls-verify={'true' if registry.spec.tls_verify else 'false'}"]
        if registry.spec.ca_file is not None:
            args += ["--cert-dir", str(self._cert_dir(registry))]
        return args

    @contextlib.contextmanager
    def for_call(self, registry: Registry) -> Iterator[Credentials]:
        """How skopeo authenticates for one call; its auth file lives only as long as the call."""
        auth = registry.spec.auth
        if isinstance(auth, NoAuth):
            yield Credentials(("--no-creds",))
            return
        if isinstance(auth, AuthFileAuth):
            try:
                # Read once, bounded and never blocking: a device or a FIFO there would keep
                # skopeo reading until its deadline, and a missing file is no reason to retry.
                read_regular_file(Path(auth.path), _AUTH_FILE_LIMIT, follow_links=True)
            except (OSError, NotAFile) as exc:
                raise _unusable(
                    registry,
                    "spec.auth.path",
                    f"the auth file {auth.path}",
                    exc,
                    f"create it (skopeo login --authfile {auth.path} {registry.spec.host}) or "
                    "fix spec.auth.path",
                ) from None
            yield Credentials(("--authfile", auth.path))
            return
        username, password = _secret(registry, auth)
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        document = json.dumps({"auths": {registry.spec.host: {"auth": encoded}}})
        fd = self._anonymous_file()
        try:
            os.write(fd, document.encode("utf-8"))
            os.lseek(fd, 0, os.SEEK_SET)
            # One descriptor per call, so concurrent calls and a token rotated between them never
            # share one. skopeo opens the path anew (the offset does not matter), possibly twice.
            yield Credentials(("--authfile", f"/proc/self/fd/{fd}"), (password, encoded), (fd,))
        finally:
            os.close(fd)

    def _anonymous_file(self) -> int:
        """A readable, writable file with no name on disk: only this process's descriptors (and
        `/proc/PID/fd`, which only the same user may open) reach it."""
        with contextlib.suppress(AttributeError, OSError):  # no memfd on this system
            return os.memfd_create("image-catalog-auth", os.MFD_CLOEXEC)
        with self._lock:
            folder = self._private_dir()
        fd, name = tempfile.mkstemp(prefix="auth-", suffix=".json", dir=folder)
        os.unlink(name)
        return fd

    def close(self) -> None:
        """Remove the private temp folder; no credentials are handed out afterwards."""
        with self._lock:
            self._closed = True
            private, self._private = self._private, None
            scratch, self._scratch = self._scratch, None
            self._cert_dirs.clear()
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        if scratch is not None:
            scratch.release()

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
                # Bounded: the path comes from a catalog file; /dev/zero must not fill the disk.
                data = read_regular_file(Path(ca_file), _CA_LIMIT, follow_links=True)
                (folder / "ca.crt").write_bytes(data)
            except (OSError, NotAFile) as exc:
                raise _unusable(
                    registry,
                    "spec.caFile",
                    f"the CA file {ca_file}",
                    exc,
                    "put the registry's CA certificate there, or fix spec.caFile",
                ) from exc
            self._cert_dirs[registry.spec.host] = folder
            return folder

    def _private_dir(self) -> Path:
        """The store's own temp folder (mode 0700); call with the lock held."""
        if self._closed:
            raise RegistryFailure("the registry client is closed")
        if self._private is None:
            self._scratch = make_scratch(Path(tempfile.gettempdir()), _PREFIX)
            self._private = self._scratch.path
        return self._private


# A service-account token is a JWT of a few kilobytes; a CA bundle and a containers auth file
# are well under a megabyte.
_TOKEN_LIMIT = 64 * 1024
_CA_LIMIT = 1024 * 1024
_AUTH_FILE_LIMIT = 1024 * 1024


def _secret(registry: Registry, auth: ServiceAccountTokenAuth | EnvironmentAuth) -> tuple[str, str]:
    """User name and password, read now (a rotated token is picked up at the next call)."""
    where = f"fix spec.auth in {file_of(registry)}"
    if isinstance(auth, ServiceAccountTokenAuth):
        try:
            # Bounded and never blocking: the path comes from a catalog file, and /dev/zero or
            # a FIFO there must not hang the check. The kubelet mounts the token as a link.
            data = read_regular_file(Path(auth.token_path), _TOKEN_LIMIT, follow_links=True)
            token = data.decode("utf-8").strip()
        except (OSError, NotAFile) as exc:
            raise _unusable(
                registry,
                "spec.auth.tokenPath",
                f"the service-account token file {auth.token_path}",
                exc,
                f"run where the token is mounted, or {where}",
            ) from None
        except UnicodeDecodeError:
            raise _refused(
                registry,
                f"{describe(registry)} authenticates with the service-account token at "
                f"{auth.token_path}, which is not UTF-8 text: run where the token is mounted, "
                f"or {where}",
            ) from None
        if not token:
            raise _refused(
                registry,
                f"the service-account token file {auth.token_path} of {describe(registry)} "
                f"is empty: run where the token is mounted, or {where}",
            )
        return auth.username, token
    missing = [
        name
        for name in (auth.username_variable, auth.password_variable)
        if not os.environ.get(name)
    ]
    if missing:
        raise _refused(
            registry,
            f"{describe(registry)} takes its credentials from the environment, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
            f"export {', '.join(missing)}, or {where}",
        )
    return os.environ[auth.username_variable], os.environ[auth.password_variable]


def _unusable(
    registry: Registry, field: str, what: str, error: OSError | NotAFile, remedy: str
) -> DeclaredFileUnusable:
    """A file the declaration names cannot be used: missing, unreadable or not a regular file."""
    if isinstance(error, NotAFile):
        reason = error.message
    elif isinstance(error, FileNotFoundError):
        reason = "it does not exist"
    else:
        reason = error.strerror or type(error).__name__
    return DeclaredFileUnusable(
        f"{file_of(registry)}: {field}: {what} of {describe(registry)} cannot be used "
        f"({reason}): {remedy}",
        registry=registry.metadata.name,
        host=registry.spec.host,
        field=field,
    )


def _refused(registry: Registry, message: str) -> Unauthorized:
    """The registry's credentials cannot be used as its file declares them."""
    return Unauthorized(message, registry=registry.metadata.name, host=registry.spec.host)
