"""Build real OCI content in Python and push it to a :class:`LocalRegistry`.

Three shapes reach the catalog's registries: single-platform images, multi-arch image indexes
(both pushed by ``skopeo copy``) and disk-image artifacts (pushed by ``oras push``, in an ORAS 1.1
shape and an older one). These builders produce tiny but valid versions of each, so tests
exercise the same manifests skopeo will read in production.
"""

from __future__ import annotations

import gzip
import io
import json
import secrets
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .registry import LocalRegistry, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
UNKNOWN_CONFIG = "application/vnd.unknown.config.v1+json"
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

DISK_ARTIFACT_RAW = "application/vnd.automotive.disk.raw"
DISK_LAYER_RAW_GZIP = "application/vnd.automotive.disk.raw+gzip"
ANNOTATION_PREFIX = "automotive.sdv.cloud.redhat.com/"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_PARTITION = ANNOTATION_PREFIX + "partition"
ANNOTATION_DECOMPRESSED_SIZE = ANNOTATION_PREFIX + "decompressed-size"

# A fixed default keeps digests reproducible when a test passes ``seed``.
DEFAULT_CREATED = "2026-01-01T00:00:00Z"

ArtifactStyle = Literal["oras-1.1", "legacy"]


@dataclass(frozen=True)
class PushedImage:
    """A single-platform OCI image as it now sits in the registry."""

    host: str
    repo: str
    tag: str | None
    digest: str
    media_type: str
    size: int
    config_digest: str
    layer_digest: str
    architecture: str
    os: str
    manifest: bytes

    @property
    def ref(self) -> str:
        """Digest-pinned reference ``HOST/REPO@sha256:...``."""
        return f"{self.host}/{self.repo}@{self.digest}"

    @property
    def tag_ref(self) -> str:
        """Floating reference ``HOST/REPO:TAG`` (or the digest ref when pushed untagged)."""
        return f"{self.host}/{self.repo}:{self.tag}" if self.tag else self.ref


@dataclass(frozen=True)
class _PushedByTag:
    """Where a manifest pushed under a tag sits in the registry, and its digest, type and size."""

    host: str
    repo: str
    tag: str
    digest: str
    media_type: str
    size: int

    @property
    def ref(self) -> str:
        """Digest-pinned reference ``HOST/REPO@sha256:...``."""
        return f"{self.host}/{self.repo}@{self.digest}"

    @property
    def tag_ref(self) -> str:
        """Floating reference ``HOST/REPO:TAG``."""
        return f"{self.host}/{self.repo}:{self.tag}"


@dataclass(frozen=True)
class PushedIndex(_PushedByTag):
    """A multi-arch OCI image index and the per-platform images it lists."""

    images: tuple[PushedImage, ...]
    manifest: bytes


@dataclass(frozen=True)
class DiskFile:
    """One file of a disk-image artifact (a whole disk or one partition), pushed as one layer."""

    title: str
    data: bytes
    media_type: str = DISK_LAYER_RAW_GZIP
    partition: str | None = None
    decompressed_size: int | None = None


@dataclass(frozen=True)
class PushedLayer:
    """A layer of a pushed artifact, with the annotations a flasher needs."""

    title: str
    digest: str
    size: int
    media_type: str
    partition: str | None
    decompressed_size: int | None


@dataclass(frozen=True)
class PushedArtifact(_PushedByTag):
    """A disk-image OCI artifact as it now sits in the registry."""

    artifact_type: str | None
    config_media_type: str
    annotations: Mapping[str, str]
    layers: tuple[PushedLayer, ...]
    manifest: bytes


def canonical_json(value: Any) -> bytes:
    """Serialise compactly in insertion order (as Go clients do), so equal inputs hash equal."""
    return json.dumps(value, separators=(",", ":")).encode()


def _timestamp(created: str | datetime | None) -> str:
    if created is None:
        return DEFAULT_CREATED
    if isinstance(created, datetime):
        moment = created if created.tzinfo else created.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return created


