"""The static index's formats, defined once: what `index build` writes and the client reads.

Every document the site publishes is a `msgspec.Struct` here. The builder constructs them and
encodes them with `encode`; the client decodes with `decode` into the same types; the JSON
Schemas published in the site's `schemas/` folder are generated from them by `schemas()`. Field
names are snake_case in Python and camelCase in the files. Optional fields that are unset are
left out of the files, except the ones the format always spells out (`catalog.commit` and
`firstPublished`, which are null when unknown).

Compatibility: unknown fields are ignored, so adding a field is not a breaking change; removing or
renaming one bumps `SCHEMA_VERSION`, which the client checks before anything else.

This module imports msgspec and the standard library only: the reader's path depends on it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

ViewBy = Literal["architecture", "distro", "target"]
VIEW_DIMENSIONS: tuple[ViewBy, ...] = ("architecture", "distro", "target")
Versions = Literal["latest", "all"]

# A point in time with its offset (the site writes UTC, as ...Z).
Time = Annotated[dt.datetime, msgspec.Meta(tz=True)]


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
    media_type: str
    size: int
    artifact_type: str | None = None
    artifacts: Annotated[list[Artifact], _doc("The disk artifact's files; empty for images.")]


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
        _doc("HEAD of the git repository the catalog was built from (null outside one)."),
    ]


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
    `_Entry`. Declared here for type checkers only.
    """

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


DOCUMENTS: dict[str, type[Document]] = {
    "Site": SiteDoc,
    "Index": IndexDoc,
    "View": ViewDoc,
    "Image": ImageDoc,
    "Version": VersionDoc,
}

# --- encoding, decoding, schemas ------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder(order="sorted")


def encode(value: Any) -> bytes:
    """Compact JSON with sorted keys: the same value always gives the same bytes."""
    return _ENCODER.encode(value)


def schemas() -> dict[str, str]:
    """File name -> JSON Schema of every document kind, stable byte for byte."""
    rendered = {}
    for kind, model in sorted(DOCUMENTS.items()):
        schema = _standalone(kind, model)
        rendered[f"{kind.lower()}.schema.json"] = _json_text(schema)
    return rendered


def _standalone(kind: str, model: type[Document]) -> dict[str, Any]:
    """The document's own definition at the top, the parts it uses under $defs."""
    generated = msgspec.json.schema(model)
    defs: dict[str, Any] = generated["$defs"]
    top = defs.pop(model.__name__)
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "$id": f"{kind.lower()}.schema.json"}
    schema.update(top)
    if defs:
        schema["$defs"] = defs
    return schema


def _json_text(value: Any) -> str:
    return msgspec.json.format(encode(value), indent=2).decode("utf-8")
