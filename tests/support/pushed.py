"""Catalog entries built from content pushed to a loopback registry, recorded the way `publish`
records them: each variant pinned by digest, media type and size, disk files with their hashes.

The benchmark (benchmarks/validate_online.py) uses them too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.entries import write_entry as write_file
from support.oci import (
    ANNOTATION_PREFIX,
    DiskFile,
    PushedArtifact,
    PushedImage,
    PushedIndex,
    push_disk_artifact,
)
from support.registry import LocalRegistry

AIB = ANNOTATION_PREFIX


def pinned(pushed: PushedImage | PushedIndex | PushedArtifact) -> dict[str, Any]:
    return {"ref": pushed.ref, "mediaType": pushed.media_type, "size": pushed.size}


def container(
    image: PushedImage | PushedArtifact, architecture: str | None = None
) -> dict[str, Any]:
    """A variant with a container image (an artifact only to test that it is refused)."""
    if architecture is None:
        assert isinstance(image, PushedImage)
        architecture = image.architecture
    return {"architecture": architecture, "container": pinned(image)}


def disk(artifact: PushedArtifact, architecture: str = "aarch64") -> dict[str, Any]:
    files = []
    for layer in artifact.layers:
        file: dict[str, Any] = {
            "title": layer.title,
            "mediaType": layer.media_type,
            "sha256": layer.digest.removeprefix("sha256:"),
            "size": layer.size,
        }
        if layer.partition is not None:
            file["partition"] = layer.partition
        if layer.decompressed_size is not None:
            file["decompressedSize"] = layer.decompressed_size
        files.append(file)
    recorded = {**pinned(artifact), "files": files}
    if artifact.artifact_type is not None:
        recorded["artifactType"] = artifact.artifact_type
    return {"architecture": architecture, "disk": recorded}


def write_entry(
    catalog: Path,
    name: str,
    variants: list[dict[str, Any]],
    *,
    version: str = "1.0",
    index: PushedIndex | None = None,
    distro: str = "autosd9-sig",
    targets: tuple[str, ...] = ("qemu",),
) -> Path:
    spec: dict[str, Any] = {
        "displayName": f"{name} {version}",
        "distro": distro,
        "targets": [{"name": target} for target in targets],
    }
    if index is not None:
        spec["index"] = {**pinned(index), "tag": index.tag}
    spec |= {
        "variants": variants,
        "source": {"prebuilt": {"origin": "tests"}},
        "publishedAt": "2026-01-15T09:30:00Z",
    }
    return write_file(catalog, name, version, spec)


def board_artifact(
    registry: LocalRegistry,
    repo: str,
    *,
    notes: dict[str, str] | None = None,
    style: str = "oras-1.1",
) -> PushedArtifact:
    """A two-partition disk image for an aarch64 board, annotated as AIB does."""
    files = [
        DiskFile(f"boot-{repo.replace('/', '-')}.img.gz", repo.encode(), partition="boot_a"),
        DiskFile(
            "root.img.gz", f"root of {repo}".encode(), partition="root_a", decompressed_size=8
        ),
    ]
    annotations = {f"{AIB}distro": "autosd", f"{AIB}target": "ridesx4", f"{AIB}arch": "arm64"}
    return push_disk_artifact(
        registry,
        repo,
        "disk",
        files,
        annotations if notes is None else notes,
        style="legacy" if style == "legacy" else "oras-1.1",
    )
