"""Reading an `ImageBuild` resource (automotive-dev-operator), as `kubectl get -o yaml` prints it.

Two spec shapes exist: the flat one of early 2026 (`spec.distro`, `spec.containerPush`, ...) and the
nested one (`spec.aib.*`, `spec.export.*`). Both become one `BuildInfo`. The inline AIB manifest
may hold password hashes and SSH keys, so only its file name (or a digest of it) is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from image_catalog.errors import CatalogError

API_GROUP = "automotive.sdv.cloud.redhat.com/"
# The label the operator's ScheduledImageBuild controller puts on every build it makes
# (api/v1alpha1/labels.go, LabelScheduledImageBuildName).
SCHEDULE_LABEL = "automotive.sdv.cloud.redhat.com/scheduledimagebuild-name"
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


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _text(data: Any, *path: str) -> str | None:
    value = _get(data, *path)
    if value is None or value == "":
        return None
    return str(value)


def _time(value: Any, where: str, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise BuildNotPublishable(
                f"{where}: {field}: {value!r} is not an RFC 3339 time"
            ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_imagebuild(data: Mapping[str, Any], where: str) -> BuildInfo:
    """What publishing needs; refuses all but a Completed build that pushed something."""
    api_version = str(data.get("apiVersion", ""))
    if data.get("kind") != "ImageBuild" or not api_version.startswith(API_GROUP):
        raise BuildNotPublishable(
            f"{where}: not an ImageBuild resource (kind {data.get('kind')!r}, apiVersion "
            f"{api_version!r}); pass the output of 'kubectl get imagebuild NAME -o yaml'"
        )
    name = _text(data, "metadata", "name") or "(unnamed)"
    namespace = _text(data, "metadata", "namespace") or "default"
    phase = _text(data, "status", "phase")
    if phase != "Completed":
        state = f"is in phase {phase!r}" if phase else "has no status.phase"
        raise BuildNotPublishable(
            f"{where}: ImageBuild {namespace}/{name} {state}; only a Completed build can be "
            "published"
        )
    completion = _get(data, "status", "completionTime")
    if completion is None:
        raise BuildNotPublishable(
            f"{where}: ImageBuild {namespace}/{name} is Completed but has no status.completionTime"
        )
    spec = data.get("spec") if isinstance(data.get("spec"), Mapping) else {}
    nested = isinstance(_get(spec, "aib"), Mapping) or isinstance(_get(spec, "export"), Mapping)
    fields = _nested(spec) if nested else _flat(spec)
    if fields["container_ref"] is None and fields["disk_ref"] is None:
        where_to_look = (
            "spec.export.container or spec.export.disk.oci"
            if nested
            else "spec.containerPush, spec.publishers.registry.repositoryUrl or spec.exportOci"
        )
        raise BuildNotPublishable(
            f"{where}: ImageBuild {namespace}/{name} pushed nothing to a registry (no "
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


def _flat(spec: Any) -> dict[str, str | None]:
    return {
        "distro": _text(spec, "distro"),
        "target": _text(spec, "target"),
        "architecture": _text(spec, "architecture"),
        "mode": _text(spec, "mode"),
        "export_format": _text(spec, "exportFormat"),
        "compression": _text(spec, "compression"),
        "container_ref": _text(spec, "containerPush")
        or _text(spec, "publishers", "registry", "repositoryUrl"),
        "disk_ref": _text(spec, "exportOci"),
        "aib_image": _text(spec, "automotiveImageBuilder"),
        "builder_image": None,
        "manifest": _text(spec, "manifestFileName") or _manifest_digest(_get(spec, "manifest")),
        "manifest_config_map": _text(spec, "manifestConfigMap"),
    }


def _nested(spec: Any) -> dict[str, str | None]:
    return {
        "distro": _text(spec, "aib", "distro"),
        "target": _text(spec, "aib", "target"),
        "architecture": _text(spec, "architecture"),
        "mode": _text(spec, "aib", "mode"),
        "export_format": _text(spec, "export", "format"),
        "compression": _text(spec, "export", "compression"),
        "container_ref": _text(spec, "export", "container"),
        "disk_ref": _text(spec, "export", "disk", "oci"),
        "aib_image": _text(spec, "aib", "image"),
        "builder_image": _text(spec, "aib", "builderImage"),
        "manifest": _text(spec, "aib", "manifestFileName")
        or _manifest_digest(_get(spec, "aib", "manifest")),
        "manifest_config_map": _text(spec, "aib", "manifestConfigMap"),
    }


def _manifest_digest(inline: Any) -> str | None:
    """A digest names an inline manifest without copying its secrets into the catalog."""
    if not isinstance(inline, str) or not inline:
        return None
    return "sha256:" + hashlib.sha256(inline.encode()).hexdigest()
