"""Publishing: turn a completed ImageBuild or a prebuilt image into one new catalog manifest.

Every reference is resolved to a digest through the registry, the new manifest goes through the
same offline and online checks as CI, and only then is anything written. The same digests published
again are a no-op; the same name and version with other digests is a conflict, so a tag that moved
never rewrites a published entry.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

import jinja2
from pydantic import ValidationError

from image_catalog.catalog.git import GitRepo, Identity
from image_catalog.catalog.loader import IMAGES_DIR, Catalog, Loaded, display_path
from image_catalog.catalog.problems import Problem, from_validation_error, locate_all, sort_key
from image_catalog.catalog.validate import check_entry, check_path
from image_catalog.errors import CatalogError, RegistryUnavailable, UsageError
from image_catalog.fsutil import atomic_write_text
from image_catalog.manifest.load import dump_document
from image_catalog.manifest.model import CatalogImage, schema_header
from image_catalog.manifest.reference import Reference
from image_catalog.naming import OPERATOR_GROUP, schedule_tag
from image_catalog.publish.arguments import check_arguments
from image_catalog.publish.draft import (
    DiskData,
    DiskFileData,
    Draft,
    ManifestData,
    VariantData,
)
from image_catalog.publish.imagebuild import BuildInfo
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.oci import ManifestInfo, ManifestKind
from image_catalog.registry.online import check_online
from image_catalog.scratch import sweep_stale

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("image_catalog.publish", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - renders commit messages and markdown, never HTML
)


class PublishRejected(CatalogError):
    """The new manifest would not pass validation; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        # The lines and columns point into a file that does not exist: say so.
        super().__init__(
            "the new manifest does not validate; nothing was written. Lines and columns below "
            f"are those of the manifest as it would have been written:\n{lines}"
        )


@dataclass(frozen=True)
class Options:
    """What the person publishing chose; everything else comes from the build or the registry."""

    name: str | None = None
    version: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    verified: bool = False
    branch: str | None = None
    author: Identity | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class Prebuilt:
    """`publish image`: the metadata flags for an image that no ImageBuild describes."""

    distro: str | None = None
    targets: tuple[str, ...] = ()
    architecture: str | None = None
    origin: str | None = None


@dataclass
class PublishResult:
    status: Literal["published", "unchanged", "dry-run"]
    id: str
    path: str
    text: str
    existing: str | None = None
    commit: str | None = None
    branch: str | None = None
    pull_request: str | None = None
    registry_calls: int = 0
    notes: list[str] = field(default_factory=list)


# --- entry points --------------------------------------------------------------------------------


