"""The registry errors: each names the registry and the reference, and says what to do."""

from __future__ import annotations

from image_catalog.errors import ExitCode, ImageCatalogError, RegistryUnavailable
from image_catalog.manifest.model import Registry
from image_catalog.manifest.reference import Reference


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


class DeclaredFileUnusable(RegistryError):
    """A file a registry declaration names (its CA, auth file or token) is missing, unreadable or
    not a regular file: the catalog or the machine is wrong, and a retry would fail the same way.
    `field` is the declaration's field naming the file (`spec.caFile`, `spec.auth.tokenPath`)."""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str, *, registry: str, host: str, field: str) -> None:
        super().__init__(message, registry=registry, host=host)
        self.field = field


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


def describe(registry: Registry) -> str:
    return f"registry {registry.metadata.name} ({registry.spec.host})"


def file_of(registry: Registry) -> str:
    return f"registries/{registry.metadata.name}.yaml"


def where_of(registry: Registry, reference: Reference) -> dict[str, str]:
    return {
        "registry": registry.metadata.name,
        "host": registry.spec.host,
        "reference": str(reference),
    }
