"""A new catalog entry while it is assembled from a build or an image: typed pieces that become
one `CatalogImage` document, validated once.

The pieces keep the file's field names (camelCase), so the document is what will be written and
a validation problem's field path is the path in that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from image_catalog.manifest.model import API_VERSION


class ManifestData(TypedDict):
    """A manifest pinned by digest, as the registry reported it."""

    ref: str
    tag: NotRequired[str]
    mediaType: str
    size: int


class DiskFileData(TypedDict):
    title: str
    mediaType: str
    format: NotRequired[str]
    compression: NotRequired[str]
    sha256: str
    size: int
    decompressedSize: NotRequired[int]
    partition: NotRequired[str]


class DiskData(ManifestData):
    artifactType: NotRequired[str]
    files: list[DiskFileData]


class VariantData(TypedDict):
    architecture: str
    os: NotRequired[str]
    platformVariant: NotRequired[str]
    container: NotRequired[ManifestData]
    disk: NotRequired[DiskData]


@dataclass(kw_only=True)
class Draft:
    """What the build or image says about a new entry; the person publishing adds the rest."""

    distro: str
    targets: list[str]
    variants: dict[str, VariantData]  # by canonical architecture
    source: dict[str, Any]  # {"imageBuild": {...}} or {"prebuilt": {...}}, in file field names
    default_version: str
    bootc: bool = False
    index: ManifestData | None = None
    build_mode: str | None = None
    export_format: str | None = None
    tags: list[str] = field(default_factory=list)  # what the build says, after the person's
    # Used instead of default_version when that is already taken under the name (a reproducible
    # image's fixed created time).
    fallback_version: str | None = None

    @property
    def architectures(self) -> list[str]:
        return sorted(self.variants)

    def document(
        self,
        *,
        name: str,
        version: str,
        display_name: str | None,
        description: str | None,
        tags: tuple[str, ...],
        verified: bool,
        published_at: str,
    ) -> dict[str, Any]:
        """The entry as file data, in the order its fields are written."""
        spec: dict[str, Any] = {
            "displayName": display_name or f"{self.distro} for {', '.join(self.targets)}",
            "distro": self.distro,
            "targets": [{"name": t, "verified": verified} for t in self.targets],
            "bootc": self.bootc,
        }
        if self.build_mode:
            spec["buildMode"] = self.build_mode
        if self.export_format:
            spec["exportFormat"] = self.export_format
        if description:
            spec["description"] = description
        if tags or self.tags:
            spec["tags"] = list(dict.fromkeys([*tags, *self.tags]))
        if self.index is not None:
            spec["index"] = self.index
        spec["variants"] = [self.variants[a] for a in self.architectures]
        spec["source"] = self.source
        spec["publishedAt"] = published_at
        return {
            "apiVersion": API_VERSION,
            "kind": "CatalogImage",
            "metadata": {"name": name, "version": version},
            "spec": spec,
        }
