"""One catalog entry rendered into the site's documents: its summary (a row of index.json and the
views) and its version document (images/NAME/VERSION.json).

Rendering is a pure function of the entry, its registries, the vocabulary and when it was first
published, so a build keeps what it made (`site_cache.py`) and renders only changed files again.
A reference is turned into its public host by a plain split, not a parse: the model's pattern
already guarantees its form, and the full parser would cost a third of a large build. Every path
segment is a validated name, version or vocabulary word, checked again here (`site_path`) so that
nothing but a plain file name ever reaches the file system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec.structs import replace

from image_catalog.errors import CatalogError
from image_catalog.manifest import model
from image_catalog.manifest.model import CatalogImage, DiskFile, ManifestRef, Registry, Variant
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    Artifact,
    Deprecation,
    EntryHealth,
    FirstPublished,
    ImageBuildSource,
    Pinned,
    PrebuiltSource,
    Source,
    Summary,
    TargetRef,
    VariantDetail,
    VariantRef,
    VersionDoc,
    ViewBy,
)

# One path segment built from a validated name, version or vocabulary word.
_SEGMENT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


def version_path(name: str, version: str) -> str:
    """The path of a version document: `site_path("images", name, f"{version}.json")`, in two
    checks rather than three."""
    if _SEGMENT.fullmatch(name) and _SEGMENT.fullmatch(version):
        return f"images/{name}/{version}.json"
    return site_path("images", name, f"{version}.json")  # which says what is wrong


def site_path(*segments: str) -> str:
    """The site path of these segments joined; a `CatalogError` for one that is not a plain
    file name."""
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise CatalogError(f"{segment!r} cannot be used as a file name in the site")
    return "/".join(segments)


@dataclass
class Hosts:
    """Maps a reference to the registry's public host, and a blob to its download URL."""

    registries: dict[str, Registry]

    def public(self, ref: str) -> tuple[str, str]:
        """(digest, HOST/REPOSITORY@DIGEST on the public host) of a pinned reference."""
        host, repository, digest = _split(ref)
        return digest, f"{self.registries[host].pull_host}/{repository}@{digest}"

    def pinned(self, ref: str) -> Pinned:
        digest, public = self.public(ref)
        return Pinned(digest=digest, ref=public, oci=f"oci://{public}")

    def blobs(self, ref: str) -> str:
        """The URL of the blobs of the reference's repository, up to a blob's sha256 hex."""
        host, repository, _ = _split(ref)
        registry = self.registries[host]
        # A registry the catalog reaches without TLS verification is, in practice, a plain-HTTP
        # one (a lab or loopback registry); a URL with https would not download from it.
        scheme = "https" if registry.spec.tls_verify else "http"
        return f"{scheme}://{registry.pull_host}/v2/{repository}/blobs/sha256:"


def _split(ref: str) -> tuple[str, str, str]:
    """Host, repository and digest of a validated pinned reference.

    The model's pattern already guarantees HOST/REPOSITORY@sha256:HEX with an explicit host, so a
    split is enough (the full parser is a third of the build time at 20,000 entries).
    """
    name, _, digest = ref.rpartition("@")
    host, _, repository = name.partition("/")
    return host, repository, digest


@dataclass(slots=True)
class RenderedEntry:
    """One version, with what the views are cut by.

    Its summary and document are either structs or, reused from an earlier build, the bytes
    `contract.encode` made of them (msgspec.Raw), which the encoder copies as they are. A
    document may also be left out (None) when `sha256` and `size` say which file it is: the
    site holds it already (`content.KeptFile`), and its bytes are read or made only when needed.
    """

    name: str
    version: str
    published: datetime
    deprecated: bool
    keys: dict[ViewBy, list[str]]
    summary: Summary | msgspec.Raw
    document: VersionDoc | msgspec.Raw | None
    sha256: str | None = None  # of the document's file, when known from an earlier build
    size: int | None = None  # of the document's file, when `sha256` is known
    summary_sha256: bytes | None = None  # of the summary's bytes, when known likewise

    @property
    def order(self) -> tuple[float, str, str]:
        return (-self.published.timestamp(), self.name, self.version)


