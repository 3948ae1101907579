"""The formats of the static index: what `index build` writes and what the client reads.

These models are the contract with consumers: their JSON Schemas are published in the site's
`schemas/` folder and the client validates every document it reads against them. The builder
writes plain JSON for speed; a test checks that every file it writes reads back through these
models unchanged, so the two cannot drift apart.

Compatibility: unknown fields are ignored, so adding a field is not a breaking change; removing or
renaming one bumps `SCHEMA_VERSION`, which the client checks before anything else.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from image_catalog.manifest.model import Source

SCHEMA_VERSION = 1

ViewBy = Literal["architecture", "distro", "target"]
VIEW_DIMENSIONS: tuple[ViewBy, ...] = ("architecture", "distro", "target")
Versions = Literal["latest", "all"]


class IndexModel(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
    )


class Pinned(IndexModel):
    """A manifest pinned by digest on the registry's public host."""

    digest: str
    ref: str = Field(description="HOST/REPOSITORY@sha256:..., on the host consumers pull from.")
    oci: str = Field(description="The same reference as oci://..., what `j storage flash` takes.")


class TargetRef(IndexModel):
    name: str
    verified: bool = Field(description="Tested on this board, not only built for it.")


class VariantRef(Pinned):
    """One pinned manifest of one architecture: a container image or a disk-image artifact.

    An architecture with both has two rows, one of each kind.
    """

    architecture: str = Field(description="Canonical architecture name (x86_64, aarch64).")
    kind: Literal["container", "disk"]


class Artifact(IndexModel):
    """One file of a disk-image artifact, with where to download it and its checksum."""

    title: str
    media_type: str
    format: str | None = None
    compression: str | None = None
    sha256: str
    size: int
    decompressed_size: int | None = None
    partition: str | None = None
    url: str = Field(description="The registry blob URL on the public host, or the file's own.")


class VariantDetail(VariantRef):
    tag: str | None = Field(default=None, description="The tag it was published from; a hint.")
    media_type: str
    size: int
    artifact_type: str | None = None
    artifacts: list[Artifact] = Field(description="The disk artifact's files; empty for images.")


class FirstPublished(IndexModel):
    commit: str
    date: AwareDatetime


class _Entry(IndexModel):
    """What a summary and a full version document share."""

    name: str
    version: str
    display_name: str
    distro: str = Field(description="Canonical distro name.")
    distro_as_written: str | None = Field(
        default=None, description="The distro as the manifest spells it, when it is an alias."
    )
    targets: list[TargetRef]
    architectures: list[str]
    tags: list[str]
    bootc: bool
    published_at: AwareDatetime
    deprecated: bool
    superseded_by: str | None = None
    index: Pinned | None = Field(default=None, description="The multi-architecture image index.")
    href: str = Field(description="The version's own document, relative to the site root.")
    first_published: FirstPublished | None = Field(
        default=None,
        description="The commit that first brought this version onto the catalog's branch "
        "(null when the catalog is not in git, or the version is not committed yet).",
    )


class Summary(_Entry):
    """One version as listed in `index.json` and in the views."""

    variants: list[VariantRef]


class Deprecation(IndexModel):
    reason: str
    date: dt.date


class VersionDoc(_Entry):
    """`images/NAME/VERSION.json`: everything the catalog knows about one version."""

    schema_version: int
    kind: Literal["Version"]
    description: str
    distro_version: str | None = None
    build_mode: str | None = None
    export_format: str | None = None
    labels: dict[str, str]
    source: Source
    deprecation: Deprecation | None = None
    variants: list[VariantDetail]


class ImageDoc(IndexModel):
    """`images/NAME.json`: every version of one image, newest first, and which one to use."""

    schema_version: int
    kind: Literal["Image"]
    name: str
    latest: str | None = Field(
        default=None, description="The newest version that is not deprecated; null if none is."
    )
    versions: list[VersionDoc]


class Aliases(IndexModel):
    architectures: dict[str, str] = Field(description="Alias -> canonical architecture.")
    distros: dict[str, str] = Field(description="Alias -> canonical distro.")


class VocabularyDoc(IndexModel):
    architectures: list[str]
    distros: list[str]
    targets: dict[str, list[str]] = Field(
        description="Target -> the architectures AIB builds it for; empty means any."
    )
    aliases: Aliases


class CatalogInfo(IndexModel):
    commit: str | None = Field(
        default=None, description="HEAD of the git repository the catalog was built from."
    )


class ViewCount(IndexModel):
    """Rows in a value's view files; `all` is null where there is no all.json (architectures)."""

    latest: int
    all: int | None = None


class Counts(IndexModel):
    images: int
    versions: int


class SiteDoc(IndexModel):
    """`catalog.json`: a small file naming what the site holds, read first by the client."""

    schema_version: int
    kind: Literal["Site"]
    catalog: CatalogInfo
    base_url: str | None = None
    counts: Counts
    vocabulary: VocabularyDoc
    views: dict[ViewBy, dict[str, ViewCount]] = Field(
        description="Rows in views/BY/VALUE/{latest,all}.json, so a client picks the smallest."
    )


class IndexDoc(IndexModel):
    """`index.json`: every version's summary, newest publishedAt first, then name, version."""

    schema_version: int
    kind: Literal["Index"]
    catalog: CatalogInfo
    base_url: str | None = None
    vocabulary: VocabularyDoc
    images: list[Summary]


class ViewDoc(IndexModel):
    """`latest.json` and `views/BY/VALUE/{latest,all}.json`: a slice of the index.

    A `latest` file holds, per image, its newest version that is not deprecated and, when newer,
    its newest deprecated one (so `--include-deprecated` is answered by the same file). `all`
    holds every version. Both keep the order of `index.json`.
    """

    schema_version: int
    kind: Literal["View"]
    by: ViewBy | None = None
    value: str | None = None
    versions: Versions
    images: list[Summary]


DOCUMENTS: dict[str, type[IndexModel]] = {
    "Site": SiteDoc,
    "Index": IndexDoc,
    "View": ViewDoc,
    "Image": ImageDoc,
    "Version": VersionDoc,
}
