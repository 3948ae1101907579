"""Reading an `ImageBuild` resource (automotive-dev-operator), as `kubectl get -o yaml` prints it.

Two spec shapes exist: the flat one of early 2026 (`spec.distro`, `spec.containerPush`, ...) and the
nested one (`spec.aib.*`, `spec.export.*`). Both become one `BuildInfo`. The inline AIB manifest
may hold password hashes and SSH keys, so only its file name (or a digest of it) is kept.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from image_catalog.errors import CatalogError, UsageError
from image_catalog.manifest.load import (
    MAX_FILE_BYTES,
    LoadError,
    decode_text,
    load_mapping,
    parse_mapping,
)
from image_catalog.naming import OPERATOR_GROUP, SCHEDULE_LABEL
from image_catalog.text import printable

# The label the operator's ScheduledImageBuild controller puts on every build it makes
# (api/v1alpha1/labels.go, LabelScheduledImageBuildName).
PHASES = (
    "Pending",
    "Uploading",
    "Building",
    "Pushing",
    "Flashing",
    "Completed",
    "Failed",
    "Cancelled",
    "Expired",
)


class BuildNotPublishable(CatalogError):
    """Not an ImageBuild that can be published: wrong kind, not completed, or nothing pushed."""


@dataclass(frozen=True)
class BuildInfo:
    name: str
    namespace: str
    uid: str | None
    completion_time: datetime
    distro: str | None
    target: str | None
    architecture: str | None
    mode: str | None
    export_format: str | None
    compression: str | None
    container_ref: str | None
    disk_ref: str | None
    aib_image: str | None
    builder_image: str | None
    manifest: str | None
    manifest_config_map: str | None = None
    schedule: str | None = None

    @property
    def shown(self) -> str:
        """NAMESPACE/NAME as messages show it: escaped, as the resource may hold anything."""
        return shown_build(self.namespace, self.name)


def shown_build(namespace: str, name: str) -> str:
    """An ImageBuild's NAMESPACE/NAME, escaped for a message (`text.printable`)."""
    return printable(f"{namespace}/{name}")


