"""The catalog's data model: Kubernetes-style manifests validated with pydantic.

Field names are camelCase in files (like the `ImageBuild` resources they come from) and snake_case
in Python; files use the camelCase names only. Types are strict: a field takes a value of its own
type and nothing that could be converted to it (`'true'` is not a boolean, `'1060'` and `600.0` are
not sizes), as the exported JSON Schemas say. Checks that need the vocabulary (known architectures,
distros, targets) run when a `Vocabulary` is passed as validation context; `validate.py` adds the
checks that span fields or files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.reference import (
    DIGEST_PATTERN,
    HOST_PATTERN,
    PINNED_PATTERN,
    TAG_PATTERN,
)
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.naming import (
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    VERSION_MAX_LENGTH,
    VERSION_PATTERN,
    closest,
)
from image_catalog.text import FREE_TEXT_PATTERN, LINE_PATTERN, SAFE_PATH_PATTERN

API_VERSION = "catalog.automotive.sdv.cloud.redhat.com/v1alpha1"

# Anything that may end up in a path, a URL or a command line: no separators, whitespace, control
# characters or leading '-'.
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN, max_length=VERSION_MAX_LENGTH)]
Token = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.+-]*$", max_length=128)]
Word = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=63)]
FileTitle = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.+-]*$", max_length=255)
]
KubeName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
]
Digest = Annotated[str, StringConstraints(pattern=rf"^{DIGEST_PATTERN}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PinnedRef = Annotated[str, StringConstraints(pattern=PINNED_PATTERN, max_length=512)]
Host = Annotated[str, StringConstraints(pattern=rf"^{HOST_PATTERN}$", max_length=255)]
TagHint = Annotated[str, StringConstraints(pattern=rf"^{TAG_PATTERN}$")]
MediaType = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.+-]*/[a-zA-Z0-9][a-zA-Z0-9.+_-]*$")
]
# Free text: no control characters (a tab and a line break only in longer text) and no bidi
# overrides, which make text read differently from what it holds.
Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(pattern=FREE_TEXT_PATTERN, max_length=4000)]
EntryId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?@[0-9A-Za-z][0-9A-Za-z._-]*$"),
]
# As in Kubernetes: an optional DNS prefix (at most 253) and a name (at most 63).
LabelKey = Annotated[
    str,
    StringConstraints(
        pattern=r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$",
        max_length=317,
    ),
]
SafePath = Annotated[str, StringConstraints(pattern=SAFE_PATH_PATTERN, max_length=4096)]
ImageName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$", max_length=512)
]
LabelValue = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", max_length=63),
]
HttpUrl = Annotated[
    str,
    StringConstraints(
        pattern=r"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?"
        r"(/[A-Za-z0-9._~%!$&*+,;=:@/-]*)?(\?[A-Za-z0-9._~%!$&*+,;=:@/?-]*)?$",
        max_length=2048,
    ),
]
# Sizes are bytes on a 64-bit machine: every tool that reads the index holds them in an int64.
MAX_SIZE = 2**63 - 1
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]


# RFC 3339 as catalog files write times and dates, years 1970 to 9998: nothing in a catalog is
# older than the epoch, and a year on the calendar's edge overflows once moved to UTC. The text
# form is checked here, not left to the parser, which would also read '1767225600' as a time.
_YEAR = r"(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_DAY = rf"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}"
_CLOCK = r"[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
TIME_PATTERN = rf"^{_DAY}{_CLOCK}(?:[Zz]|[+-][0-9]{{2}}:[0-9]{{2}})$"
DATE_PATTERN = rf"^{_DAY}$"
_TIME = re.compile(TIME_PATTERN)
_NAIVE_TIME = re.compile(rf"^{_DAY}{_CLOCK}$")
_DATE = re.compile(DATE_PATTERN)


def _time_input(value: Any) -> Any:
    # Strict about the type (a number is not a time) and the form (RFC 3339 with a zone).
    if isinstance(value, str) and _TIME.fullmatch(value):
        return value
    if isinstance(value, str) and _NAIVE_TIME.fullmatch(value):
        raise PydanticCustomError(
            "timezone_aware",
            "{value} has no time zone; write it in UTC with a trailing Z",
            {"value": value},
        )
    raise PydanticCustomError(
        "datetime_type",
        "{value} is not a time; write it as text such as '2026-01-31T12:00:00Z' (years 1970 to "
        "9998)",
        {"value": repr(value)},
    )


def _date_input(value: Any) -> Any:
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "date_type",
        "{value} is not a date; write it as text such as '2026-01-31' (years 1970 to 9998)",
        {"value": repr(value)},
    )


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "{value} is out of range once converted to UTC", {"value": value}
        ) from None


# The form catalog files write, a whole second in UTC: read in one step, to the value the
# validators below give it. Anything else goes through them, and is refused by them.
_UTC_SECOND = re.compile(rf"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}Z")


def _utc_second(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str) and _UTC_SECOND.fullmatch(value):
        try:
            return datetime.fromisoformat(value)  # tzinfo is UTC, as _utc makes it
        except ValueError:
            pass  # an impossible date such as 2026-02-30: the validators say why
    return handler(value)


CheckedTime = Annotated[
    AwareDatetime,
    Field(strict=False, json_schema_extra={"pattern": TIME_PATTERN}),
    BeforeValidator(_time_input),
    AfterValidator(_utc),
]
UtcTime = Annotated[CheckedTime, WrapValidator(_utc_second)]
Day = Annotated[
    date,
    Field(strict=False, json_schema_extra={"pattern": DATE_PATTERN}),
    BeforeValidator(_date_input),
]
Size = Annotated[int, Field(ge=0, le=MAX_SIZE)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def _vocabulary(info: ValidationInfo) -> Vocabulary | None:
    context = info.context
    return context.get("vocabulary") if isinstance(context, dict) else None


def _unknown(kind: str, value: str, known: Iterable[str]) -> PydanticCustomError:
    """A name the vocabulary does not know, with the closest known spelling as a hint."""
    return PydanticCustomError(
        f"unknown_{kind}",
        f"'{{value}}' is not a known {kind}{{hint}} (add it to catalog/vocabulary.yaml if AIB "
        "supports it)",
        {"value": value, "hint": closest(value, known)},
    )


# --- vocabulary ----------------------------------------------------------------------------------


class ArchitectureDef(Model):
    name: Word
    aliases: list[Word] = []
    description: Text = ""


class DistroDef(Model):
    name: Word
    aliases: list[Word] = []
    description: Text = ""


class TargetDef(Model):
    name: Word
    architectures: list[Word] = Field(
        default=[], description="Architectures AIB builds this target for; empty means any."
    )
    description: Text = ""


class VocabularySpec(Model):
    architectures: list[ArchitectureDef] = Field(min_length=1)
    distros: list[DistroDef] = Field(min_length=1)
    targets: list[TargetDef] = Field(min_length=1)


class VocabularyMetadata(Model):
    name: Name


class VocabularyFile(Model):
    """`catalog/vocabulary.yaml`: what AIB can build, extended by pull request."""

    api_version: Literal["catalog.automotive.sdv.cloud.redhat.com/v1alpha1"]
    kind: Literal["Vocabulary"]
    metadata: VocabularyMetadata
    spec: VocabularySpec

    def lookups(self) -> Vocabulary:
        """The look-ups validation uses: canonical names by name or alias."""
        spec = self.spec
        return Vocabulary.of(
            architectures=((a.name, a.aliases) for a in spec.architectures),
            distros=((d.name, d.aliases) for d in spec.distros),
            targets=((t.name, t.architectures) for t in spec.targets),
        )


# --- registries ----------------------------------------------------------------------------------

DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path


class NoAuth(Model):
    method: Literal["none"]


class ServiceAccountTokenAuth(Model):
    """A Kubernetes service-account token used as the password (OpenShift's internal registry)."""

    method: Literal["serviceAccountToken"]
    token_path: SafePath = DEFAULT_TOKEN_PATH
    username: Token = "serviceaccount"


class AuthFileAuth(Model):
    """A containers `auth.json` holding the credentials."""

    method: Literal["authFile"]
    path: SafePath


class EnvironmentAuth(Model):
    """User name and password read from environment variables at each use."""

    method: Literal["environment"]
    username_variable: EnvName
    password_variable: EnvName


Auth = Annotated[
    NoAuth | ServiceAccountTokenAuth | AuthFileAuth | EnvironmentAuth, Field(discriminator="method")
]


class SecretRef(Model):
    """A Kubernetes Secret in the cluster that holds this registry's pull credentials.

    Only its name travels (into the CatalogImage resources `export crs` writes, as
    `spec.authSecretRef`); the credentials themselves stay in the cluster.
    """

    name: KubeName = Field(description="The Secret's name (a DNS-1123 subdomain).")
    namespace: Name | None = Field(
        default=None, description="Its namespace; by default the CatalogImage's own."
    )


class RegistrySpec(Model):
    kind: Literal["openshift", "quay", "generic"]
    host: Host = Field(description="The host (and port) references name and skopeo talks to.")
    public_host: Host | None = Field(
        default=None, description="Where consumers pull from when it differs from host."
    )
    description: Text = ""
    tls_verify: bool = True
    ca_file: SafePath | None = None
    auth: Auth = NoAuth(method="none")
    auth_secret_ref: SecretRef | None = Field(
        default=None,
        description="The in-cluster Secret with pull credentials, for exported CatalogImages.",
    )
    max_concurrency: int = Field(default=4, ge=1, le=64)


class RegistryMetadata(Model):
    name: Name


class Registry(Model):
    """`catalog/registries/<name>.yaml`: a registry the catalog may reference (an allow-list)."""

    api_version: Literal["catalog.automotive.sdv.cloud.redhat.com/v1alpha1"]
    kind: Literal["Registry"]
    metadata: RegistryMetadata
    spec: RegistrySpec

    @property
    def pull_host(self) -> str:
        return self.spec.public_host or self.spec.host


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
        vocabulary = _vocabulary(info)
        if vocabulary is not None and value not in vocabulary.target_architectures:
            raise _unknown("target", value, vocabulary.target_architectures)
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
        vocabulary = _vocabulary(info)
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
        vocabulary = _vocabulary(info)
        if vocabulary is not None and vocabulary.distro(value) is None:
            raise _unknown("distro", value, vocabulary.distros)
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
