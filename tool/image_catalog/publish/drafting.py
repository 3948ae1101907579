"""How a new entry is drafted: from a completed ImageBuild, or from a prebuilt image's reference.

Every reference is resolved through the registry to what it holds now, and only what the registry
says is pinned: a digest, never a tag. The build's own word wins over the image's AIB annotations,
and an image that contradicts the build (another architecture, made after the build completed) is
refused rather than published under the build's name, version and source. What the person
publishing chose (name, version, tags, ...) is added later, by `Draft.document`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.rules import rfc3339
from image_catalog.errors import CatalogError, UsageError
from image_catalog.naming import OPERATOR_GROUP, schedule_tag
from image_catalog.publish.draft import Draft, ManifestData, VariantData
from image_catalog.publish.imagebuild import BuildInfo
from image_catalog.publish.inspected import (
    aib_annotations,
    canonical_architecture,
    containers,
    created_time,
    disk,
    platform_facts,
    variant,
    version_from_created,
    version_from_time,
)
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.oci import ManifestInfo, ManifestKind


@dataclass(frozen=True, kw_only=True)
class Prebuilt:
    """`publish image`: the metadata flags for an image that no ImageBuild describes."""

    distro: str | None = None
    targets: tuple[str, ...] = ()
    architecture: str | None = None
    origin: str | None = None


# --- from an ImageBuild --------------------------------------------------------------------------


def draft_from_imagebuild(catalog: Catalog, build: BuildInfo, client: RegistryClient) -> Draft:
    """The entry for what a completed ImageBuild pushed: its container, its disk, or both."""
    declared = _declared_architecture(catalog, build)
    variants: dict[str, VariantData] = {}
    index = None
    annotations: dict[str, str] = {}
    if build.container_ref:
        info = client.inspect(build.container_ref)
        _refuse_newer(info, build)
        index, found = containers(catalog, info)
        if info.kind is ManifestKind.IMAGE:
            _refuse_other_architecture(build, declared, info.reference, set(found))
        platforms = platform_facts(catalog, info)
        for arch, container in found.items():
            variants.setdefault(arch, variant(arch, platforms))["container"] = container
        annotations.update(aib_annotations(info))
    if build.disk_ref:
        info = client.inspect(build.disk_ref)
        _refuse_newer(info, build)
        disk_arch = canonical_architecture(
            catalog, info.annotations.get(OPERATOR_GROUP + "arch") or build.architecture
        )
        _refuse_other_architecture(build, declared, info.reference, {disk_arch})
        if disk_arch is None:
            raise CatalogError(
                f"{build.disk_ref}: cannot tell the disk image's architecture: the build has no "
                "spec.architecture and the artifact no automotive.sdv.cloud.redhat.com/arch"
            )
        variants.setdefault(disk_arch, {"architecture": disk_arch})["disk"] = disk(info)
        annotations.update(aib_annotations(info))
    distro = build.distro or annotations.get("distro")
    target = build.target or annotations.get("target")
    if not distro or not target:
        missing = [n for n, v in (("distro", distro), ("target", target)) if not v]
        raise CatalogError(
            f"ImageBuild {build.shown} names no {' or '.join(missing)}, and the "
            "pushed image carries no AIB annotation for it"
        )
    tag = schedule_tag(build.schedule) if build.schedule else None
    return Draft(
        distro=distro,
        targets=[target],
        variants=variants,
        source={"imageBuild": _build_source(build)},
        default_version=version_from_time(build.completion_time),
        bootc=build.mode == "bootc",
        index=index,
        build_mode=build.mode or None,
        export_format=build.export_format or None,
        tags=[tag] if tag else [],
    )


def _build_source(build: BuildInfo) -> dict[str, Any]:
    """The entry's `spec.source.imageBuild`: which build made it, in file field names."""
    source: dict[str, Any] = {
        "name": build.name,
        "namespace": build.namespace,
        "completionTime": rfc3339(build.completion_time),
    }
    for key, value in (
        ("uid", build.uid),
        ("aibImage", build.aib_image),
        ("builderImage", build.builder_image),
        ("manifest", build.manifest),
        ("manifestConfigMap", build.manifest_config_map),
        ("schedule", build.schedule),
    ):
        if value:
            source[key] = value
    return source


def _declared_architecture(catalog: Catalog, build: BuildInfo) -> str | None:
    """The build's spec.architecture, canonical; one the catalog does not know is refused, not
    passed over (a `sparc` build must not be published as whatever the registry says)."""
    if build.architecture is None:
        return None
    try:
        return canonical_architecture(catalog, build.architecture)
    except CatalogError as exc:
        raise CatalogError(f"ImageBuild {build.shown}: spec.architecture: {exc}") from None


