"""The whole of `publish` as one call: turn a completed ImageBuild or a prebuilt image into one new
catalog manifest.

Every reference is resolved to a digest through the registry, the new manifest goes through the
same offline and online checks as CI, and only then is anything written. The same digests published
again are a no-op; the same name and version with other digests is a conflict, so a tag that moved
never rewrites a published entry. What the person typed is checked before the registry is asked
anything.

`publish_imagebuild(PublishBuildSettings(...))` and `publish_image(PublishImageSettings(...))`
return one `PublishResult`; the command line builds the same settings and only renders the result.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypedDict

from image_catalog.catalog.git import Identity
from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.rules import rfc3339
from image_catalog.catalog.validate import valid_catalog
from image_catalog.errors import CatalogError, UsageError
from image_catalog.fsutil import atomic_write_text
from image_catalog.manifest.load import dump_document
from image_catalog.manifest.model import CatalogImage, schema_header
from image_catalog.manifest.reference import Reference
from image_catalog.publish.arguments import check_arguments
from image_catalog.publish.branch import branch_files, commit_entry, prepare_branch
from image_catalog.publish.candidate import (
    check_candidate,
    entry_path,
    holding_exactly,
    is_taken,
    refuse_joining_another_source,
    refuse_overlap,
    validated_candidate,
)
from image_catalog.publish.draft import Draft
from image_catalog.publish.drafting import (
    Prebuilt,
    default_name,
    draft_from_image,
    draft_from_imagebuild,
)
from image_catalog.publish.imagebuild import read_imagebuild
from image_catalog.registry.client import RegistryClient
from image_catalog.scratch import sweep_stale

# --- settings ------------------------------------------------------------------------------------


class _SharedFields(TypedDict):
    """`PublishSettings`' own fields, as each source's `from_argparse` reads them."""

    catalog: Path
    name: str | None
    version: str | None
    display_name: str | None
    description: str | None
    tags: tuple[str, ...]
    verified: bool
    branch: str | None
    author: Identity | None
    dry_run: bool


@dataclass(frozen=True, kw_only=True)
class PublishSettings:
    """What the person publishing chose, whatever the source; everything else comes from the
    build or the registry."""

    catalog: Path
    name: str | None = None
    version: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    verified: bool = False
    branch: str | None = None  # commit on this new branch instead of writing the work tree
    author: Identity | None = None  # of that commit
    dry_run: bool = False
    now: datetime | None = None  # the publication time; None: the clock's

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", help="the image name (default: DISTRO-TARGET)")
        parser.add_argument("--version", help="the version (default: from the build or image time)")
        parser.add_argument("--display-name", help="a human title (default: DISTRO for TARGET)")
        parser.add_argument("--description", help="a longer description")
        parser.add_argument(
            "--tag",
            action="append",
            default=[],
            dest="tags",
            metavar="TAG",
            help="a curation tag such as production or nightly; repeatable",
        )
        parser.add_argument(
            "--verified", action="store_true", help="mark the targets as tested on the board"
        )
        parser.add_argument(
            "--branch",
            help="create this git branch from HEAD and commit the manifest on it, then print a "
            "pull request description (nothing is pushed)",
        )
        parser.add_argument("--author", metavar="'NAME <EMAIL>'", help="commit identity")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the manifest that would be written"
        )

    @staticmethod
    def _shared_from_argparse(args: argparse.Namespace) -> _SharedFields:
        """The fields every source shares, as each source's `from_argparse` passes them on."""
        return {
            "catalog": args.catalog,
            "name": args.name,
            "version": args.version,
            "display_name": args.display_name,
            "description": args.description,
            "tags": tuple(args.tags),
            "verified": args.verified,
            "branch": args.branch,
            "author": Identity.parse(args.author) if args.author else None,
            "dry_run": args.dry_run,
        }

    def arguments(self) -> list[tuple[str, str | None, str]]:
        """What was typed, as `check_arguments` takes it: (option, value, kind)."""
        return [
            ("--name", self.name, "name"),
            ("--version", self.version, "version"),
            ("--display-name", self.display_name, "line"),
            ("--description", self.description, "text"),
            *[("--tag", tag, "word") for tag in self.tags],
            ("--branch", self.branch, "branch"),
        ]


@dataclass(frozen=True, kw_only=True)
class PublishBuildSettings(PublishSettings):
    """`publish imagebuild`: what a completed ImageBuild pushed."""

    imagebuild: str  # the resource as `kubectl get -o yaml|json` prints it; "-": standard input

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file", metavar="FILE|-", help="the ImageBuild resource, or - for stdin"
        )
        super().register_argparse_arguments(parser)

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> PublishBuildSettings:
        return cls(imagebuild=args.file, **cls._shared_from_argparse(args))


