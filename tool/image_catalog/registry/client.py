"""The registry client: reads manifests from the declared registries.

A facade over three parts: `oci` reads a manifest's bytes, `skopeo` runs the one process that
talks to a registry (timeouts, retries, error classification), and `credentials` decides how each
registry is authenticated and trusted. The error types and the manifest types are re-exported here,
so that callers need only this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from image_catalog.errors import CatalogError
from image_catalog.manifest.model import Registry
from image_catalog.manifest.reference import Reference
from image_catalog.registry.arguments import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from image_catalog.registry.credentials import CredentialStore
from image_catalog.registry.errors import (
    DigestMismatch,
    ManifestNotFound,
    RegistryError,
    RegistryFailure,
    SkopeoNotFound,
    TlsFailure,
    Unauthorized,
    Unreachable,
    UnsupportedManifest,
    describe,
    where_of,
)
from image_catalog.registry.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Layer,
    ManifestInfo,
    ManifestKind,
    Platform,
    parse_manifest,
    sha256_digest,
    with_config,
)
from image_catalog.registry.skopeo import INSTALL_HINT, Skopeo, classify, skopeo_detail

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INSTALL_HINT",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "DigestMismatch",
    "Layer",
    "ManifestInfo",
    "ManifestKind",
    "ManifestNotFound",
    "Platform",
    "RegistryClient",
    "RegistryError",
    "RegistryFailure",
    "SkopeoNotFound",
    "TlsFailure",
    "Unauthorized",
    "Unreachable",
    "UnsupportedManifest",
    "classify",
    "skopeo_detail",
]


class RegistryClient:
    """Reads manifests from the declared registries through skopeo; safe to share among threads.

    `calls` counts the skopeo processes started (retries included). At most
    `spec.maxConcurrency` skopeo processes talk to one registry at a time.
    """

    def __init__(
        self,
        registries: Sequence[Registry],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        skopeo: str = "skopeo",
        backoff: float = 0.5,
    ) -> None:
        self._skopeo = Skopeo(
            registries, executable=skopeo, timeout=timeout, retries=retries, backoff=backoff
        )
        self._registries = {r.spec.host: r for r in registries}
        self._credentials = CredentialStore()

    @property
    def calls(self) -> int:
        return self._skopeo.calls

    @property
    def timeout(self) -> float:
        return self._skopeo.timeout

    @property
    def private_folder(self) -> Path | None:
        """The private temp folder of credentials and CA files, None until one is written."""
        return self._credentials.private

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
                f"{describe(registry)} served bytes hashing to {digest} for {reference}: "
                "the registry or a proxy in between is corrupt; do not use this image, and "
                "report it to the registry's operators",
                **where_of(registry, reference),
            )
        try:
            info = parse_manifest(reference, raw, digest)
        except ValueError as exc:
            raise UnsupportedManifest(
                f"{reference} in {describe(registry)} cannot be used: {exc}",
                **where_of(registry, reference),
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
                f"{describe(registry)} served a config for {pinned} that does not hash to "
                f"{info.config_digest}: do not use this image, and report it to the registry's "
                "operators",
                **where_of(registry, pinned),
            )
        try:
            return with_config(info, raw)
        except ValueError as exc:
            raise UnsupportedManifest(
                f"{pinned} in {describe(registry)} cannot be used: {exc}",
                **where_of(registry, pinned),
            ) from exc

    def close(self) -> None:
        """Stop skopeo processes still running and remove the private temp folder."""
        self._skopeo.close()
        self._credentials.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fetch(self, registry: Registry, reference: Reference, extra: Sequence[str]) -> bytes:
        return self._skopeo.inspect(
            registry,
            reference,
            extra,
            tls_args=self._credentials.tls_args(registry),
            authenticate=self._credentials.for_call,
        )


def _reference(ref: str | Reference) -> Reference:
    if isinstance(ref, Reference):
        return ref
    try:
        return Reference.parse(ref)
    except ValueError as exc:
        raise CatalogError(str(exc)) from exc