def _refuse_other_architecture(
    build: BuildInfo, declared: str | None, reference: object, found: set[str | None]
) -> None:
    if declared is None or found <= {declared, None}:
        return
    other = ", ".join(sorted(a for a in found if a))
    raise CatalogError(
        f"ImageBuild {build.shown}: spec.architecture is {declared}, but "
        f"{reference} is for {other}; publish the build that made it"
    )


# Clocks of the build pod and of the pushing tool differ a little; a later build differs by hours.
_PUSH_CLOCK_SLACK = timedelta(minutes=10)


def _refuse_newer(info: ManifestInfo, build: BuildInfo) -> None:
    """A scheduled build reuses its tag: an image made after the build completed is a later
    build's, and must not be published under this one's version and source."""
    created = created_time(info)
    if created is not None and created > build.completion_time + _PUSH_CLOCK_SLACK:
        raise CatalogError(
            f"{info.reference} now holds an image created {rfc3339(created)}, after "
            f"ImageBuild {build.shown} completed "
            f"({rfc3339(build.completion_time)}): a later build has pushed to the same tag; "
            "publish that build instead"
        )


# --- from a prebuilt image -----------------------------------------------------------------------


def draft_from_image(
    catalog: Catalog, ref: str, prebuilt: Prebuilt, client: RegistryClient, published: datetime
) -> Draft:
    """The entry for a prebuilt image or disk artifact; what the flags leave out comes from its
    AIB annotations or labels. `published` is when it is published (the last-resort version)."""
    info = client.inspect(ref)
    found = aib_annotations(info)
    variants: dict[str, VariantData] = {}
    index = None
    if info.kind is ManifestKind.ARTIFACT:
        arch = canonical_architecture(catalog, prebuilt.architecture or found.get("arch"))
        if arch is not None:
            variants[arch] = {"architecture": arch, "disk": disk(info)}
    else:
        index, variants = _image_variants(catalog, ref, info, prebuilt.architecture)
        if info.kind is ManifestKind.INDEX and variants:
            # An index has no labels of its own: its images' configs carry them (bootc, AIB).
            first = next(iter(variants.values()))
            assert "container" in first  # every variant of an image holds its container
            platform_image = client.inspect(first["container"]["ref"])
            found = {**aib_annotations(platform_image), **found}
            info = replace(
                info,
                labels={**platform_image.labels, **info.labels},
                created=info.created or platform_image.created,
            )
    distro = prebuilt.distro or found.get("distro")
    targets = list(prebuilt.targets) or ([found["target"]] if "target" in found else [])
    missing = []
    if not distro:
        missing.append("--distro D")
    if not targets:
        missing.append("--target T")
    if not variants:
        missing.append("--arch A")
    if missing or not distro:
        raise UsageError(
            f"{ref} does not say everything a catalog entry needs (no AIB annotations or labels "
            f"for it); add {' '.join(missing)}"
        )
    return Draft(
        distro=distro,
        targets=targets,
        variants=variants,
        source={"prebuilt": {"origin": prebuilt.origin or str(info.reference)}},
        default_version=version_from_created(info) or version_from_time(published),
        bootc=info.labels.get("containers.bootc") == "1",
        index=index,
        export_format=found.get("export-format"),
        fallback_version=version_from_time(published),
    )


def _image_variants(
    catalog: Catalog, ref: str, info: ManifestInfo, architecture: str | None
) -> tuple[ManifestData | None, dict[str, VariantData]]:
    """The index (when the whole of it is published) and a variant per architecture of a
    container image or index; with `architecture`, only that platform of it."""
    wanted = canonical_architecture(catalog, architecture)
    index, found = containers(catalog, info, wanted)
    platforms = platform_facts(catalog, info)
    variants: dict[str, VariantData] = {}
    for arch, container in found.items():
        if wanted is None or arch == wanted:
            variants[arch] = variant(arch, platforms)
            variants[arch]["container"] = container
    if wanted is not None and wanted not in found:
        raise CatalogError(f"{ref} has no {wanted} image (it has: {', '.join(found) or 'none'})")
    if wanted is not None and index is not None and len(found) > 1:
        index = None  # one platform of a multi-arch image: the index would list more
    return index, variants


def default_name(catalog: Catalog, distro: str, target: str, architectures: Sequence[str]) -> str:
    """`distro-target`, plus the architecture when the target is built for several.

    The distro is its canonical name: builds that say `autosd` and `autosd10` are one image.
    """
    vocabulary = catalog.vocabulary
    name = f"{(vocabulary.distro(distro) if vocabulary else None) or distro}-{target}"
    several = vocabulary is not None and len(vocabulary.target_architectures.get(target, ())) != 1
    if several and len(architectures) == 1:
        name += f"-{architectures[0]}"
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return name[:63].rstrip("-")
