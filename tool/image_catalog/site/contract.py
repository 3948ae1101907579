"""The static index's formats, defined once: what `index build` writes and the client reads.

Every document the site publishes is a `msgspec.Struct` here (the compact status.json in
`site.status_file`). The builder constructs them and encodes them with `encode`; the client
decodes with `decode` into the same types; the JSON Schemas published in the site's `schemas/`
folder are generated from them by `site.kinds.schemas()`. Field names are snake_case in Python and
camelCase in the files. Optional fields that are unset are left out of the files, except the ones
the format always spells out (`catalog.commit` and `firstPublished`, which are null when unknown).

Compatibility: unknown fields are ignored, so adding a field is not a breaking change; removing or
renaming one bumps the document's `schemaVersion` (`Document.format_version`: `SCHEMA_VERSION`
for every kind but the status), which the client checks before anything else.

This module imports msgspec and the standard library only: the reader's path depends on it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec

SCHEMA_VERSION = 1
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

ViewBy = Literal["architecture", "distro", "target"]
VIEW_DIMENSIONS: tuple[ViewBy, ...] = ("architecture", "distro", "target")
Versions = Literal["latest", "all"]

# A point in time with its offset (the site writes UTC, as ...Z).
Time = Annotated[dt.datetime, msgspec.Meta(tz=True)]

# Registry health, as the scheduled check (`image-catalog check`) found it. `failed` is not seen
# by one check: it is an entry's state after too many failed checks in a row.
State = Literal["available", "missing", "changed", "unreachable", "unauthorized", "failed"]
Observed = Literal["available", "missing", "changed", "unreachable", "unauthorized"]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


def _doc(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


class Part(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Base of every part of a published document.

    gc=False: documents hold no reference cycles, and a 20,000-entry index decodes much faster
    when the garbage collector does not track its objects.
    """


# --- parts --------------------------------------------------------------------------------------


class Pinned(Part):
    """A manifest pinned by digest on the registry's public host."""

    digest: str
    ref: Annotated[str, _doc("HOST/REPOSITORY@sha256:..., on the host consumers pull from.")]
    oci: Annotated[str, _doc("The same reference as oci://..., what `j storage flash` takes.")]


class TargetRef(Part):
    name: str
    verified: Annotated[bool, _doc("Tested on this board, not only built for it.")]


class VariantRef(Pinned, kw_only=True):
    """One pinned manifest of one architecture: a container image or a disk-image artifact.

    An architecture with both has two rows, one of each kind.
    """

    architecture: Annotated[str, _doc("Canonical architecture name (x86_64, aarch64).")]
    kind: Literal["container", "disk"]


class Artifact(Part, kw_only=True):
    """One file of a disk-image artifact, with where to download it and its checksum."""

    title: str
    media_type: str
    format: str | None = None
    compression: str | None = None
    sha256: str
    size: int
    decompressed_size: int | None = None
    partition: str | None = None
    url: Annotated[str, _doc("The registry blob URL on the public host, or the file's own.")]


class VariantDetail(VariantRef, kw_only=True):
    tag: Annotated[str | None, _doc("The tag it was published from; a hint.")] = None
    os: Annotated[str | None, _doc("The OS the image says (OCI platform os).")] = None
    platform_variant: Annotated[
        str | None, _doc("The CPU variant the image says (OCI platform variant, e.g. v8).")
    ] = None
    media_type: str
    size: int
    artifact_type: str | None = None
    artifacts: Annotated[list[Artifact], _doc("The disk artifact's files; empty for images.")]
    health: Annotated[
        State | None,
        _doc("The architecture's state in the last health check; absent when not checked."),
    ] = None
    health_since: Annotated[Time | None, _doc("When that state began.")] = None


class FirstPublished(Part):
    commit: str
    date: Time


class ImageBuildSource(Part, kw_only=True):
    """The `ImageBuild` that produced the image: its name, never its inline AIB manifest."""

    name: str
    namespace: str
    uid: str | None = None
    completion_time: Time
    aib_image: str | None = None
    builder_image: str | None = None
    manifest: Annotated[str | None, _doc("The AIB manifest's file name or digest.")] = None
    manifest_config_map: Annotated[
        str | None, _doc("The ConfigMap the AIB manifest came from, when it did.")
    ] = None
    schedule: Annotated[
        str | None, _doc("The ScheduledImageBuild that made the build, when one did.")
    ] = None


class PrebuiltSource(Part):
    origin: Annotated[str, _doc("Where the image came from: a vendor, a URL, a pipeline.")]


