"""A draft becomes one CatalogImage document: the build's word and the person's choices land in
the fields the file holds, in file field names, and the document validates as it is written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from image_catalog.catalog.loader import load_catalog_files
from image_catalog.manifest.load import dump_document
from image_catalog.manifest.model import API_VERSION, CatalogImage, schema_header
from image_catalog.publish.draft import DiskData, Draft, ManifestData, VariantData
from support.paths import SHIPPED_CATALOG

HOST = "quay.io/automotive-images"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _pinned(repository: str, seed: str, media_type: str = OCI_MANIFEST) -> ManifestData:
    return {"ref": f"{HOST}/{repository}@sha256:{seed * 64}", "mediaType": media_type, "size": 512}


def _disk() -> DiskData:
    return {
        **_pinned("autosd10-qemu-disk", "3"),
        "tag": "nightly",
        "artifactType": "application/vnd.automotive.disk.qcow2",
        "files": [
            {
                "title": "disk.qcow2",
                "mediaType": "application/vnd.automotive.disk.qcow2",
                "format": "qcow2",
                "sha256": "4" * 64,
                "size": 1024,
            }
        ],
    }


def _build_draft(**changes: Any) -> Draft:
    """What a bootc ImageBuild for two architectures, with a disk for one, would draft."""
    arm: VariantData = {"architecture": "aarch64", "container": _pinned("autosd10-qemu", "2")}
    arm["disk"] = _disk()
    x86: VariantData = {"architecture": "x86_64", "os": "linux"}
    x86["container"] = _pinned("autosd10-qemu", "1")
    fields: dict[str, Any] = {
        "distro": "autosd10",
        "targets": ["qemu"],
        "variants": {"x86_64": x86, "aarch64": arm},
        "source": {
            "imageBuild": {
                "name": "autosd10-qemu-nightly",
                "namespace": "builds",
                "completionTime": "2026-02-10T02:15:00Z",
            }
        },
        "default_version": "20260210.021500",
        "bootc": True,
        "index": _pinned("autosd10-qemu", "5", OCI_INDEX),
        "build_mode": "bootc",
        "export_format": "qcow2",
        "tags": ["nightly"],
    }
    return Draft(**{**fields, **changes})


def _document(draft: Draft, **chosen: Any) -> dict[str, Any]:
    choices: dict[str, Any] = {
        "name": "autosd10-qemu",
        "version": draft.default_version,
        "display_name": None,
        "description": None,
        "tags": (),
        "verified": False,
        "published_at": "2026-02-10T03:00:00Z",
    }
    return draft.document(**{**choices, **chosen})


def _validated(document: dict[str, Any]) -> CatalogImage:
    vocabulary = load_catalog_files(SHIPPED_CATALOG).vocabulary
    return CatalogImage.model_validate(document, context={"vocabulary": vocabulary})


def test_a_drafted_build_validates_with_every_field_it_says() -> None:
    image = _validated(_document(_build_draft()))
    assert image.id == "autosd10-qemu@20260210.021500"
    spec = image.spec
    assert (spec.distro, spec.bootc, spec.build_mode, spec.export_format) == (
        "autosd10",
        True,
        "bootc",
        "qcow2",
    )
    assert spec.display_name == "autosd10 for qemu"  # the default title
    assert spec.description == ""
    assert [(t.name, t.verified) for t in spec.targets] == [("qemu", False)]
    assert spec.tags == ["nightly"]
    assert spec.index is not None
    assert spec.index.ref.endswith("@sha256:" + "5" * 64)
    assert spec.published_at == datetime(2026, 2, 10, 3, 0, tzinfo=UTC)
    assert spec.source.image_build is not None
    assert spec.source.prebuilt is None
    assert spec.source.image_build.name == "autosd10-qemu-nightly"


def test_variants_are_written_in_architecture_order_with_what_each_image_said() -> None:
    draft = _build_draft()
    assert draft.architectures == ["aarch64", "x86_64"]
    spec = _validated(_document(draft)).spec
    assert [v.architecture for v in spec.variants] == ["aarch64", "x86_64"]
    arm, x86 = spec.variants
    assert arm.container is not None
    assert arm.disk is not None
    assert [(f.title, f.format, f.sha256) for f in arm.disk.files] == [
        ("disk.qcow2", "qcow2", "4" * 64)
    ]
    assert arm.disk.tag == "nightly"
    assert (x86.os, x86.disk, arm.os) == ("linux", None, None)


def test_what_the_person_chose_comes_first() -> None:
    document = _document(
        _build_draft(),
        name="qemu-nightly",
        version="1.2.3",
        display_name="AutoSD 10 for QEMU",
        description="Nightly bootc image.",
        tags=("production", "nightly"),
        verified=True,
    )
    spec = _validated(document).spec
    assert _validated(document).id == "qemu-nightly@1.2.3"
    assert (spec.display_name, spec.description) == ("AutoSD 10 for QEMU", "Nightly bootc image.")
    assert [(t.name, t.verified) for t in spec.targets] == [("qemu", True)]
    # The person's tags first, then the build's; a tag said by both is written once.
    assert spec.tags == ["production", "nightly"]


def test_the_document_is_the_file_in_field_order() -> None:
    document = _document(_build_draft(), description="d", tags=("production",))
    assert list(document) == ["apiVersion", "kind", "metadata", "spec"]
    assert (document["apiVersion"], document["kind"]) == (API_VERSION, "CatalogImage")
    assert list(document["spec"]) == [
        "displayName",
        "distro",
        "targets",
        "bootc",
        "buildMode",
        "exportFormat",
        "description",
        "tags",
        "index",
        "variants",
        "source",
        "publishedAt",
    ]
    text = dump_document(document, schema_header("CatalogImage", 3))
    assert "\n  displayName: autosd10 for qemu\n" in text


def test_a_prebuilt_draft_leaves_out_what_it_does_not_say() -> None:
    draft = _build_draft(
        variants={"x86_64": {"architecture": "x86_64", "container": _pinned("vendor", "6")}},
        source={"prebuilt": {"origin": "a vendor's pipeline"}},
        index=None,
        bootc=False,
        build_mode=None,
        export_format=None,
        tags=[],
        targets=["qemu", "rpi4"],
    )
    document = _document(draft)
    assert set(document["spec"]) == {
        "displayName",
        "distro",
        "targets",
        "bootc",
        "variants",
        "source",
        "publishedAt",
    }
    spec = _validated(document).spec
    assert spec.display_name == "autosd10 for qemu, rpi4"
    assert spec.source.prebuilt is not None
    assert spec.source.prebuilt.origin == "a vendor's pipeline"
    assert (spec.index, spec.tags, spec.build_mode) == (None, [], None)


@pytest.mark.parametrize("published_at", ["2026-02-10T03:00:00Z", "2026-02-10T03:00:00+00:00"])
def test_the_publication_time_is_written_as_given(published_at: str) -> None:
    assert _document(_build_draft(), published_at=published_at)["spec"]["publishedAt"] == (
        published_at
    )