def publish_imagebuild(
    catalog: Catalog,
    build: BuildInfo,
    client: RegistryClient,
    options: Options,
    now: datetime | None = None,
) -> PublishResult:
    """Publish what a completed ImageBuild pushed into `catalog` (a valid catalog)."""
    check_arguments(_option_arguments(options))
    declared = _declared_architecture(catalog, build)
    variants: dict[str, VariantData] = {}
    index = None
    annotations: dict[str, str] = {}
    if build.container_ref:
        info = client.inspect(build.container_ref)
        _refuse_newer(info, build)
        index, containers = _containers(catalog, info)
        if info.kind is ManifestKind.IMAGE:
            _refuse_other_architecture(build, declared, info.reference, set(containers))
        platforms = _platform_facts(catalog, info)
        for arch, container in containers.items():
            variants.setdefault(arch, _variant(arch, platforms))["container"] = container
        annotations.update(_aib_annotations(info))
    if build.disk_ref:
        info = client.inspect(build.disk_ref)
        _refuse_newer(info, build)
        disk_arch = _canonical(
            catalog, info.annotations.get(OPERATOR_GROUP + "arch") or build.architecture
        )
        _refuse_other_architecture(build, declared, info.reference, {disk_arch})
        if disk_arch is None:
            raise CatalogError(
                f"{build.disk_ref}: cannot tell the disk image's architecture: the build has no "
                "spec.architecture and the artifact no automotive.sdv.cloud.redhat.com/arch"
            )
        variants.setdefault(disk_arch, {"architecture": disk_arch})["disk"] = _disk(info)
        annotations.update(_aib_annotations(info))
    distro = build.distro or annotations.get("distro")
    target = build.target or annotations.get("target")
    if not distro or not target:
        missing = [n for n, v in (("distro", distro), ("target", target)) if not v]
        raise CatalogError(
            f"ImageBuild {build.namespace}/{build.name} names no {' or '.join(missing)}, and the "
            "pushed image carries no AIB annotation for it"
        )
    source: dict[str, Any] = {
        "name": build.name,
        "namespace": build.namespace,
        "completionTime": _rfc3339(build.completion_time),
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
    tag = schedule_tag(build.schedule) if build.schedule else None
    draft = Draft(
        distro=distro,
        targets=[target],
        variants=variants,
        source={"imageBuild": source},
        default_version=_version_from_time(build.completion_time),
        bootc=build.mode == "bootc",
        index=index,
        build_mode=build.mode or None,
        export_format=build.export_format or None,
        tags=[tag] if tag else [],
    )
    return _publish(catalog, client, options, draft, now)


def _option_arguments(options: Options) -> list[tuple[str, str | None, str]]:
    return [
        ("--name", options.name, "name"),
        ("--version", options.version, "version"),
        ("--display-name", options.display_name, "line"),
        ("--description", options.description, "text"),
        *[("--tag", tag, "word") for tag in options.tags],
        ("--branch", options.branch, "branch"),
    ]


def _declared_architecture(catalog: Catalog, build: BuildInfo) -> str | None:
    """The build's spec.architecture, canonical; one the catalog does not know is refused, not
    passed over (a `sparc` build must not be published as whatever the registry says)."""
    if build.architecture is None:
        return None
    try:
        return _canonical(catalog, build.architecture)
    except CatalogError as exc:
        raise CatalogError(
            f"ImageBuild {build.namespace}/{build.name}: spec.architecture: {exc}"
        ) from None


def _refuse_other_architecture(
    build: BuildInfo, declared: str | None, reference: object, found: set[str | None]
) -> None:
    if declared is None or found <= {declared, None}:
        return
    other = ", ".join(sorted(a for a in found if a))
    raise CatalogError(
        f"ImageBuild {build.namespace}/{build.name}: spec.architecture is {declared}, but "
        f"{reference} is for {other}; publish the build that made it"
    )


# Clocks of the build pod and of the pushing tool differ a little; a later build differs by hours.
_CLOCK_SLACK = timedelta(minutes=10)


def _refuse_newer(info: ManifestInfo, build: BuildInfo) -> None:
    """A scheduled build reuses its tag: an image made after the build completed is a later
    build's, and must not be published under this one's version and source."""
    created = _created(info)
    if created is not None and created > build.completion_time + _CLOCK_SLACK:
        raise CatalogError(
            f"{info.reference} now holds an image created {_rfc3339(created)}, after "
            f"ImageBuild {build.namespace}/{build.name} completed "
            f"({_rfc3339(build.completion_time)}): a later build has pushed to the same tag; "
            "publish that build instead"
        )


def publish_image(
    catalog: Catalog,
    ref: str,
    prebuilt: Prebuilt,
    client: RegistryClient,
    options: Options,
    now: datetime | None = None,
) -> PublishResult:
    """Publish a prebuilt image or disk artifact into `catalog` (a valid catalog)."""
    try:
        Reference.parse(ref)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    check_arguments(
        [
            *_option_arguments(options),
            ("--distro", prebuilt.distro, "word"),
            *[("--target", target, "word") for target in prebuilt.targets],
            ("--arch", prebuilt.architecture, "word"),
            ("--origin", prebuilt.origin, "line"),
        ]
    )
    info = client.inspect(ref)
    found = _aib_annotations(info)
    variants: dict[str, VariantData] = {}
    index = None
    if info.kind is ManifestKind.ARTIFACT:
        arch = _canonical(catalog, prebuilt.architecture or found.get("arch"))
        if arch is not None:
            variants[arch] = {"architecture": arch, "disk": _disk(info)}
    else:
        wanted = _canonical(catalog, prebuilt.architecture)
        index, containers = _containers(catalog, info, wanted)
        platforms = _platform_facts(catalog, info)
        for arch, container in containers.items():
            if wanted is None or arch == wanted:
                variants[arch] = _variant(arch, platforms)
                variants[arch]["container"] = container
        if wanted is not None and wanted not in containers:
            raise CatalogError(
                f"{ref} has no {wanted} image (it has: {', '.join(containers) or 'none'})"
            )
        if wanted is not None and index is not None and len(containers) > 1:
            index = None  # one platform of a multi-arch image: the index would list more
        if info.kind is ManifestKind.INDEX and variants:
            # An index has no labels of its own: its images' configs carry them (bootc, AIB).
            first = next(iter(variants.values()))
            assert "container" in first  # every variant of an image holds its container
            platform_image = client.inspect(first["container"]["ref"])
            found = {**_aib_annotations(platform_image), **found}
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
    published = now or datetime.now(UTC)
    version = options.version or _version_from_created(info) or _version_from_time(published)
    if missing or not distro:
        raise UsageError(
            f"{ref} does not say everything a catalog entry needs (no AIB annotations or labels "
            f"for it); add {' '.join(missing)}"
        )
    draft = Draft(
        distro=distro,
        targets=targets,
        variants=variants,
        source={"prebuilt": {"origin": prebuilt.origin or str(info.reference)}},
        default_version=version,
        bootc=info.labels.get("containers.bootc") == "1",
        index=index,
        export_format=found.get("export-format"),
        fallback_version=_version_from_time(published),
    )
    return _publish(catalog, client, options, draft, published)


# --- building the entry --------------------------------------------------------------------------


def _canonical(catalog: Catalog, arch: str | None) -> str | None:
    if arch is None:
        return None
    vocabulary = catalog.vocabulary
    canonical = vocabulary.architecture(arch) if vocabulary else None
    if canonical is None:
        known = vocabulary.describe_architectures() if vocabulary else ""
        raise CatalogError(f"architecture {arch!r} is not known ({known})")
    return canonical


def _manifest(info: ManifestInfo) -> ManifestData:
    ref = info.reference.pinned(info.digest)
    if info.reference.tag:
        return {
            "ref": ref,
            "tag": info.reference.tag,
            "mediaType": info.media_type,
            "size": info.size,
        }
    return {"ref": ref, "mediaType": info.media_type, "size": info.size}


def _containers(
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
        arch = _canonical(catalog, info.architecture)
        if arch is None:
            raise CatalogError(f"{info.reference}: the image config names no architecture")
        return None, {arch: _manifest(info)}
    containers: dict[str, ManifestData] = {}
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
        containers[arch] = {
            "ref": info.reference.pinned(platform.digest),
            "mediaType": platform.media_type,
            "size": platform.size,
        }
    return _manifest(info), containers


_DISK_MEDIA = re.compile(
    r"^application/vnd\.automotive\.disk\.(?P<format>[a-z0-9]+)(?:\+(?P<c>\w+))?$"
)


def _disk(info: ManifestInfo) -> DiskData:
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
    return cast(DiskData, {**_manifest(info), **artifact, "files": files})


def _disk_format(media_type: str) -> dict[str, str]:
    """The format and compression a disk file's media type names, in file field names."""
    match = _DISK_MEDIA.match(media_type)
    if match is None:
        return {}
    if match["c"] in ("gzip", "lz4", "xz", "zstd"):
        return {"format": match["format"], "compression": match["c"]}
    return {"format": match["format"]}


def _aib_annotations(info: ManifestInfo) -> dict[str, str]:
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


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_from_time(moment: datetime) -> str:
    """Sortable and unique per build: nightly builds of one tag become successive versions."""
    return moment.astimezone(UTC).strftime("%Y%m%d.%H%M%S")


def _created(info: ManifestInfo) -> datetime | None:
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


def _version_from_created(info: ManifestInfo) -> str | None:
    """The image's created time, when it says a plausible one; else None (the publication time
    is used instead)."""
    created = _created(info)
    return _version_from_time(created) if created and created >= _FIXED_BEFORE else None


_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _platform_facts(
    catalog: Catalog, info: ManifestInfo
) -> dict[str, tuple[str | None, str | None]]:
    """The OS and CPU variant each architecture's image says (its index entry or its config)."""
    vocabulary = catalog.vocabulary
    if info.kind is ManifestKind.IMAGE:
        said = [(info.architecture, info.os, info.variant)]
    else:
        said = [(p.architecture, p.os, p.variant) for p in info.platforms]
    found: dict[str, tuple[str | None, str | None]] = {}
    for architecture, os_name, cpu_variant in said:
        arch = vocabulary.architecture(architecture) if vocabulary and architecture else None
        if arch is not None and arch not in found:
            found[arch] = (os_name, cpu_variant)
    return found


def _variant(arch: str, platforms: dict[str, tuple[str | None, str | None]]) -> VariantData:
    variant: VariantData = {"architecture": arch}
    os_name, cpu_variant = platforms.get(arch, (None, None))
    if os_name and _TAG.match(os_name):
        variant["os"] = os_name
    if cpu_variant and _TAG.match(cpu_variant):
        variant["platformVariant"] = cpu_variant
    return variant


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


# --- checks, then writing ------------------------------------------------------------------------


def _publish(
    catalog: Catalog,
    client: RegistryClient,
    options: Options,
    draft: Draft,
    now: datetime | None,
) -> PublishResult:
    if not draft.variants:
        raise CatalogError("nothing to publish: no container image or disk artifact was found")
    # Publish checks the new manifest in memory; a killed publish of an earlier release of this
    # tool may still have left its scratch folder with the candidate in it.
    sweep_stale(Path(tempfile.gettempdir()), "image-catalog-publish-")
    name = options.name or default_name(
        catalog, draft.distro, draft.targets[0], draft.architectures
    )
    version = options.version or draft.default_version
    if not options.version and draft.fallback_version and _taken(catalog, name, version):
        version = draft.fallback_version  # e.g. a second reproducible image, same created time
    document = draft.document(
        name=name,
        version=version,
        display_name=options.display_name,
        description=options.description,
        tags=options.tags,
        verified=options.verified,
        published_at=_rfc3339(now or datetime.now(UTC)),
    )
    relative = f"{IMAGES_DIR}/{name}/{version}.yaml"
    target = catalog.root / relative
    text = dump_document(document, schema_header("CatalogImage", 3))
    candidate = _candidate(catalog, document, text, target)
    entry_id = candidate.model.id

    wanted = {manifest.digest for _, manifest in candidate.model.manifests()}
    existing = _holding_exactly(catalog, wanted)
    if existing is not None:
        return PublishResult("unchanged", existing.model.id, existing.file, text, existing.file)
    if target.exists():
        raise CatalogError(
            f"{candidate.file}: {entry_id} is already published with other digests; a published "
            "version never changes: choose a new --version"
        )
    _refuse_overlap(catalog, wanted)
    repo = GitRepo(catalog.root) if options.branch else None
    if repo is not None and options.branch:
        repo.check_new_branch(options.branch)
        repo.signature(options.author)  # no identity must fail now, before anything is written

    _check_candidate(catalog, client, candidate, text)
    model = candidate.model
    result = PublishResult("dry-run", entry_id, candidate.file, text, registry_calls=client.calls)
    if options.dry_run:
        return result
    if repo is not None and options.branch:
        # The commit writes the file into the work tree too, once the commit exists.
        message = _TEMPLATES.get_template("commit-message.j2").render(image=model)
        result.commit = repo.commit_on_new_branch(
            options.branch,
            {repo.relative(target): text.encode()},
            message,
            options.author,
        )
        result.branch = options.branch
        result.pull_request = _TEMPLATES.get_template("pull-request.md.j2").render(
            image=model, path=repo.relative(target)
        )
    else:
        atomic_write_text(target, text)
    result.status = "published"
    result.registry_calls = client.calls
    return result


def _taken(catalog: Catalog, name: str, version: str) -> bool:
    return (catalog.root / IMAGES_DIR / name / f"{version}.yaml").exists()


def _holding_exactly(catalog: Catalog, wanted: set[str]) -> Loaded[CatalogImage] | None:
    for loaded in catalog.images:
        if {manifest.digest for _, manifest in loaded.model.manifests()} == wanted:
            return loaded
    return None


def _refuse_overlap(catalog: Catalog, wanted: set[str]) -> None:
    """A digest may be published once: sharing some digests with an entry is a conflict."""
    for loaded in catalog.images:
        overlap = wanted & {manifest.digest for _, manifest in loaded.model.manifests()}
        if overlap:
            raise CatalogError(
                f"digest {sorted(overlap)[0]} is already published in {loaded.file} "
                f"({loaded.model.id}) together with other images; publish only what is new "
                "(e.g. with --arch) or under that entry"
            )


def _candidate(
    catalog: Catalog, document: dict[str, Any], text: str, target: Path
) -> Loaded[CatalogImage]:
    """The new entry validated as a `CatalogImage`, as if it were the file `target` holding
    `text`; a `PublishRejected` with located problems when it does not validate."""
    shown = display_path(catalog.root, target.relative_to(catalog.root).as_posix())
    try:
        model = CatalogImage.model_validate(document, context={"vocabulary": catalog.vocabulary})
    except ValidationError as exc:
        _reject(from_validation_error(exc, shown, document, target), target, text)
    return Loaded(model, shown, target, document)


def _reject(problems: list[Problem], target: Path, text: str) -> NoReturn:
    locate_all(problems, {target: text})
    raise PublishRejected(sorted(problems, key=sort_key)) from None


def _check_candidate(
    catalog: Catalog, client: RegistryClient, candidate: Loaded[CatalogImage], text: str
) -> None:
    """Run the offline and online checks CI runs, on the manifest before it is written."""
    model = candidate.model
    hosts = {r.model.spec.host for r in catalog.registries}
    known = {e.model.id for e in catalog.images} | {model.id}
    problems = check_path(candidate) + check_entry(catalog, candidate, hosts, known)
    if not problems:
        with_candidate = replace(catalog, images=[*catalog.images, candidate])
        online = check_online(with_candidate, client, only={model.id})
        if online.unchecked:
            raise RegistryUnavailable(
                f"{model.id} could not be checked against its registry: "
                f"{'; '.join(online.unchecked)}; nothing was written, retry"
            )
        problems = list(online.problems)
    if problems:
        _reject(problems, candidate.source, text)