class Source(Part):
    """Where the image came from: exactly one of imageBuild or prebuilt."""

    image_build: ImageBuildSource | None = None
    prebuilt: PrebuiltSource | None = None


class Deprecation(Part):
    reason: str
    date: dt.date


class _Entry(Part, kw_only=True):
    """What a summary and a full version document share."""

    name: str
    version: str
    display_name: str
    distro: Annotated[str, _doc("Canonical distro name.")]
    distro_as_written: Annotated[
        str | None, _doc("The distro as the manifest spells it, when it is an alias.")
    ] = None
    targets: list[TargetRef]
    architectures: list[str]
    tags: list[str]
    bootc: bool
    published_at: Time
    deprecated: bool
    superseded_by: str | None = None
    index: Annotated[Pinned | None, _doc("The multi-architecture image index.")] = None
    href: Annotated[str, _doc("The version's own document, relative to the site root.")]
    first_published: Annotated[
        FirstPublished | None,
        _doc(
            "The commit that first brought this version onto the catalog's branch "
            "(null when the catalog is not in git, or the version is not committed yet)."
        ),
    ]
    health: Annotated[
        State | None,
        _doc(
            "The state in the last health check (status.json has the times and the history); "
            "absent when the site was built without a status or the check did not cover it."
        ),
    ] = None


class Summary(_Entry, kw_only=True):
    """One version as listed in `index.json` and in the views."""

    variants: list[VariantRef]


class Aliases(Part):
    architectures: Annotated[dict[str, str], _doc("Alias -> canonical architecture.")]
    distros: Annotated[dict[str, str], _doc("Alias -> canonical distro.")]


class VocabularyDoc(Part):
    architectures: list[str]
    distros: list[str]
    targets: Annotated[
        dict[str, list[str]],
        _doc("Target -> the architectures AIB builds it for; empty means any."),
    ]
    aliases: Aliases


class CatalogInfo(Part):
    commit: Annotated[
        str | None,
        _doc(
            "HEAD of the git repository the catalog was built from (null outside one); with "
            "`dirty`, the commit the uncommitted changes were made on."
        ),
    ]
    dirty: Annotated[
        bool,
        _doc(
            "True when the site was built from uncommitted changes to the catalog's files on "
            "top of `commit`, so that no commit holds what was built; absent otherwise."
        ),
    ] = False


class ViewCount(Part):
    """Rows in a value's view files; `all` is absent where there is no all.json (architectures)."""

    latest: int
    all: int | None = None


class Counts(Part):
    images: int
    versions: int


# --- documents ----------------------------------------------------------------------------------


class Document(Part, tag_field="kind"):
    """A whole published file: it names its kind (the tag) and its format's `schemaVersion`.

    `schema_version` is declared by each document: a base with fields cannot be mixed with
    `_Entry`. Declared here for type checkers only. `format_version` is the one this
    image-catalog writes and reads (a class constant, not a field).
    """

    format_version: ClassVar[int] = SCHEMA_VERSION

    if TYPE_CHECKING:
        schema_version: int


class VersionDoc(_Entry, Document, tag="Version", kw_only=True):
    """`images/NAME/VERSION.json`: everything the catalog knows about one version."""

    schema_version: int
    description: str
    distro_version: str | None = None
    build_mode: str | None = None
    export_format: str | None = None
    labels: dict[str, str]
    source: Source
    deprecation: Deprecation | None = None
    variants: list[VariantDetail]
    health_since: Annotated[Time | None, _doc("When the state in `health` began.")] = None


class ImageDoc(Document, tag="Image", kw_only=True):
    """`images/NAME.json`: every version of one image, newest first, and which one to use."""

    schema_version: int
    name: str
    latest: Annotated[
        str | None, _doc("The newest version that is not deprecated; absent if none is.")
    ] = None
    versions: list[VersionDoc]


class SiteDoc(Document, tag="Site", kw_only=True):
    """`catalog.json`: a small file naming what the site holds, read first by the client."""

    schema_version: int
    catalog: CatalogInfo
    base_url: str | None = None
    counts: Counts
    vocabulary: VocabularyDoc
    views: Annotated[
        dict[ViewBy, dict[str, ViewCount]],
        _doc("Rows in views/BY/VALUE/{latest,all}.json, so a client picks the smallest."),
    ]
    status: Annotated[
        str | None,
        _doc("status.json when the site carries registry health (summaries then have `health`)."),
    ] = None


