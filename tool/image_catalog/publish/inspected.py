"""What an inspected manifest (`registry.oci.ManifestInfo`) says, as the pieces of a draft entry.

Every piece is pinned by digest: a tag is kept only as a note of where the digest was found. An
architecture is the catalog's canonical name for it, and one the vocabulary does not know is
refused rather than written as the registry spells it. AIB's annotations and labels are read
without their prefix, annotations winning over labels.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

from image_catalog.catalog.loader import Catalog
from image_catalog.errors import CatalogError
from image_catalog.naming import OPERATOR_GROUP
from image_catalog.publish.draft import DiskData, DiskFileData, ManifestData, VariantData
from image_catalog.registry.oci import ManifestInfo, ManifestKind

# An architecture's OS and CPU variant as an image says them, by canonical architecture.
PlatformFacts = dict[str, tuple[str | None, str | None]]


def canonical_architecture(catalog: Catalog, arch: str | None) -> str | None:
    """The vocabulary's name for `arch` (None for None); a `CatalogError` for one it lacks."""
    if arch is None:
        return None
    vocabulary = catalog.vocabulary
    canonical = vocabulary.architecture(arch) if vocabulary else None
    if canonical is None:
        known = vocabulary.describe_architectures() if vocabulary else ""
        raise CatalogError(f"architecture {arch!r} is not known ({known})")
    return canonical


def pinned_manifest(info: ManifestInfo) -> ManifestData:
    """The manifest by digest, with the tag it was found under when it had one."""
    ref = info.reference.pinned(info.digest)
    if info.reference.tag:
        return {
            "ref": ref,
            "tag": info.reference.tag,
            "mediaType": info.media_type,
            "size": info.size,
        }
    return {"ref": ref, "mediaType": info.media_type, "size": info.size}


def containers(
    catalog: Catalog, info: ManifestInfo, wanted: str | None = None
) -> tuple[ManifestData | None, dict[str, ManifestData]]:
    """The index (if any) and one container per architecture, all pinned by digest.

    With `wanted`, platforms the vocabulary does not know are passed over instead of refused.
    """
    if info.kind is ManifestKind.ARTIFACT:
        raise CatalogError(
            f"{info.reference} is an OCI artifact ({info.artifact_type}), not a container image; "
            "publish it as a disk image"
        )
    if info.kind is ManifestKind.IMAGE:
        arch = canonical_architecture(catalog, info.architecture)
        if arch is None:
            raise CatalogError(f"{info.reference}: the image config names no architecture")
        return None, {arch: pinned_manifest(info)}
    found: dict[str, ManifestData] = {}
    for platform in info.platforms:
        if platform.os != "linux" or platform.architecture == "unknown":
            continue  # attestations and other non-runnable entries of an index
        vocabulary = catalog.vocabulary
        arch = vocabulary.architecture(platform.architecture) if vocabulary else None
        if arch is None:
            if wanted is not None:
                continue
            raise CatalogError(
                f"{info.reference} has a {platform.architecture} image, an architecture the "
                "catalog does not know; publish the platforms it knows one at a time with --arch"
            )
        found[arch] = {
            "ref": info.reference.pinned(platform.digest),
            "mediaType": platform.media_type,
            "size": platform.size,
        }
    return pinned_manifest(info), found


_DISK_MEDIA = re.compile(
    r"^application/vnd\.automotive\.disk\.(?P<format>[a-z0-9]+)(?:\+(?P<c>\w+))?$"
)


def disk(info: ManifestInfo) -> DiskData:
    """A disk-image artifact and its files (one per layer); a container is refused."""
    if info.kind is not ManifestKind.ARTIFACT:
        raise CatalogError(
            f"{info.reference} is a container {info.kind.value}, not a disk-image artifact"
        )
    files: list[DiskFileData] = []
    for i, layer in enumerate(info.layers):
        entry = cast(
            DiskFileData,
            {
                "title": layer.title or f"layer-{i}",
                "mediaType": layer.media_type,
                **_disk_format(layer.media_type),
                "sha256": layer.digest.removeprefix("sha256:"),
                "size": layer.size,
            },
        )
        if layer.decompressed_size is not None:
            entry["decompressedSize"] = layer.decompressed_size
        if layer.partition:
            entry["partition"] = layer.partition
        files.append(entry)
    artifact = {"artifactType": info.artifact_type} if info.artifact_type else {}
    return cast(DiskData, {**pinned_manifest(info), **artifact, "files": files})


def _disk_format(media_type: str) -> dict[str, str]:
    """The format and compression a disk file's media type names, in file field names."""
    match = _DISK_MEDIA.match(media_type)
    if match is None:
        return {}
    if match["c"] in ("gzip", "lz4", "xz", "zstd"):
        return {"format": match["format"], "compression": match["c"]}
    return {"format": match["format"]}


def aib_annotations(info: ManifestInfo) -> dict[str, str]:
    """AIB's annotations (or labels) without their prefix: distro, target, arch, ..."""
    found = {
        k.removeprefix(OPERATOR_GROUP): v
        for k, v in info.labels.items()
        if k.startswith(OPERATOR_GROUP)
    }
    found.update(
        {
            k.removeprefix(OPERATOR_GROUP): v
            for k, v in info.annotations.items()
            if k.startswith(OPERATOR_GROUP)
        }
    )
    return found


def version_from_time(moment: datetime) -> str:
    """Sortable and unique per build: nightly builds of one tag become successive versions."""
    return moment.astimezone(UTC).strftime("%Y%m%d.%H%M%S")


def created_time(info: ManifestInfo) -> datetime | None:
    """When the image (config) or the artifact (annotation) says it was made, if it says."""
    created = info.created or info.annotations.get("org.opencontainers.image.created")
    if not created:
        return None
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# A reproducible build fixes its created time (the epoch, or SOURCE_DATE_EPOCH=0): such a time
# says nothing about when the image was made, and every such image would get the same version.
_FIXED_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)


def version_from_created(info: ManifestInfo) -> str | None:
    """The image's created time, when it says a plausible one; else None (the publication time
    is used instead)."""
    created = created_time(info)
    return version_from_time(created) if created and created >= _FIXED_BEFORE else None


_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def platform_facts(catalog: Catalog, info: ManifestInfo) -> PlatformFacts:
    """The OS and CPU variant each architecture's image says (its index entry or its config)."""
    vocabulary = catalog.vocabulary
    if info.kind is ManifestKind.IMAGE:
        said = [(info.architecture, info.os, info.variant)]
    else:
        said = [(p.architecture, p.os, p.variant) for p in info.platforms]
    found: PlatformFacts = {}
    for architecture, os_name, cpu_variant in said:
        arch = vocabulary.architecture(architecture) if vocabulary and architecture else None
        if arch is not None and arch not in found:
            found[arch] = (os_name, cpu_variant)
    return found


def variant(arch: str, platforms: PlatformFacts) -> VariantData:
    """A variant of `arch`, with the OS and CPU variant its image says when they are words."""
    made: VariantData = {"architecture": arch}
    os_name, cpu_variant = platforms.get(arch, (None, None))
    if os_name and _TAG.match(os_name):
        made["os"] = os_name
    if cpu_variant and _TAG.match(cpu_variant):
        made["platformVariant"] = cpu_variant
    return made
