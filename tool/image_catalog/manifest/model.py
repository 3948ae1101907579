"""The catalog's data model: Kubernetes-style manifests validated with pydantic.

Field names are camelCase in files (like the `ImageBuild` resources they come from) and snake_case
in Python; files use the camelCase names only. This module holds the entry (`CatalogImage`); the
field types are in `types.py`, the vocabulary and registry documents in `declarations.py`, and
the names other modules import from here stay importable from here. Checks that need the
vocabulary (known architectures, distros, targets) run when a `Vocabulary` is passed as validation
context; `catalog/` adds the checks that span fields or files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from image_catalog.manifest.declarations import (
    AuthFileAuth,
    EnvironmentAuth,
    NoAuth,
    Registry,
    ServiceAccountTokenAuth,
    VocabularyFile,
    VocabularySpec,
)
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.types import (
    API_VERSION,
    MAX_SIZE,
    CheckedTime,
    Day,
    EntryId,
    FileTitle,
    Host,
    HttpUrl,
    ImageName,
    KubeName,
    LabelKey,
    LabelValue,
    Line,
    MediaType,
    Model,
    Name,
    PinnedRef,
    Sha256,
    Size,
    TagHint,
    Text,
    Token,
    UtcTime,
    Version,
    Word,
    context_vocabulary,
    unknown_name,
)

# Every name other modules import from here: the entry model's, and the field types and the
# declaring documents they have always found here.
__all__ = [
    "API_VERSION",
    "KINDS",
    "MAX_SIZE",
    "AuthFileAuth",
    "CatalogImage",
    "CatalogImageSpec",
    "CheckedTime",
    "ContainerImage",
    "Deprecation",
    "DiskArtifact",
    "DiskFile",
    "EnvironmentAuth",
    "Host",
    "HttpUrl",
    "ImageBuildSource",
    "ImageMetadata",
    "LabelKey",
    "LabelValue",
    "Lifecycle",
    "Line",
    "ManifestRef",
    "Name",
    "NoAuth",
    "PrebuiltSource",
    "Registry",
    "ServiceAccountTokenAuth",
    "Source",
    "Target",
    "Text",
    "Token",
    "UtcTime",
    "Variant",
    "Version",
    "VocabularyFile",
    "VocabularySpec",
    "Word",
    "dump",
    "schema_header",
]


# --- catalog images ------------------------------------------------------------------------------


class Target(Model):
    name: Word
    verified: bool = Field(
        default=False, description="Tested on this board, not only built for it."
    )
    notes: Text = ""

    @field_validator("name")
    @classmethod
    def _known_target(cls, value: str, info: ValidationInfo) -> str:
        vocabulary = context_vocabulary(info)
        if vocabulary is not None and value not in vocabulary.target_architectures:
            raise unknown_name("target", value, vocabulary.target_architectures)
        return value


class ManifestRef(Model):
    """A manifest in a registry, pinned by digest, as the registry reported it at publish time."""

    ref: PinnedRef = Field(description="host/repository@sha256:..., what every consumer pulls.")
    tag: TagHint | None = Field(default=None, description="The tag it was published from; a hint.")
    media_type: MediaType
    size: int = Field(gt=0, le=MAX_SIZE)

    # PINNED_PATTERN spells out an explicit host, so every ref it lets through is one
    # `Reference.parse` reads (its host is the text before the first '/'): no second parse here.

    @property
    def digest(self) -> str:
        return self.ref.rsplit("@", 1)[1]

    @property
    def host(self) -> str:
        """The registry host (and port) the reference names, as `Reference.parse` reads it."""
        return self.ref.partition("/")[0]


class ContainerImage(ManifestRef):
    """A bootc (or other) container image for one architecture."""


class DiskFile(Model):
    """One file of a disk-image artifact: one layer of the OCI artifact."""

    title: FileTitle
    media_type: MediaType
    format: Word | None = None
    compression: Literal["gzip", "lz4", "xz", "zstd"] | None = None
    sha256: Sha256
    size: Size
    decompressed_size: Size | None = None
    partition: Token | None = None
    download_url: HttpUrl | None = Field(
        default=None, description="Only for files served outside the registry."
    )


class DiskArtifact(ManifestRef):
    """A disk image pushed as an OCI artifact (oras), with its files."""

    artifact_type: MediaType | None = None
    files: list[DiskFile] = Field(min_length=1)


def _present(field: str) -> dict[str, Any]:
    """JSON Schema for "the object has `field`, and it is not null"."""
    return {"required": [field], "properties": {field: {"type": "object"}}}


# Rules across fields, written out for the exported JSON Schema too, so editors refuse what CI
# refuses (the validators below are the tool's side of the same rules).
_ONE_OF_CONTAINER_DISK: dict[str, Any] = {"anyOf": [_present("container"), _present("disk")]}
_EXACTLY_ONE_SOURCE: dict[str, Any] = {"oneOf": [_present("imageBuild"), _present("prebuilt")]}
_INDEX_NEEDS_CONTAINERS: dict[str, Any] = {
    "if": _present("index"),
    "then": {"properties": {"variants": {"items": _present("container")}}},
}


class Variant(Model):
    model_config = ConfigDict(json_schema_extra=_ONE_OF_CONTAINER_DISK)

    architecture: Word
    os: Word | None = Field(default=None, description="The OS the image says (OCI platform os).")
    platform_variant: Word | None = Field(
        default=None, description="The CPU variant the image says (OCI platform variant, e.g. v8)."
    )
    container: ContainerImage | None = None
    disk: DiskArtifact | None = None

    @field_validator("architecture")
    @classmethod
    def _canonical_architecture(cls, value: str, info: ValidationInfo) -> str:
        vocabulary = context_vocabulary(info)
        if vocabulary is None:
            return value
        canonical = vocabulary.architecture(value)
        if canonical is None:
            raise PydanticCustomError(
                "unknown_architecture",
                "'{value}' is not a known architecture ({known})",
                {"value": value, "known": vocabulary.describe_architectures()},
            )
        return canonical

    @model_validator(mode="after")
    def _has_content(self) -> Variant:
        if self.container is None and self.disk is None:
            raise PydanticCustomError(
                "empty_variant", "a variant needs a container image, a disk artifact or both"
            )
        return self


class ImageBuildSource(Model):
    """The `ImageBuild` that produced the image. Never its inline AIB manifest: only its name."""

    name: KubeName
    namespace: Name
    uid: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F-]{1,64}$")] | None = None
    completion_time: UtcTime
    aib_image: ImageName | None = None
    builder_image: ImageName | None = None
    manifest: Line | None = Field(
        default=None, description="The AIB manifest's file name or digest."
    )
    manifest_config_map: KubeName | None = Field(
        default=None, description="The ConfigMap the AIB manifest came from, when it did."
    )
    schedule: KubeName | None = Field(
        default=None,
        description="The ScheduledImageBuild that made the build (the operator's "
        "automotive.sdv.cloud.redhat.com/scheduledimagebuild-name label).",
    )


class PrebuiltSource(Model):
    origin: Line = Field(description="Where the image came from: a vendor, a URL, a pipeline.")


class Source(Model):
    model_config = ConfigDict(json_schema_extra=_EXACTLY_ONE_SOURCE)

    image_build: ImageBuildSource | None = None
    prebuilt: PrebuiltSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if (self.image_build is None) == (self.prebuilt is None):
            raise PydanticCustomError(
                "source_kind", "source needs exactly one of imageBuild or prebuilt"
            )
        return self


class Deprecation(Model):
    reason: Line
    date: Day


class Lifecycle(Model):
    deprecated: Deprecation | None = None
    superseded_by: EntryId | None = Field(
        default=None, description="NAME@VERSION of the successor."
    )


class CatalogImageSpec(Model):
    model_config = ConfigDict(json_schema_extra=_INDEX_NEEDS_CONTAINERS)

    display_name: Line
    description: Text = ""
    distro: Word
    distro_version: Token | None = None
    targets: list[Target] = Field(min_length=1)
    bootc: bool = False
    build_mode: Literal["package", "image", "bootc", "disk"] | None = None
    export_format: Word | None = None
    # Defaults made afresh, not copied: pydantic deep-copies a mutable default for every entry.
    tags: list[Word] = Field(default_factory=list, json_schema_extra={"default": []})
    index: ManifestRef | None = Field(
        default=None, description="The multi-architecture image index, when there is one."
    )
    variants: list[Variant] = Field(min_length=1)
    source: Source
    published_at: UtcTime
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)

    @field_validator("distro")
    @classmethod
    def _known_distro(cls, value: str, info: ValidationInfo) -> str:
        vocabulary = context_vocabulary(info)
        if vocabulary is not None and vocabulary.distro(value) is None:
            raise unknown_name("distro", value, vocabulary.distros)
        return value


class ImageMetadata(Model):
    name: Name
    version: Version
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, json_schema_extra={"additionalProperties": False, "default": {}}
    )


class CatalogImage(Model):
    """`catalog/images/<name>/<version>.yaml`: one published version of one image."""

    api_version: Literal["catalog.automotive.sdv.cloud.redhat.com/v1alpha1"]
    kind: Literal["CatalogImage"]
    metadata: ImageMetadata
    spec: CatalogImageSpec

    @property
    def id(self) -> str:
        return f"{self.metadata.name}@{self.metadata.version}"

    def manifests(self) -> list[tuple[FieldPath, ManifestRef]]:
        """Every manifest the entry pins (index, containers, disks), with its field path."""
        found: list[tuple[FieldPath, ManifestRef]] = []
        if self.spec.index:
            found.append((("spec", "index"), self.spec.index))
        for i, variant in enumerate(self.spec.variants):
            if variant.container is not None:
                found.append((("spec", "variants", i, "container"), variant.container))
            if variant.disk is not None:
                found.append((("spec", "variants", i, "disk"), variant.disk))
        return found


KINDS: dict[str, type[Model]] = {
    "CatalogImage": CatalogImage,
    "Registry": Registry,
    "Vocabulary": VocabularyFile,
}


def schema_header(kind: str, depth: int) -> str:
    """The first line of every catalog file, so editors validate while one types."""
    return f"# yaml-language-server: $schema={'../' * depth}schemas/{kind.lower()}.schema.json"


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as plain data in file field names, without defaults that say nothing."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