class IndexDoc(Document, tag="Index", kw_only=True):
    """`index.json`: every version's summary, newest publishedAt first, then name, version."""

    schema_version: int
    catalog: CatalogInfo
    base_url: str | None = None
    vocabulary: VocabularyDoc
    images: list[Summary]


class ViewDoc(Document, tag="View", kw_only=True):
    """`latest.json` and `views/BY/VALUE/{latest,all}.json`: a slice of the index.

    A `latest` file holds, per image, its newest version that is not deprecated and, when newer,
    its newest deprecated one (so `--include-deprecated` is answered by the same file). `all`
    holds every version. Both keep the order of `index.json`.
    """

    schema_version: int
    by: ViewBy | None = None
    value: str | None = None
    versions: Versions
    images: list[Summary]


# --- health: the status as the program sees it ----------------------------------------------------
# What `check` computes, the reader's `IndexClient.status()` gives and the reports print. It is also
# the layout status.json had in schemaVersion 1, read once and migrated: status.json is now written
# in the compact layout of `site.status_file` (schemaVersion 2), read back into these types.


class Check(msgspec.Struct, array_like=True, gc=False):
    """One check in an entry's 24-hour record: `[TIME, OBSERVED STATE]`."""

    at: Time
    state: Observed


class MovedTag(Part, kw_only=True):
    """A recorded tag hint that now names other content: information, not a failure."""

    field: Annotated[str, _doc("The pinned manifest: spec.index, spec.variants[0].container.")]
    tag: str
    digest: Annotated[str | None, _doc("What the tag names now; absent when it is gone.")] = None


class VariantHealth(Part, kw_only=True):
    architecture: str
    state: State
    since: Time
    detail: str | None = None
    tag_moved: list[MovedTag] = []


class EntryHealth(Part, kw_only=True):
    """One version (NAME@VERSION): its state, since when, its history and its variants."""

    name: str
    version: str
    state: State
    since: Annotated[Time, _doc("When `state` began.")]
    observed: Annotated[Observed, _doc("What the last check saw (`state` may say failed).")]
    consecutive_failures: int
    last_available: Time | None = None
    last_checked: Time | None = None
    availability_24h: Annotated[
        Share | None, _doc("The share of the last 24 hours' checks that found it available.")
    ] = msgspec.field(default=None, name="availability24h")
    detail: str | None = None
    deprecated: bool = False
    variants: list[VariantHealth] = []
    tag_moved: list[MovedTag] = []
    record: Annotated[list[Check], _doc("The checks of the last 24 hours, oldest first.")] = []

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


class Shard(Part, kw_only=True):
    index: Annotated[int, msgspec.Meta(ge=1)]
    count: Annotated[int, msgspec.Meta(ge=1)]


class Figures(Part, kw_only=True):
    """Catalog-wide: entries per state, the share available now and over 24 hours."""

    entries: int
    states: dict[str, int]
    available_now: Share | None = None
    availability_24h: Annotated[
        Share | None, _doc("The mean of the entries' availability over 24 hours.")
    ] = msgspec.field(default=None, name="availability24h")


class StatusHeader(Document, kw_only=True):
    """What a health status says of the check as a whole, in either layout (`StatusDoc`, the
    expanded one; `site.status_file.StatusFile`, the compact one status.json holds)."""

    schema_version: int
    checked_at: Time
    fail_after: Annotated[int, _doc("Failed checks in a row after which an entry is failed.")]
    catalog_entries: Annotated[int, _doc("Entries in the whole catalog, not only this shard.")]
    catalog_digest: Annotated[
        str, _doc("sha256 of the sorted NAME@VERSION ids: the shards of one catalog agree.")
    ] = ""
    shard: Annotated[Shard | None, _doc("Which part of a sharded run; absent once merged.")] = None
    figures: Figures


class StatusDoc(StatusHeader, tag="Status", kw_only=True):
    """The last health check, with each entry's history and the catalog's figures.

    status.json holds it in the compact layout of `site.status_file.StatusFile`; this expanded form
    is what schemaVersion 1 files held, and is still read from them (`site.status.decode`).
    """

    entries: list[EntryHealth]

    def entry(self, name: str, version: str) -> EntryHealth | None:
        for entry in self.entries:
            if (entry.name, entry.version) == (name, version):
                return entry
        return None


# --- encoding ------------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder(order="sorted")


def encode(value: Any) -> bytes:
    """Compact JSON with sorted keys: the same value always gives the same bytes."""
    return _ENCODER.encode(value)
