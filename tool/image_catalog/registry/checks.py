"""The online checks themselves: a registry's manifest compared with what an entry records.

Pure comparisons, apart from the I/O (`online.py` fetches each manifest once per run and hands it
here): each returns the mismatches found, in the order of the entry's fields, and raises for
none. Names are compared through the vocabulary, so an alias in a registry's annotation or
platform (x86_64 for amd64) is the name it stands for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.model import (
    CatalogImageSpec,
    DiskArtifact,
    DiskFile,
    ManifestRef,
    Variant,
)
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.naming import OPERATOR_GROUP
from image_catalog.registry.oci import Layer, ManifestInfo, ManifestKind, Platform

KIND_WORDS = {
    ManifestKind.IMAGE: "a container image",
    ManifestKind.INDEX: "an image index",
    ManifestKind.ARTIFACT: "an OCI artifact",
}


class Mismatch(NamedTuple):
    """Where an entry and its registry disagree: the entry's field, and a problem code."""

    message: str
    path: FieldPath
    code: str


def manifest_mismatches(
    path: FieldPath, recorded: ManifestRef, kind: ManifestKind, info: ManifestInfo
) -> list[Mismatch]:
    """The manifest at `path` compared with the one recorded there: its kind (when it is another
    kind, nothing else is compared: the manifest is unusable), media type and size."""
    if info.kind is not kind:
        return [
            Mismatch(
                f"{recorded.ref} is {KIND_WORDS[info.kind]} in the registry, "
                f"not {KIND_WORDS[kind]}",
                (*path, "ref"),
                "registry_kind",
            )
        ]
    found = []
    if info.media_type != recorded.media_type:
        found.append(
            Mismatch(
                f"the registry says {info.media_type!r}", (*path, "mediaType"), "registry_mismatch"
            )
        )
    if info.size != recorded.size:
        found.append(
            Mismatch(
                f"the manifest is {info.size} bytes in the registry, not {recorded.size}",
                (*path, "size"),
                "registry_mismatch",
            )
        )
    return found