def _layer_tar(filename: str, content: bytes) -> bytes:
    """An uncompressed tar holding one file, with fixed metadata so equal content is equal bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(filename)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _descriptor(media_type: str, blob: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(blob), "size": len(blob), **extra}


def push_image(
    registry: LocalRegistry,
    repo: str,
    tag: str | None,
    architecture: str = "amd64",
    os: str = "linux",
    labels: Mapping[str, str] | None = None,
    created: str | datetime | None = None,
    layer_bytes: bytes | None = None,
    *,
    seed: str | None = None,
    variant: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> PushedImage:
    """Push a one-layer OCI image; ``tag=None`` pushes it by digest only.

    The layer holds one file whose content is ``layer_bytes`` or, by default, the architecture plus
    a random nonce (or ``seed``), so each call yields a distinct digest unless asked otherwise.
    """
    content = layer_bytes
    if content is None:
        nonce = seed if seed is not None else secrets.token_hex(16)
        content = f"architecture={architecture}\nos={os}\nnonce={nonce}\n".encode()
    tar = _layer_tar("etc/image-catalog-test", content)
    layer = gzip.compress(tar, mtime=0)
    platform: dict[str, Any] = {"architecture": architecture, "os": os}
    if variant:
        platform["variant"] = variant
    config = canonical_json(
        {
            **platform,
            "created": _timestamp(created),
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
            "history": [{"created": _timestamp(created), "created_by": "tests.support.oci"}],
        }
    )
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_IMAGE_CONFIG, config),
        "layers": [_descriptor(OCI_LAYER_GZIP, layer)],
    }
    if annotations:
        manifest_doc["annotations"] = dict(annotations)
    manifest = canonical_json(manifest_doc)

    registry.push_blob(repo, layer)
    config_digest = registry.push_blob(repo, config)
    digest = registry.push_manifest(repo, tag or sha256_digest(manifest), manifest, OCI_MANIFEST)
    return PushedImage(
        host=registry.host,
        repo=repo,
        tag=tag,
        digest=digest,
        media_type=OCI_MANIFEST,
        size=len(manifest),
        config_digest=config_digest,
        layer_digest=sha256_digest(layer),
        architecture=architecture,
        os=os,
        manifest=manifest,
    )


def push_index(
    registry: LocalRegistry,
    repo: str,
    tag: str,
    architectures: Iterable[str] = ("amd64", "arm64"),
    labels: Mapping[str, str] | None = None,
    *,
    os: str = "linux",
    created: str | datetime | None = None,
    tag_platforms: bool = False,
    seed: str | None = None,
    variants: Mapping[str, str] | None = None,
) -> PushedIndex:
    """Push one image per architecture, then an OCI index listing them, tagged ``tag``.

    Platform images are pushed by digest, or tagged ``TAG-ARCH`` when ``tag_platforms`` is true.
    """
    images = tuple(
        push_image(
            registry,
            repo,
            f"{tag}-{arch}" if tag_platforms else None,
            architecture=arch,
            os=os,
            labels=labels,
            created=created,
            seed=None if seed is None else f"{seed}-{arch}",
            variant=(variants or {}).get(arch),
        )
        for arch in architectures
    )
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": image.media_type,
                    "digest": image.digest,
                    "size": image.size,
                    "platform": {
                        "architecture": image.architecture,
                        "os": image.os,
                        **(
                            {"variant": v}
                            if (v := (variants or {}).get(image.architecture))
                            else {}
                        ),
                    },
                }
                for image in images
            ],
        }
    )
    digest = registry.push_manifest(repo, tag, index, OCI_INDEX)
    return PushedIndex(
        host=registry.host,
        repo=repo,
        tag=tag,
        digest=digest,
        media_type=OCI_INDEX,
        size=len(index),
        images=images,
        manifest=index,
    )


def push_disk_artifact(
    registry: LocalRegistry,
    repo: str,
    tag: str,
    files: Sequence[DiskFile],
    annotations: Mapping[str, str],
    style: ArtifactStyle = "oras-1.1",
    *,
    artifact_type: str = DISK_ARTIFACT_RAW,
    created: str | None = DEFAULT_CREATED,
) -> PushedArtifact:
    """Push a disk image the way ``oras push`` does: one annotated layer per file.

    ``style="oras-1.1"`` writes ``artifactType`` and the empty config (``oras --image-spec v1.1``);
    ``style="legacy"`` writes no ``artifactType`` and an ``application/vnd.unknown.config.v1+json``
    config (older ORAS clients, the ORAS Python SDK). Like oras, an
    ``org.opencontainers.image.created`` annotation is added unless ``created`` is None or the
    caller set one.
    """
    if style not in ("oras-1.1", "legacy"):
        raise ValueError(f"unknown artifact style {style!r}")
    if not files:
        raise ValueError("an artifact needs at least one file")

    layers: list[PushedLayer] = []
    layer_docs: list[dict[str, Any]] = []
    for item in files:
        layer_annotations = {ANNOTATION_TITLE: item.title}
        if item.partition is not None:
            layer_annotations[ANNOTATION_PARTITION] = item.partition
        if item.decompressed_size is not None:
            layer_annotations[ANNOTATION_DECOMPRESSED_SIZE] = str(item.decompressed_size)
        digest = registry.push_blob(repo, item.data)
        layer_docs.append(_descriptor(item.media_type, item.data, annotations=layer_annotations))
        layers.append(
            PushedLayer(
                title=item.title,
                digest=digest,
                size=len(item.data),
                media_type=item.media_type,
                partition=item.partition,
                decompressed_size=item.decompressed_size,
            )
        )

    registry.push_blob(repo, EMPTY_JSON)
    manifest_annotations = dict(annotations)
    if created is not None:
        manifest_annotations.setdefault(ANNOTATION_CREATED, created)
    manifest_doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if style == "oras-1.1":
        manifest_doc["artifactType"] = artifact_type
        config_media_type = OCI_EMPTY
        manifest_doc["config"] = _descriptor(OCI_EMPTY, EMPTY_JSON, data="e30=")
    else:
        config_media_type = UNKNOWN_CONFIG
        manifest_doc["config"] = _descriptor(UNKNOWN_CONFIG, EMPTY_JSON)
    manifest_doc["layers"] = layer_docs
    if manifest_annotations:
        manifest_doc["annotations"] = manifest_annotations
    manifest = canonical_json(manifest_doc)
    digest = registry.push_manifest(repo, tag, manifest, OCI_MANIFEST)
    return PushedArtifact(
        host=registry.host,
        repo=repo,
        tag=tag,
        digest=digest,
        media_type=OCI_MANIFEST,
        size=len(manifest),
        artifact_type=artifact_type if style == "oras-1.1" else None,
        config_media_type=config_media_type,
        annotations=manifest_annotations,
        layers=tuple(layers),
        manifest=manifest,
    )
