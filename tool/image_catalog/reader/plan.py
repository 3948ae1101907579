"""What a pull fetches: the disk variant of a version for a board, its files, and the gates.

`plan(...)` takes a version document (read through `IndexClient`, so verified when the client
has a trust file) and decides, before a byte is downloaded: which variant (the board's
architecture; several need `--arch`), whether the version may be pulled (deprecated needs
`allow_deprecated`; a variant the last health check found `missing`, `changed` or `failed` needs
`allow_unhealthy`; `unreachable` and `unauthorized` only warn), which files (`--partition`), and
under which names. Titles come from the registry's annotations through the index: untrusted, so
a title that is not a plain file name is refused, never written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_catalog.errors import CatalogError, UsageError
from image_catalog.reader.decompress import compression_of, decompressed_name
from image_catalog.site.contract import Artifact, VariantDetail, VersionDoc
from image_catalog.site.status import INVALID_STATES, UNAVAILABLE_STATES
from image_catalog.text import printable

LAYOUT_FILE = "pull.json"
SUMS_FILE = "SHA256SUMS"
PART_SUFFIX = ".part"
_RESERVED = frozenset({LAYOUT_FILE, SUMS_FILE})


@dataclass(frozen=True)
class PlannedFile:
    """One file to fetch: its artifact, and with decompression the name of the raw copy."""

    artifact: Artifact
    compression: str | None
    decompressed: str | None = None

    @property
    def title(self) -> str:
        return self.artifact.title

    @property
    def needed(self) -> int:
        """The bytes this file takes on disk when pulled."""
        raw = self.artifact.decompressed_size or 0 if self.decompressed else 0
        return self.artifact.size + raw


@dataclass(frozen=True)
class Plan:
    doc: VersionDoc
    variant: VariantDetail
    target: str
    files: tuple[PlannedFile, ...]
    out: Path
    warnings: list[str] = field(default_factory=list)


def check_title(title: str, where: str) -> None:
    """Refuse a file name that is not plain: a separator, `..`, a leading dot, a control
    character, a `.part` suffix, or a name the layout uses itself."""
    bad = (
        not title
        or "/" in title
        or "\\" in title
        or ".." in title
        or title.startswith(".")
        or not title.isprintable()
        or title.endswith(PART_SUFFIX)
        or title in _RESERVED
        or len(title.encode("utf-8", "replace")) > 255
    )
    if bad:
        raise CatalogError(
            f"{where}: the file title '{printable(title)}' is not a plain file name (no path "
            "separator, `..`, leading dot, control character, .part suffix or name the pull "
            f"writes itself: {', '.join(sorted(_RESERVED))}); refused"
        )


def board_variants(
    doc: VersionDoc,
    kind: str,
    target: str,
    architecture: str | None,
    board_archs: Sequence[str],
) -> list[VariantDetail]:
    """The variants of `kind` (disk, container) for `target` (and `architecture` when given)."""
    names = [t.name for t in doc.targets]
    if target not in names:
        raise CatalogError(
            f"{doc.name} {doc.version} is not built for the board {target!r} "
            f"(its boards: {', '.join(names)})"
        )
    found = [v for v in doc.variants if v.kind == kind]
    if board_archs:
        found = [v for v in found if v.architecture in board_archs]
    if architecture is not None:
        found = [v for v in found if v.architecture == architecture]
    return found


def only_one(found: Sequence[VariantDetail], doc: VersionDoc, what: str, target: str) -> None:
    """Refuse several architectures to choose from: `--arch` says which."""
    if len(found) > 1:
        archs = ", ".join(v.architecture for v in found)
        raise UsageError(
            f"{doc.name} {doc.version} has {what} for {target} in several architectures "
            f"({archs}): choose one with --arch"
        )


def choose_container(
    doc: VersionDoc, target: str, architecture: str | None, board_archs: Sequence[str]
) -> VariantDetail:
    """The container variant for `target` (`pull --container` of a version with no disk)."""
    containers = board_variants(doc, "container", target, architecture, board_archs)
    only_one(containers, doc, "a container image", target)
    if not containers:
        wanted = f"{target}" + (f" ({architecture})" if architecture else "")
        raise CatalogError(
            f"{doc.name} {doc.version} has neither a disk image nor a container image for {wanted}"
        )
    return containers[0]


def choose_variant(
    doc: VersionDoc, target: str, architecture: str | None, board_archs: Sequence[str]
) -> VariantDetail:
    """The disk variant for `target` (and `architecture` when given)."""
    label = f"{doc.name} {doc.version}"
    disks = board_variants(doc, "disk", target, architecture, board_archs)
    only_one(disks, doc, "a disk image", target)
    if disks:
        return disks[0]
    others = [v for v in doc.variants if architecture is None or v.architecture == architecture]
    wanted = f"{target}" + (f" ({architecture})" if architecture else "")
    containers = [v for v in others if v.kind == "container"]
    if containers:
        lines = [f"{label} has no disk image for {wanted}; it has a container image:"]
        for v in containers:
            lines.append(f"  {v.architecture}: {v.oci}")
            lines.append(f"  fetch it with: skopeo copy docker://{v.ref} oci:DIR")
        lines.append("  or: the same pull with --container")
        raise CatalogError("\n".join(lines))
    has = ", ".join(f"{v.kind} ({v.architecture})" for v in doc.variants) or "no variants"
    raise CatalogError(f"{label} has no disk image for {wanted} (it has: {has})")


def check_gates(
    doc: VersionDoc, variant: VariantDetail, allow_deprecated: bool, allow_unhealthy: bool
) -> list[str]:
    """Refuse what the gates refuse; the warnings of what they let through."""
    label = f"{doc.name} {doc.version}"
    warnings: list[str] = []
    if doc.deprecated:
        reason = f" ({printable(doc.deprecation.reason)})" if doc.deprecation else ""
        instead = f"; use {doc.superseded_by} instead" if doc.superseded_by else ""
        if not allow_deprecated:
            raise CatalogError(
                f"{label} is deprecated{reason}{instead}; pass --allow-deprecated to pull it anyway"
            )
        warnings.append(f"{label} is deprecated{reason}{instead}")
    state = variant.health or doc.health
    if state in INVALID_STATES:
        said = f"{label} ({variant.architecture}): the last health check found it {state}"
        if not allow_unhealthy:
            raise CatalogError(f"{said}; pass --allow-unhealthy to pull it anyway")
        warnings.append(said)
    elif state in UNAVAILABLE_STATES:
        warnings.append(
            f"{label} ({variant.architecture}): the last health check found its registry {state}"
        )
    return warnings


def plan_files(
    variant: VariantDetail, where: str, partitions: Sequence[str], decompress: bool
) -> tuple[PlannedFile, ...]:
    """The files to fetch, in the artifact's (the board's partition) order."""
    if not variant.artifacts:
        raise CatalogError(f"{where}: the disk variant lists no files")
    titles: set[str] = set()
    for artifact in variant.artifacts:
        check_title(artifact.title, where)
        if artifact.title in titles:
            raise CatalogError(f"{where}: two files are titled {printable(artifact.title)!r}")
        titles.add(artifact.title)
    chosen = list(variant.artifacts)
    if partitions:
        known = {a.partition for a in chosen if a.partition}
        unknown = [p for p in partitions if p not in known]
        if unknown:
            raise UsageError(
                f"--partition {', '.join(unknown)}: not a partition of {where} "
                f"(its partitions: {', '.join(sorted(known)) or 'none, it is a whole disk'})"
            )
        chosen = [a for a in chosen if a.partition in partitions]
    planned = []
    for artifact in chosen:
        compression = compression_of(artifact.compression, artifact.media_type, artifact.title)
        raw = None
        if decompress and compression is not None:
            raw = decompressed_name(artifact.title, compression)
            check_title(raw, where)
            if raw in titles:
                raise CatalogError(f"{where}: {artifact.title} decompressed would overwrite {raw}")
        planned.append(PlannedFile(artifact, compression, raw))
    return tuple(planned)
