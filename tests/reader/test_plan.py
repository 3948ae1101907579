"""`reader.plan`: the variant for a board, the gates, and titles refused unless plain names."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.errors import CatalogError, UsageError
from image_catalog.reader.client import IndexClient
from image_catalog.reader.plan import check_gates, check_title, choose_variant, plan_files
from image_catalog.site.contract import VersionDoc
from support.site import add_image, new_catalog

pytestmark = pytest.mark.usefixtures("isolated_reader")


@pytest.mark.parametrize(
    "title",
    ["", "a/b", "a\\b", "..", "x..y", ".hidden", "a\x1bb", "a\nb", "disk.part", "pull.json",
     "SHA256SUMS", "a" * 256],
)  # fmt: skip
def test_a_title_that_is_not_a_plain_name(title: str) -> None:
    with pytest.raises(CatalogError, match="is not a plain file name"):
        check_title(title, "here")


def test_a_plain_title() -> None:
    check_title("boot_a.simg.gz", "here")


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VersionDoc]:
    root = tmp_path_factory.mktemp("plan")
    catalog = new_catalog(root / "catalog")
    add_image(catalog, "two", "1", "2026-01-01T00:00:00Z", architectures=("x86_64", "aarch64"),
              targets=("rcar_s4",), disk=True)  # fmt: skip
    add_image(catalog, "old", "1", "2026-01-01T00:00:00Z", targets=("qemu",), disk=True,
              deprecated=True)  # fmt: skip
    build_from_scratch(catalog, root / "site")
    client = IndexClient(root / "site")
    return {name: client.show(name, "1").version for name in ("two", "old")}


def test_several_architectures_need_arch(versions: dict[str, VersionDoc]) -> None:
    doc = versions["two"]
    with pytest.raises(UsageError, match=r"several architectures \(x86_64, aarch64\): choose one"):
        choose_variant(doc, "rcar_s4", None, ["x86_64", "aarch64"])
    assert choose_variant(doc, "rcar_s4", "aarch64", []).architecture == "aarch64"
    with pytest.raises(
        CatalogError, match=r"not built for the board 'rpi4' \(its boards: rcar_s4\)"
    ):
        choose_variant(doc, "rpi4", None, [])


def test_partitions_and_decompressed_names(versions: dict[str, VersionDoc]) -> None:
    variant = versions["two"].variants[0]
    files = plan_files(variant, "two 1", ["rootfs"], decompress=True)
    assert [(f.title, f.compression, f.decompressed) for f in files] == [
        ("rootfs.img.gz", "gzip", "rootfs.img")
    ]
    with pytest.raises(
        UsageError,
        match=r"--partition nope: not a partition of two 1 \(its partitions: boot, rootfs\)",
    ):
        plan_files(variant, "two 1", ["nope"], decompress=False)


def test_deprecated_and_unhealthy_gates(versions: dict[str, VersionDoc]) -> None:
    doc = versions["old"]
    variant = doc.variants[0]
    with pytest.raises(
        CatalogError, match=r"old 1 is deprecated \(broken\); pass --allow-deprecated"
    ):
        check_gates(doc, variant, False, False)
    assert check_gates(doc, variant, True, False) == ["old 1 is deprecated (broken)"]
    replaced = versions["two"]
    import msgspec

    superseded = msgspec.structs.replace(replaced, deprecated=True, superseded_by="two@2")
    with pytest.raises(CatalogError, match="; use two@2 instead; pass --allow-deprecated"):
        check_gates(superseded, variant, False, False)
    for state in ("missing", "changed", "failed"):
        sick = msgspec.structs.replace(replaced.variants[0], health=state)
        with pytest.raises(CatalogError, match=f"found it {state}; pass --allow-unhealthy"):
            check_gates(replaced, sick, False, False)
        assert check_gates(replaced, sick, False, True)
    gone = msgspec.structs.replace(replaced.variants[0], health="unreachable")
    assert check_gates(replaced, gone, False, False) == [
        "two 1 (x86_64): the last health check found its registry unreachable"
    ]


def test_no_disk_image(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "catalog")
    add_image(
        catalog, "app", "1", "2026-01-01T00:00:00Z", architectures=("aarch64",), targets=("rpi4",)
    )
    build_from_scratch(catalog, tmp_path / "site")
    doc = IndexClient(tmp_path / "site").show("app", "1").version
    with pytest.raises(CatalogError) as caught:
        choose_variant(doc, "rpi4", None, ["aarch64"])
    lines = str(caught.value).splitlines()
    assert lines[0] == "app 1 has no disk image for rpi4; it has a container image:"
    assert lines[1].startswith("  aarch64: oci://images.example.com/builds/app@sha256:")
    assert lines[2].startswith(
        "  fetch it with: skopeo copy docker://images.example.com/builds/app@sha256:"
    )
    assert lines[2].endswith(" oci:DIR")
