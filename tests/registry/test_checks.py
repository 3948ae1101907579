"""The online comparisons, without a registry: manifests made in memory against small entries."""

from __future__ import annotations

from typing import Any

from image_catalog.manifest.load import parse_mapping
from image_catalog.manifest.model import CatalogImage, DiskArtifact, DiskFile, ManifestRef
from image_catalog.manifest.reference import Reference
from image_catalog.naming import OPERATOR_GROUP
from image_catalog.registry.checks import (
    EntryComparison,
    Mismatch,
    file_mismatches,
    manifest_mismatches,
)
from image_catalog.registry.oci import (
    TITLE_ANNOTATION,
    Layer,
    ManifestInfo,
    ManifestKind,
    Platform,
)
from support.catalogs import fake_digest, image_document

IMAGE_TYPE = "application/vnd.oci.image.manifest.v1+json"
DIGEST = fake_digest("image")
REF = f"quay.io/automotive-images/demo@{DIGEST}"
AT = ("spec", "variants", 0, "container")


def info(kind: ManifestKind = ManifestKind.IMAGE, **fields: Any) -> ManifestInfo:
    values: dict[str, Any] = {"media_type": IMAGE_TYPE, "size": 1612, **fields}
    return ManifestInfo(Reference.parse(REF), DIGEST, kind=kind, **values)


def recorded() -> ManifestRef:
    return ManifestRef.model_validate({"ref": REF, "mediaType": IMAGE_TYPE, "size": 1612})


def entry(architecture: str = "x86_64") -> CatalogImage:
    text = image_document("demo", "1.0", DIGEST, architecture=architecture)
    return CatalogImage.model_validate(parse_mapping(text, "demo.yaml"))


def codes(mismatches: list[Mismatch]) -> list[str]:
    return [m.code for m in mismatches]


def test_a_manifest_as_recorded_has_no_mismatch() -> None:
    assert manifest_mismatches(AT, recorded(), ManifestKind.IMAGE, info()) == []


def test_another_kind_is_the_only_mismatch_reported() -> None:
    found = manifest_mismatches(
        AT, recorded(), ManifestKind.IMAGE, info(ManifestKind.INDEX, size=1)
    )
    assert found == [
        Mismatch(
            f"{REF} is an image index in the registry, not a container image",
            (*AT, "ref"),
            "registry_kind",
        )
    ]


def test_media_type_and_size_are_compared() -> None:
    found = manifest_mismatches(
        AT, recorded(), ManifestKind.IMAGE, info(media_type="application/x-other", size=7)
    )
    assert [(m.path[-1], m.code) for m in found] == [
        ("mediaType", "registry_mismatch"),
        ("size", "registry_mismatch"),
    ]


def test_the_config_architecture_is_compared_with_the_variant() -> None:
    model = entry()
    variant = model.spec.variants[0]
    plain = EntryComparison(model.spec, None)
    assert plain.config_architecture(("spec",), variant, info(architecture="x86_64")) == []
    assert codes(plain.config_architecture(("spec",), variant, info(architecture="arm64"))) == [
        "architecture_mismatch"
    ]
    assert plain.config_architecture(("spec",), variant, info()) == []  # the config says none


def test_an_index_lists_exactly_the_variants() -> None:
    model = entry()
    spec = model.spec.model_copy(update={"index": recorded()})
    compare = EntryComparison(spec, None)
    listed = Platform("x86_64", "linux", None, DIGEST, IMAGE_TYPE, 1612)
    other = Platform("aarch64", "linux", None, fake_digest("other"), IMAGE_TYPE, 1612)
    attestation = Platform("unknown", "unknown", None, fake_digest("att"), IMAGE_TYPE, 1)
    assert compare.index(info(ManifestKind.INDEX, platforms=(listed, attestation))) == []
    found = compare.index(info(ManifestKind.INDEX, platforms=(other,)))
    assert [(m.path, m.code) for m in found] == [
        (("spec", "variants", 0, "container", "ref"), "index_mismatch"),
        (("spec", "index", "ref"), "index_mismatch"),
    ]


def test_annotations_are_compared_with_distro_targets_and_architecture() -> None:
    model = entry()
    compare = EntryComparison(model.spec, None)
    variant = model.spec.variants[0]
    agreeing = {
        OPERATOR_GROUP + "distro": "autosd9-sig",
        OPERATOR_GROUP + "target": "qemu",
        OPERATOR_GROUP + "arch": "x86_64",
    }
    assert compare.annotations(info(annotations=agreeing), variant, AT) == []
    differing = {
        OPERATOR_GROUP + "distro": "other",
        OPERATOR_GROUP + "target": "rpi4",
        OPERATOR_GROUP + "arch": "aarch64",
    }
    found = compare.annotations(info(annotations=differing), variant, AT)
    assert [m.path for m in found] == [
        ("spec", "distro"),
        ("spec", "targets"),
        (*AT, "architecture"),
    ]
    assert codes(compare.annotations(info(annotations=differing), None, AT)) == [
        "annotation_mismatch",
        "annotation_mismatch",
    ]


def test_disk_layers_match_files_by_title() -> None:
    file = DiskFile.model_validate(
        {
            "title": "disk.raw",
            "mediaType": "application/octet-stream",
            "sha256": "a" * 64,
            "size": 5,
        }
    )
    disk = DiskArtifact.model_validate(
        {
            "ref": REF,
            "mediaType": IMAGE_TYPE,
            "size": 1612,
            "files": [file.model_dump(by_alias=True, exclude_none=True)],
        }
    )
    layer = Layer(
        "application/octet-stream", "sha256:" + "a" * 64, 5, {TITLE_ANNOTATION: "disk.raw"}
    )
    extra = Layer("application/octet-stream", "sha256:" + "b" * 64, 9, {})
    compare = EntryComparison(entry().spec, None)
    at = ("spec", "variants", 0, "disk")
    assert compare.disk(at, disk, info(ManifestKind.ARTIFACT, layers=(layer,))) == []
    found = compare.disk(at, disk, info(ManifestKind.ARTIFACT, layers=(extra,)))
    assert [m.path for m in found] == [(*at, "files", 0, "title"), (*at, "files")]
    assert file_mismatches(at, file, layer) == []
    bigger = Layer(layer.media_type, layer.digest, 6, layer.annotations)
    assert [m.path[-1] for m in file_mismatches(at, file, bigger)] == ["size"]
