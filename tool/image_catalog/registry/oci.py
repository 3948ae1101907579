"""OCI and Docker manifests: media types, the descriptors the catalog reads, and parsing.

Pure functions over a manifest's exact bytes; nothing here talks to a registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from image_catalog.manifest.reference import Reference
from image_catalog.naming import OPERATOR_GROUP

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_CONFIG_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
TITLE_ANNOTATION = "org.opencontainers.image.title"
PARTITION_ANNOTATION = OPERATOR_GROUP + "partition"
DECOMPRESSED_SIZE_ANNOTATION = OPERATOR_GROUP + "decompressed-size"


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
    variant: str | None = None
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


def _json_object(raw: bytes, what: str) -> Mapping[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON") from exc
    except RecursionError as exc:
        raise ValueError(f"{what} is nested deeper than a manifest can be") from exc
    if not isinstance(doc, Mapping):
        raise ValueError(f"{what} is not a JSON object")
    return doc


def parse_manifest(reference: Reference, raw: bytes, digest: str) -> ManifestInfo:
    """Read a manifest's bytes: an image index, an image, or an OCI artifact.

    Raises `ValueError` when the bytes are not a manifest the catalog can use.
    """
    doc = _json_object(raw, "the manifest")
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
    doc = _json_object(raw, "the image config")
    runtime = _mapping(doc.get("config"))
    return replace(
        info,
        architecture=_text(doc.get("architecture")),
        os=_text(doc.get("os")),
        variant=_text(doc.get("variant")),
        created=_text(doc.get("created")),
        labels=_strings(runtime.get("Labels")),
        config_fetched=True,
    )