def render_entry(
    image: CatalogImage,
    hosts: Hosts,
    vocabulary: Vocabulary,
    first: tuple[str, str] | None,
) -> RenderedEntry:
    spec, meta = image.spec, image.metadata
    distro = vocabulary.distro(spec.distro) or spec.distro
    architectures = list(dict.fromkeys(v.architecture for v in spec.variants))
    deprecation = spec.lifecycle.deprecated
    details = [row for variant in spec.variants for row in _variants(variant, hosts)]
    common: dict[str, Any] = {
        "name": meta.name,
        "version": meta.version,
        "display_name": spec.display_name,
        "distro": distro,
        "distro_as_written": spec.distro if distro != spec.distro else None,
        "targets": [TargetRef(name=t.name, verified=t.verified) for t in spec.targets],
        "architectures": architectures,
        "tags": list(spec.tags),
        "bootc": spec.bootc,
        "published_at": spec.published_at,
        "deprecated": deprecation is not None,
        "superseded_by": spec.lifecycle.superseded_by,
        "index": hosts.pinned(spec.index.ref) if spec.index is not None else None,
        "href": site_path("images", meta.name, f"{meta.version}.json"),
        "first_published": (
            FirstPublished(commit=first[0], date=datetime.fromisoformat(first[1]))
            if first
            else None
        ),
    }
    summary = Summary(**common, variants=[_row(d) for d in details])
    document = VersionDoc(
        **common,
        schema_version=SCHEMA_VERSION,
        description=spec.description,
        distro_version=spec.distro_version,
        build_mode=spec.build_mode,
        export_format=spec.export_format,
        labels=dict(image.metadata.labels),
        source=_source(spec.source),
        deprecation=(
            Deprecation(reason=deprecation.reason, date=deprecation.date)
            if deprecation is not None
            else None
        ),
        variants=details,
    )
    return RenderedEntry(
        name=meta.name,
        version=meta.version,
        published=spec.published_at,
        deprecated=deprecation is not None,
        keys={
            "architecture": architectures,
            "distro": [distro],
            "target": [t.name for t in spec.targets],
        },
        summary=summary,
        document=document,
    )


def with_health(entry: RenderedEntry, health: EntryHealth | None) -> RenderedEntry:
    """The entry with its state from a health check: the state, and since when, only.

    Check times stay in status.json, so a view or an image file changes only when a state does.
    """
    if health is None:
        return entry
    summary, document = entry.summary, entry.document
    assert document is not None  # loaded by `content.content_of_entries`
    if isinstance(summary, msgspec.Raw):
        summary = msgspec.json.decode(summary, type=Summary)
    if isinstance(document, msgspec.Raw):
        document = msgspec.json.decode(document, type=VersionDoc)
    by_architecture = {v.architecture: v for v in health.variants}
    variants = []
    for detail in document.variants:
        variant = by_architecture.get(detail.architecture)
        if variant is not None:
            detail = replace(detail, health=variant.state, health_since=variant.since)
        variants.append(detail)
    entry.sha256 = entry.summary_sha256 = None
    entry.summary = replace(summary, health=health.state)
    entry.document = replace(
        document, health=health.state, health_since=health.since, variants=variants
    )
    return entry


def _row(detail: VariantDetail) -> VariantRef:
    """A summary's row of a variant: which manifest, without its details."""
    return VariantRef(
        digest=detail.digest,
        ref=detail.ref,
        oci=detail.oci,
        architecture=detail.architecture,
        kind=detail.kind,
    )


def _source(source: model.Source) -> Source:
    built, prebuilt = source.image_build, source.prebuilt
    return Source(
        image_build=(
            ImageBuildSource(
                name=built.name,
                namespace=built.namespace,
                uid=built.uid,
                completion_time=built.completion_time,
                aib_image=built.aib_image,
                builder_image=built.builder_image,
                manifest=built.manifest,
                manifest_config_map=built.manifest_config_map,
                schedule=built.schedule,
            )
            if built is not None
            else None
        ),
        prebuilt=PrebuiltSource(origin=prebuilt.origin) if prebuilt is not None else None,
    )


def _variants(variant: Variant, hosts: Hosts) -> list[VariantDetail]:
    """The variant's container and disk, in that order, each with its details."""
    details = []
    if variant.container is not None:
        details.append(_detail(variant, "container", variant.container, hosts, None, []))
    disk = variant.disk
    if disk is not None:
        blobs = hosts.blobs(disk.ref)
        artifacts = [_artifact(file, blobs) for file in disk.files]
        details.append(_detail(variant, "disk", disk, hosts, disk.artifact_type, artifacts))
    return details


def _detail(
    variant: Variant,
    kind: Literal["container", "disk"],
    manifest: ManifestRef,
    hosts: Hosts,
    artifact_type: str | None,
    artifacts: list[Artifact],
) -> VariantDetail:
    digest, public = hosts.public(manifest.ref)
    return VariantDetail(
        digest=digest,
        ref=public,
        oci=f"oci://{public}",
        architecture=variant.architecture,
        kind=kind,
        tag=manifest.tag,
        os=variant.os,
        platform_variant=variant.platform_variant,
        media_type=manifest.media_type,
        size=manifest.size,
        artifact_type=artifact_type,
        artifacts=artifacts,
    )


def _artifact(file: DiskFile, blobs: str) -> Artifact:
    """A disk's file; `blobs` is the URL of its repository's blobs (see `Hosts.blobs`)."""
    return Artifact(
        title=file.title,
        media_type=file.media_type,
        format=file.format,
        compression=file.compression,
        sha256=file.sha256,
        size=file.size,
        decompressed_size=file.decompressed_size,
        partition=file.partition,
        url=file.download_url or blobs + file.sha256,
    )