@dataclass(frozen=True, kw_only=True)
class PublishImageSettings(PublishSettings):
    """`publish image`: a prebuilt image or disk artifact, by reference."""

    ref: str
    distro: str | None = None
    targets: tuple[str, ...] = ()
    architecture: str | None = None
    origin: str | None = None

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "ref", metavar="REF", help="the image reference, in a declared registry"
        )
        parser.add_argument("--distro", help="the AIB distro (default: from annotations)")
        parser.add_argument(
            "--target",
            action="append",
            default=[],
            metavar="T",
            help="a board it is for; repeat for several (default: from annotations)",
        )
        parser.add_argument(
            "--arch",
            help="the architecture (of a single-arch artifact, or one platform of an index)",
        )
        parser.add_argument("--origin", help="where it came from (default: the reference)")
        super().register_argparse_arguments(parser)

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> PublishImageSettings:
        return cls(
            ref=args.ref,
            distro=args.distro,
            targets=tuple(args.target),
            architecture=args.arch,
            origin=args.origin,
            **cls._shared_from_argparse(args),
        )

    @property
    def prebuilt(self) -> Prebuilt:
        return Prebuilt(
            distro=self.distro,
            targets=self.targets,
            architecture=self.architecture,
            origin=self.origin,
        )

    def arguments(self) -> list[tuple[str, str | None, str]]:
        return [
            *super().arguments(),
            ("--distro", self.distro, "word"),
            *[("--target", target, "word") for target in self.targets],
            ("--arch", self.architecture, "word"),
            ("--origin", self.origin, "line"),
        ]


@dataclass
class PublishResult:
    """What publishing did: the entry's id, file and text, and where it went."""

    status: Literal["published", "unchanged", "dry-run"]
    id: str
    path: str
    text: str
    existing: str | None = None  # "unchanged": the file already holding these digests
    commit: str | None = None
    branch: str | None = None
    pull_request: str | None = None  # with a branch: the description to open it with
    registry_calls: int = 0
    notes: list[str] = field(default_factory=list)
    # With a branch: the uncommitted catalog files committed with the entry, from the top
    dependencies: list[str] = field(default_factory=list)


# --- the use case --------------------------------------------------------------------------------


def publish_imagebuild(settings: PublishBuildSettings) -> PublishResult:
    """Publish what a completed ImageBuild pushed into the catalog (which must be valid)."""
    build = read_imagebuild(settings.imagebuild)
    catalog = valid_catalog(settings.catalog, "publish")
    check_arguments(settings.arguments())
    with _registry_client(catalog) as client:
        draft = draft_from_imagebuild(catalog, build, client)
        return _publish(catalog, client, settings, draft, settings.now)


def publish_image(settings: PublishImageSettings) -> PublishResult:
    """Publish a prebuilt image or disk artifact into the catalog (which must be valid)."""
    catalog = valid_catalog(settings.catalog, "publish")
    try:
        Reference.parse(settings.ref)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    check_arguments(settings.arguments())
    with _registry_client(catalog) as client:
        published = settings.now or datetime.now(UTC)
        draft = draft_from_image(catalog, settings.ref, settings.prebuilt, client, published)
        return _publish(catalog, client, settings, draft, published)


def _registry_client(catalog: Catalog) -> RegistryClient:
    return RegistryClient([r.model for r in catalog.registries])


def _publish(
    catalog: Catalog,
    client: RegistryClient,
    settings: PublishSettings,
    draft: Draft,
    now: datetime | None,
) -> PublishResult:
    """Refuse conflicts with what is published, check the entry as CI would, then write it (or
    commit it on the new branch)."""
    if not draft.variants:
        raise CatalogError("nothing to publish: no container image or disk artifact was found")
    # Publish checks the new manifest in memory; a killed publish of an earlier release of this
    # tool may still have left its scratch folder with the candidate in it.
    sweep_stale(Path(tempfile.gettempdir()), "image-catalog-publish-")
    candidate, text = _candidate(catalog, settings, draft, now)
    target, entry_id = candidate.source, candidate.model.id

    wanted = {manifest.digest for _, manifest in candidate.model.manifests()}
    existing = holding_exactly(catalog, wanted)
    if existing is not None:
        return PublishResult("unchanged", existing.model.id, existing.file, text, existing.file)
    if target.exists():
        raise CatalogError(
            f"{candidate.file}: {entry_id} is already published with other digests; a published "
            "version never changes: choose a new --version"
        )
    refuse_overlap(catalog, wanted)
    if settings.name is None:
        refuse_joining_another_source(catalog, candidate)
    branch = settings.branch
    repo = prepare_branch(catalog.root, branch, settings.author) if branch else None

    check_candidate(catalog, client, candidate, text)
    result = PublishResult("dry-run", entry_id, candidate.file, text, registry_calls=client.calls)
    if settings.dry_run:
        return result
    if repo is not None and branch:
        planned = branch_files(repo, catalog, target, text, candidate.model, branch)
        made = commit_entry(repo, branch, planned, candidate.model, settings.author)
        result.commit, result.branch, result.pull_request = made.commit, branch, made.pull_request
        result.dependencies = list(planned.dependencies)
    else:
        atomic_write_text(target, text)
    result.status = "published"
    result.registry_calls = client.calls
    return result


def _candidate(
    catalog: Catalog, settings: PublishSettings, draft: Draft, now: datetime | None
) -> tuple[Loaded[CatalogImage], str]:
    """The draft named and completed with the person's choices, validated as the file it would
    be, and that file's text."""
    name = settings.name or default_name(
        catalog, draft.distro, draft.targets[0], draft.architectures
    )
    version = settings.version or draft.default_version
    if not settings.version and draft.fallback_version and is_taken(catalog, name, version):
        version = draft.fallback_version  # e.g. a second reproducible image, same created time
    document = draft.document(
        name=name,
        version=version,
        display_name=settings.display_name,
        description=settings.description,
        tags=settings.tags,
        verified=settings.verified,
        published_at=rfc3339(now or datetime.now(UTC)),
    )
    target = entry_path(catalog, name, version)
    text = dump_document(document, schema_header("CatalogImage", 3))
    return validated_candidate(catalog, document, text, target), text