@dataclass(frozen=True)
class EntryComparison:
    """The comparisons of one entry's manifests, once fetched."""

    spec: CatalogImageSpec
    vocabulary: Vocabulary | None

    def architecture(self, name: str) -> str:
        canonical = self.vocabulary.architecture(name) if self.vocabulary is not None else None
        return canonical or name

    def distro(self, name: str) -> str:
        canonical = self.vocabulary.distro(name) if self.vocabulary is not None else None
        return canonical or name

    # -- architecture and index ------------------------------------------------------------------

    def config_architecture(
        self, path: FieldPath, variant: Variant, image: ManifestInfo
    ) -> list[Mismatch]:
        """The variant's architecture and the one its image's config gives."""
        found = image.architecture
        if found is None or self.architecture(found) == variant.architecture:
            return []
        return [
            Mismatch(
                f"the image's config says architecture {found!r}, not {variant.architecture!r}",
                (*path, "architecture"),
                "architecture_mismatch",
            )
        ]

    def index(self, index: ManifestInfo) -> list[Mismatch]:
        """The index lists exactly the variants' images, each under the variant's architecture."""
        assert self.spec.index is not None
        mismatches: list[Mismatch] = []
        platforms = [p for p in index.platforms if not p.is_attestation]
        by_digest = {p.digest: p for p in platforms}
        recorded: set[str] = set()
        for i, variant in enumerate(self.spec.variants):
            if variant.container is None:
                continue  # reported offline: an entry with an index needs a container per variant
            digest = variant.container.digest
            recorded.add(digest)
            path: FieldPath = ("spec", "variants", i)
            platform = by_digest.get(digest)
            if platform is None:
                mismatches.append(
                    Mismatch(
                        f"the index {self.spec.index.ref} does not list this image (it lists: "
                        f"{_listing(platforms)})",
                        (*path, "container", "ref"),
                        "index_mismatch",
                    )
                )
            elif self.architecture(platform.architecture) != variant.architecture:
                mismatches.append(
                    Mismatch(
                        f"the index lists this image as platform {platform}, not architecture "
                        f"{variant.architecture!r}",
                        (*path, "architecture"),
                        "architecture_mismatch",
                    )
                )
        for platform in platforms:
            if platform.digest not in recorded:
                mismatches.append(
                    Mismatch(
                        f"the index also lists {platform} {platform.digest}, which no variant "
                        "records: add a variant for it",
                        ("spec", "index", "ref"),
                        "index_mismatch",
                    )
                )
        return mismatches

    # -- disk artifacts --------------------------------------------------------------------------

    def disk(self, path: FieldPath, disk: DiskArtifact, info: ManifestInfo) -> list[Mismatch]:
        """The artifact's type, and its layers matched by title with the entry's files."""
        mismatches: list[Mismatch] = []
        if disk.artifact_type is not None and disk.artifact_type != info.artifact_type:
            mismatches.append(
                Mismatch(
                    f"the registry says artifact type {info.artifact_type!r}",
                    (*path, "artifactType"),
                    "artifact_mismatch",
                )
            )
        unmatched = list(info.layers)
        for j, file in enumerate(disk.files):
            layer = next((x for x in unmatched if x.title == file.title), None)
            if layer is None:
                mismatches.append(
                    Mismatch(
                        f"the artifact has no layer titled {file.title!r} (its layers: "
                        f"{_titles(info.layers)})",
                        (*path, "files", j, "title"),
                        "artifact_mismatch",
                    )
                )
                continue
            unmatched.remove(layer)
            mismatches += file_mismatches((*path, "files", j), file, layer)
        if unmatched:
            mismatches.append(
                Mismatch(
                    f"the artifact also has {_titles(unmatched)}, not listed here: add them",
                    (*path, "files"),
                    "artifact_mismatch",
                )
            )
        return mismatches

    # -- AIB annotations -------------------------------------------------------------------------

    def annotations(
        self, info: ManifestInfo, variant: Variant | None, path: FieldPath
    ) -> list[Mismatch]:
        """The AIB annotations, where present, against the entry's distro, targets and (for a
        variant's manifest) architecture."""
        mismatches: list[Mismatch] = []
        notes = info.annotations
        distro = notes.get(OPERATOR_GROUP + "distro")
        if distro is not None and self.distro(distro) != self.distro(self.spec.distro):
            mismatches.append(
                Mismatch(
                    f"{info.reference} is annotated distro {distro!r}",
                    ("spec", "distro"),
                    "annotation_mismatch",
                )
            )
        target = notes.get(OPERATOR_GROUP + "target")
        targets = [t.name for t in self.spec.targets]
        if target is not None and target not in targets:
            mismatches.append(
                Mismatch(
                    f"{info.reference} is annotated target {target!r}, which is not among them",
                    ("spec", "targets"),
                    "annotation_mismatch",
                )
            )
        arch = notes.get(OPERATOR_GROUP + "arch")
        if (
            arch is not None
            and variant is not None
            and self.architecture(arch) != variant.architecture
        ):
            mismatches.append(
                Mismatch(
                    f"{info.reference} is annotated arch {arch!r}",
                    (*path, "architecture"),
                    "annotation_mismatch",
                )
            )
        return mismatches


def file_mismatches(path: FieldPath, file: DiskFile, layer: Layer) -> list[Mismatch]:
    """A disk file compared with the artifact's layer of the same title."""
    expected: list[tuple[str, object, object]] = [
        ("sha256", file.sha256, layer.digest.removeprefix("sha256:")),
        ("size", file.size, layer.size),
        ("mediaType", file.media_type, layer.media_type),
    ]
    # What the registry's annotations say is what a flasher will use.
    if file.partition is not None:
        expected.append(("partition", file.partition, layer.partition))
    if file.decompressed_size is not None:
        expected.append(("decompressedSize", file.decompressed_size, layer.decompressed_size))
    mismatches = []
    for name, mine, theirs in expected:
        if mine != theirs:
            said = "has none" if theirs is None else f"says {theirs!r}"
            mismatches.append(
                Mismatch(f"the artifact's layer {said}", (*path, name), "artifact_mismatch")
            )
    return mismatches


def _listing(platforms: Iterable[Platform]) -> str:
    return ", ".join(f"{p} {p.digest}" for p in platforms) or "nothing"


def _titles(layers: Iterable[Layer]) -> str:
    return ", ".join(repr(x.title) if x.title else f"untitled {x.digest}" for x in layers) or "none"