class _Shape(Exception):
    """A field of the resource that is there but has the wrong shape (`export.disk: oops`)."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _get(data: Any, *path: str) -> Any:
    # Absent is fine (the two spec shapes have different fields); present with the wrong shape
    # is refused, never read as absent: `export.disk: "oops"` must not publish without its disk.
    for i, key in enumerate(path):
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise _Shape(path[:i], f"{data!r} is not a mapping")
        data = data.get(key)
    return data


def _text(data: Any, *path: str) -> str | None:
    value = _get(data, *path)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Shape(path, f"{value!r} is not text")
    return value


def _time(value: Any, where: str, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BuildNotPublishable(
                f"{where}: {field}: {value!r} is not an RFC 3339 time"
            ) from exc
    else:
        raise BuildNotPublishable(f"{where}: {field}: {value!r} is not an RFC 3339 time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise BuildNotPublishable(
            f"{where}: {field}: {value!r} is out of range once converted to UTC"
        ) from None


def _check_reference(value: str | None, where: str, field: str) -> None:
    """A pushed reference is one token: a trailing newline or a space is not part of a name the
    registry would be asked for (the form itself is checked when the registry is asked)."""
    if value is None:
        return
    odd = next((ch for ch in value if ch.isspace() or not ch.isprintable()), None)
    if odd is not None:
        raise BuildNotPublishable(
            f"{where}: {field}: {value!r} is not a reference: it holds U+{ord(odd):04X} "
            "(whitespace or a control character)"
        )


def read_imagebuild(file: str) -> BuildInfo:
    """The ImageBuild in `file` (YAML or JSON), or on standard input when `file` is "-"."""
    if file == "-":
        where = "<stdin>"
        # Read no more than a catalog file may hold (plus one byte, so too much is refused).
        data = parse_mapping(decode_text(sys.stdin.buffer.read(MAX_FILE_BYTES + 1), where), where)
    else:
        where = file
        try:
            # The file named on the command line may be a link (the catalog's files may not);
            # what it leads to must still be a regular file of bounded size.
            data = load_mapping(Path(file).resolve(), where)
        except LoadError as exc:
            if not Path(file).exists():
                raise UsageError(f"{file}: no such file") from exc
            raise
    return parse_imagebuild(data, where)


def parse_imagebuild(data: Mapping[str, Any], where: str) -> BuildInfo:
    """What publishing needs; refuses all but a Completed build that pushed something."""
    try:
        return _parse(data, where)
    except _Shape as exc:
        raise BuildNotPublishable(f"{where}: {'.'.join(exc.path)}: {exc.message}") from None


def _parse(data: Mapping[str, Any], where: str) -> BuildInfo:
    api_version = str(data.get("apiVersion", ""))
    if data.get("kind") != "ImageBuild" or not api_version.startswith(OPERATOR_GROUP):
        raise BuildNotPublishable(
            f"{where}: not an ImageBuild resource (kind {data.get('kind')!r}, apiVersion "
            f"{api_version!r}); pass the output of 'kubectl get imagebuild NAME -o yaml'"
        )
    name = _text(data, "metadata", "name") or "(unnamed)"
    namespace = _text(data, "metadata", "namespace") or "default"
    shown = shown_build(namespace, name)
    phase = _text(data, "status", "phase")
    if phase != "Completed":
        state = f"is in phase {phase!r}" if phase else "has no status.phase"
        raise BuildNotPublishable(
            f"{where}: ImageBuild {shown} {state}; only a Completed build can be published"
        )
    completion = _get(data, "status", "completionTime")
    if completion is None:
        raise BuildNotPublishable(
            f"{where}: ImageBuild {shown} is Completed but has no status.completionTime"
        )
    spec = _get(data, "spec")
    if spec is not None and not isinstance(spec, Mapping):
        raise _Shape(("spec",), f"{spec!r} is not a mapping")
    nested = isinstance(_get(spec, "aib"), Mapping) or isinstance(_get(spec, "export"), Mapping)
    fields = _nested(data) if nested else _flat(data)
    for key, field in (
        ("container_ref", "spec.export.container" if nested else "spec.containerPush"),
        ("disk_ref", "spec.export.disk.oci" if nested else "spec.exportOci"),
    ):
        _check_reference(fields[key], where, field)
    if fields["container_ref"] is None and fields["disk_ref"] is None:
        where_to_look = (
            "spec.export.container or spec.export.disk.oci"
            if nested
            else "spec.containerPush, spec.publishers.registry.repositoryUrl or spec.exportOci"
        )
        raise BuildNotPublishable(
            f"{where}: ImageBuild {shown} pushed nothing to a registry (no "
            f"{where_to_look}); only images in a registry can be published"
        )
    return BuildInfo(
        name=name,
        namespace=namespace,
        uid=_text(data, "metadata", "uid"),
        completion_time=_time(completion, where, "status.completionTime"),
        aib_image=_text(data, "status", "aibImageUsed") or fields["aib_image"],
        builder_image=_text(data, "status", "builderImageUsed") or fields["builder_image"],
        export_format=_text(data, "status", "resolvedExportFormat") or fields["export_format"],
        schedule=_text(data, "metadata", "labels", SCHEDULE_LABEL),
        **{
            k: v
            for k, v in fields.items()
            if k not in ("aib_image", "builder_image", "export_format")
        },
    )


def _flat(data: Any) -> dict[str, str | None]:
    return {
        "distro": _text(data, "spec", "distro"),
        "target": _text(data, "spec", "target"),
        "architecture": _text(data, "spec", "architecture"),
        "mode": _text(data, "spec", "mode"),
        "export_format": _text(data, "spec", "exportFormat"),
        "compression": _text(data, "spec", "compression"),
        "container_ref": _text(data, "spec", "containerPush")
        or _text(data, "spec", "publishers", "registry", "repositoryUrl"),
        "disk_ref": _text(data, "spec", "exportOci"),
        "aib_image": _text(data, "spec", "automotiveImageBuilder"),
        "builder_image": None,
        "manifest": _text(data, "spec", "manifestFileName")
        or _manifest_digest(_get(data, "spec", "manifest")),
        "manifest_config_map": _text(data, "spec", "manifestConfigMap"),
    }


def _nested(data: Any) -> dict[str, str | None]:
    return {
        "distro": _text(data, "spec", "aib", "distro"),
        "target": _text(data, "spec", "aib", "target"),
        "architecture": _text(data, "spec", "architecture"),
        "mode": _text(data, "spec", "aib", "mode"),
        "export_format": _text(data, "spec", "export", "format"),
        "compression": _text(data, "spec", "export", "compression"),
        "container_ref": _text(data, "spec", "export", "container"),
        "disk_ref": _text(data, "spec", "export", "disk", "oci"),
        "aib_image": _text(data, "spec", "aib", "image"),
        "builder_image": _text(data, "spec", "aib", "builderImage"),
        "manifest": _text(data, "spec", "aib", "manifestFileName")
        or _manifest_digest(_get(data, "spec", "aib", "manifest")),
        "manifest_config_map": _text(data, "spec", "aib", "manifestConfigMap"),
    }


def _manifest_digest(inline: Any) -> str | None:
    """A digest names an inline manifest without copying its secrets into the catalog."""
    if not isinstance(inline, str) or not inline:
        return None
    return "sha256:" + hashlib.sha256(inline.encode()).hexdigest()
