"""Reading ImageBuild resources in both spec shapes, and refusing what cannot be published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from image_catalog.manifest.load import load_mapping
from image_catalog.publish.imagebuild import PHASES, BuildNotPublishable, parse_imagebuild

FIXTURES = Path(__file__).parents[1] / "fixtures" / "imagebuild"


def _fixture(name: str) -> dict[str, Any]:
    return load_mapping(FIXTURES / name)


def test_nested_shape() -> None:
    build = parse_imagebuild(_fixture("nested-bootc-disk.yaml"), "b.yaml")
    assert (build.name, build.namespace) == ("autosd10-rcar-s4-nightly", "automotive-builds")
    assert (build.distro, build.target, build.architecture) == ("autosd10", "rcar_s4", "arm64")
    assert (build.mode, build.export_format, build.compression) == ("bootc", "raw", "gzip")
    assert build.container_ref == "REGISTRY/automotive-builds/autosd10-rcar-s4:nightly"
    assert build.disk_ref == "REGISTRY/automotive-builds/autosd10-rcar-s4-disk:nightly"
    assert build.manifest == "rcar-s4.aib.yml"
    assert build.completion_time.isoformat() == "2026-02-03T01:42:17+00:00"
    assert build.aib_image == "quay.io/centos-sig-automotive/automotive-image-builder:1.1.4"


def test_flat_shape_from_json_prefers_container_push() -> None:
    build = parse_imagebuild(_fixture("flat-multiarch.json"), "b.json")
    assert build.container_ref == "REGISTRY/automotive-dev/autosd9-qemu-bootc:latest"
    assert build.disk_ref is None
    assert (build.distro, build.target, build.mode) == ("autosd9-sig", "qemu", "bootc")
    assert build.aib_image == "quay.io/centos-sig-automotive/automotive-image-builder:1.0.0"


def test_flat_shape_falls_back_to_the_publisher_repository() -> None:
    data = _fixture("flat-multiarch.json")
    del data["spec"]["containerPush"]
    build = parse_imagebuild(data, "b.json")
    assert build.container_ref == (
        "REGISTRY/automotive-dev/ignored-when-containerPush-is-set:latest"
    )


def test_inline_manifest_is_named_by_digest_never_copied() -> None:
    data = _fixture("nested-bootc-disk.yaml")
    del data["spec"]["aib"]["manifestFileName"]
    build = parse_imagebuild(data, "b.yaml")
    assert build.manifest is not None
    assert build.manifest.startswith("sha256:")
    assert "root_password" not in repr(build)


@pytest.mark.parametrize("phase", [p for p in PHASES if p != "Completed"])
def test_only_completed_builds_are_published(phase: str) -> None:
    data = _fixture("nested-bootc-disk.yaml")
    data["status"]["phase"] = phase
    with pytest.raises(BuildNotPublishable) as caught:
        parse_imagebuild(data, "b.yaml")
    assert str(caught.value) == (
        f"b.yaml: ImageBuild automotive-builds/autosd10-rcar-s4-nightly is in phase "
        f"'{phase}'; only a Completed build can be published"
    )


def test_a_build_without_status() -> None:
    data = _fixture("nested-bootc-disk.yaml")
    del data["status"]
    with pytest.raises(BuildNotPublishable, match=r"has no status\.phase"):
        parse_imagebuild(data, "b.yaml")


def test_a_build_that_pushed_nothing() -> None:
    data = _fixture("nested-bootc-disk.yaml")
    del data["spec"]["export"]["container"]
    del data["spec"]["export"]["disk"]
    with pytest.raises(BuildNotPublishable) as caught:
        parse_imagebuild(data, "b.yaml")
    assert "pushed nothing to a registry (no spec.export.container or spec.export.disk.oci)" in str(
        caught.value
    )


def test_not_an_imagebuild() -> None:
    with pytest.raises(BuildNotPublishable, match="not an ImageBuild resource"):
        parse_imagebuild({"apiVersion": "v1", "kind": "Pod"}, "pod.yaml")


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[key]
    data[last] = value


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "spec.export.disk",
            "oops",
            "b.yaml: spec.export.disk: 'oops' is not a mapping",
        ),
        ("spec.export", ["x"], "b.yaml: spec.export: ['x'] is not a mapping"),
        ("spec", "oops", "b.yaml: spec: 'oops' is not a mapping"),
        ("spec.aib.distro", 10, "b.yaml: spec.aib.distro: 10 is not text"),
        ("spec.architecture", ["arm64"], "b.yaml: spec.architecture: ['arm64'] is not text"),
        (
            "spec.export.container",
            "quay.io/a/b:nightly\n",
            "b.yaml: spec.export.container: 'quay.io/a/b:nightly\\n' is not a reference: it holds "
            "U+000A (whitespace or a control character)",
        ),
        (
            "spec.export.disk.oci",
            "quay.io/a/b:disk --insecure",
            "b.yaml: spec.export.disk.oci: 'quay.io/a/b:disk --insecure' is not a reference: it "
            "holds U+0020 (whitespace or a control character)",
        ),
        (
            "status.completionTime",
            "9999-12-31T23:59:59-01:00",
            "b.yaml: status.completionTime: '9999-12-31T23:59:59-01:00' is out of range once "
            "converted to UTC",
        ),
        (
            "status.completionTime",
            1767225600,
            "b.yaml: status.completionTime: 1767225600 is not an RFC 3339 time",
        ),
    ],
)
def test_fields_of_the_wrong_shape_are_refused_not_ignored(
    path: str, value: Any, message: str
) -> None:
    data = _fixture("nested-bootc-disk.yaml")
    _set(data, path, value)
    with pytest.raises(BuildNotPublishable) as caught:
        parse_imagebuild(data, "b.yaml")
    assert str(caught.value) == message


def test_the_name_and_namespace_in_a_message_are_escaped() -> None:
    data = _fixture("nested-bootc-disk.yaml")
    data["metadata"].update(name="b\x1b[2J\x85", namespace="ns\u202e")
    data["status"]["phase"] = "Failed"
    with pytest.raises(BuildNotPublishable) as caught:
        parse_imagebuild(data, "b.yaml")
    assert str(caught.value).startswith("b.yaml: ImageBuild ns\\u202e/b\\x1b[2J\\x85 is in phase")
