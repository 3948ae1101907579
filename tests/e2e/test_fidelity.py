"""Fidelity to what the operator builds and pushes, and the export of what was published.

Canonical distro names in default image names, the AIB manifest's ConfigMap, the schedule that
made a build, reproducible images with a fixed created time, the OS and CPU variant an image
says; then ImageBuilds of both spec shapes published to a real registry on loopback and exported
as CatalogImage resources that fit the operator's CRD.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from image_catalog.cli import main
from image_catalog.commands.publish import (
    PublishBuildSettings,
    PublishImageSettings,
    publish_image,
    publish_imagebuild,
)
from image_catalog.export import crs
from image_catalog.manifest.load import load_mapping
from image_catalog.publish.imagebuild import parse_imagebuild
from support.catalogs import empty_catalog
from support.exports import exported_resources
from support.oci import DiskFile, push_disk_artifact, push_image, push_index
from support.registry import LocalRegistry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "imagebuild"
AIB = "automotive.sdv.cloud.redhat.com/"
SCHEDULE_LABEL = AIB + "scheduledimagebuild-name"
RCAR = "images/autosd10-rcar-s4-aarch64"


def _build_file(
    tmp_path: Path, fixture: str, host: str, edits: dict[str, str] | None = None, name: str = ""
) -> Path:
    text = (FIXTURES / fixture).read_text().replace("REGISTRY/", f"{host}/")
    for old, new in (edits or {}).items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / (name or fixture)
    path.write_text(text)
    return path


def _push_rcar(registry: LocalRegistry, night: int = 1) -> None:
    push_image(registry, "automotive-builds/autosd10-rcar-s4", "nightly", architecture="arm64")
    push_disk_artifact(
        registry,
        "automotive-builds/autosd10-rcar-s4-disk",
        "nightly",
        [DiskFile("disk.raw.gz", b"disk" * 64 * night, partition="rootfs")],
        {AIB + "distro": "autosd10", AIB + "target": "rcar_s4", AIB + "arch": "aarch64"},
    )


def _publish(build: Path, catalog: Path) -> None:
    assert main(["publish", "imagebuild", str(build), "--catalog", str(catalog)]) == 0


def _publish_at(build: Path, catalog: Path, day: int) -> None:
    """Publish through the library, at a given time: query orders by publication time."""
    now = datetime(2026, 2, day, 12, 0, 0, tzinfo=UTC)
    settings = PublishBuildSettings(catalog=catalog, imagebuild=str(build), now=now)
    assert publish_imagebuild(settings).status == "published"


def _catalog(root: Path, registry: LocalRegistry) -> Path:
    """An empty catalog whose registry is the loopback one, reached in a cluster by a public name
    and a pull secret."""
    text = "\n".join(
        [
            "apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1",
            "kind: Registry",
            "metadata:",
            "  name: local",
            "spec:",
            "  kind: generic",
            f"  host: '{registry.host}'",
            "  publicHost: registry.example.com:5000",
            "  tlsVerify: false",
            "  authSecretRef:",
            "    name: builds-pull-secret",
            "    namespace: automotive-builds",
            "",
        ]
    )
    return empty_catalog(root, {"local": text})


def test_default_name_uses_the_canonical_distro(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path
) -> None:
    """The operator's samples say `autosd`, an alias of `autosd10`: both land under one name."""
    _push_rcar(registry)
    alias = {"distro: autosd10": "distro: autosd"}
    _publish(_build_file(tmp_path, "nested-bootc-disk.yaml", registry.host, alias), local_catalog)
    entry = load_mapping(local_catalog / RCAR / "20260203.014217.yaml")
    assert entry["spec"]["distro"] == "autosd"  # as the build said it; the name is canonical


def test_manifest_config_map_in_both_spec_shapes() -> None:
    nested = yaml.safe_load((FIXTURES / "nested-bootc-disk.yaml").read_text())
    del nested["spec"]["aib"]["manifest"], nested["spec"]["aib"]["manifestFileName"]
    nested["spec"]["aib"]["manifestConfigMap"] = "rcar-s4-manifest"
    assert parse_imagebuild(nested, "nested").manifest_config_map == "rcar-s4-manifest"
    flat = yaml.safe_load((FIXTURES / "flat-disk-partitions.yaml").read_text())
    flat["spec"]["manifestConfigMap"] = "ride4-manifest"
    parsed = parse_imagebuild(flat, "flat")
    assert (parsed.manifest_config_map, parsed.schedule) == ("ride4-manifest", None)


def test_a_scheduled_build_records_its_schedule_and_query_finds_its_latest(
    tmp_path: Path,
    registry: LocalRegistry,
    local_catalog: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    labelled = {
        "  name: autosd10-rcar-s4-nightly\n": "  name: autosd10-rcar-s4-nightly\n  labels:\n"
        f"    {SCHEDULE_LABEL}: nightly-rcar\n",
        "    mode: bootc\n": "    mode: bootc\n    manifestConfigMap: rcar-s4-manifest\n",
    }
    _push_rcar(registry)
    _publish_at(
        _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host, labelled), local_catalog, 3
    )
    _push_rcar(registry, night=2)
    second = {**labelled, "2026-02-03T01:42:17Z": "2026-02-04T01:40:00Z"}
    _publish_at(
        _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host, second), local_catalog, 4
    )
    _push_rcar(registry, night=3)  # a build by hand, later, under the same name
    by_hand = {"2026-02-03T01:42:17Z": "2026-02-05T09:00:00Z"}
    _publish_at(
        _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host, by_hand), local_catalog, 5
    )

    entry = load_mapping(local_catalog / RCAR / "20260204.014000.yaml")
    assert entry["spec"]["tags"] == ["schedule-nightly-rcar"]
    source = entry["spec"]["source"]["imageBuild"]
    assert (source["schedule"], source["manifestConfigMap"]) == ("nightly-rcar", "rcar-s4-manifest")
    assert (
        "schedule"
        not in load_mapping(local_catalog / RCAR / "20260205.090000.yaml")["spec"]["source"][
            "imageBuild"
        ]
    )

    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(local_catalog), "--out", str(site)]) == 0
    capsys.readouterr()
    query = ["query", "--index", str(site), "--tag", "schedule-nightly-rcar", "--json"]
    assert main([*query, "--all-versions"]) == 0
    rows = yaml.safe_load(capsys.readouterr().out)
    rows = rows["images"] if isinstance(rows, dict) else rows
    # The latest of the schedule is the first row; the later build by hand is not among them.
    assert [row["version"] for row in rows] == ["20260204.014000", "20260203.014217"]
    # --schedule: each image's latest build of the schedule, though a build by hand is newer.
    assert main(["query", "--index", str(site), "--schedule", "nightly-rcar", "--json"]) == 0
    [latest] = json.loads(capsys.readouterr().out)["images"]
    assert (latest["name"], latest["version"]) == ("autosd10-rcar-s4-aarch64", "20260204.014000")
    assert main(["query", "--index", str(site), "--json"]) == 0
    [head] = json.loads(capsys.readouterr().out)["images"]
    assert head["version"] == "20260205.090000"
    assert main(["query", "--index", str(site), "--schedule", "x" * 60]) == 2
    capsys.readouterr()
    assert main(["show", "autosd10-rcar-s4-aarch64@20260204.014000", "--index", str(site)]) == 0
    assert ", by schedule nightly-rcar\n" in capsys.readouterr().out
    document = json.loads((site / RCAR / "20260204.014000.json").read_text())
    built = document["source"]["imageBuild"]
    assert (built["schedule"], built["manifestConfigMap"]) == ("nightly-rcar", "rcar-s4-manifest")
    # The architecture's OS, as its container image says, on both of its rows.
    assert [(v["kind"], v.get("os")) for v in document["variants"]] == [
        ("container", "linux"),
        ("disk", "linux"),
    ]


def test_reproducible_images_get_unique_sortable_versions(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    published = []
    for seed, created, minute in (
        ("epoch-a", "1970-01-01T00:00:00Z", 0),
        ("epoch-b", "1970-01-01T00:00:00Z", 1),
        ("sde-a", "2025-06-01T00:00:00Z", 2),
        ("sde-b", "2025-06-01T00:00:00Z", 3),  # the same SOURCE_DATE_EPOCH: already taken
    ):
        push_image(registry, "vendor/repro", seed, created=created, seed=seed)
        now = datetime(2026, 3, 1, 10, minute, 0, tzinfo=UTC)
        ref = f"{registry.host}/vendor/repro:{seed}"
        settings = PublishImageSettings(
            catalog=local_catalog, ref=ref, distro="autosd9", targets=("pc",), now=now
        )
        result = publish_image(settings)
        assert result.status == "published"
        published.append(result.id)
    assert published == [
        "autosd9-pc-x86-64@20260301.100000",
        "autosd9-pc-x86-64@20260301.100100",
        "autosd9-pc-x86-64@20250601.000000",
        "autosd9-pc-x86-64@20260301.100300",
    ]


def test_the_os_and_cpu_variant_an_image_says(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path / "catalog", registry)
    push_image(registry, "vendor/arm-v8", "1.0", architecture="arm64", variant="v8")
    push_index(registry, "vendor/multi", "1.0", variants={"arm64": "v8"})
    for repo in ("arm-v8", "multi"):
        args = ["publish", "image", f"{registry.host}/vendor/{repo}:1.0", "--catalog", str(catalog)]
        args += ["--distro", "autosd9", "--target", "qemu", "--name", repo]
        assert main(args) == 0
    [single] = load_mapping(next((catalog / "images/arm-v8").iterdir()))["spec"]["variants"]
    assert (single["os"], single["platformVariant"]) == ("linux", "v8")
    multi = load_mapping(next((catalog / "images/multi").iterdir()))["spec"]["variants"]
    assert [(v["architecture"], v["os"], v.get("platformVariant")) for v in multi] == [
        ("aarch64", "linux", "v8"),
        ("x86_64", "linux", None),
    ]
    out = tmp_path / "crs"
    assert (
        main(["export", "crs", "--catalog", str(catalog), "--out", str(out), "--public-hosts"]) == 0
    )
    resources = exported_resources(out)
    [arm] = [r for n, r in resources.items() if n.startswith("arm-v8.")]
    assert arm["spec"]["metadata"]["os"] == "linux"
    assert arm["spec"]["metadata"]["variant"] == "v8"
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site)]) == 0
    capsys.readouterr()
    assert main(["show", "arm-v8", "--index", str(site)]) == 0
    assert (
        "  aarch64/v8  container  pull:            registry.example.com:5000/vendor/arm-v8@sha256:"
        in (capsys.readouterr().out)
    )


def test_imagebuilds_of_both_shapes_exported(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path / "catalog", registry)
    _push_rcar(registry)
    _publish(_build_file(tmp_path, "nested-bootc-disk.yaml", registry.host), catalog)
    index = push_index(registry, "automotive-dev/autosd9-qemu-bootc", "latest")
    _publish(_build_file(tmp_path, "flat-multiarch.json", registry.host), catalog)
    push_disk_artifact(
        registry,
        "automotive-release/rhivos-ride4",
        "disk",
        [DiskFile("boot_a.simg.lz4", b"boot" * 100, partition="boot_a")],
        {
            AIB + "distro": "rhivos-core-2.0",
            AIB + "target": "ride4_sa8775p_sx",
            AIB + "arch": "arm64",
        },
        artifact_type="application/vnd.automotive.disk.simg",
    )
    _publish(_build_file(tmp_path, "flat-disk-partitions.yaml", registry.host), catalog)
    capsys.readouterr()

    out = tmp_path / "crs"
    # Pointed at the loopback host, no entry fits the CRD's registryUrl pattern.
    assert main(["export", "crs", "--catalog", str(catalog), "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith(
        "error: 3 entries cannot be expressed as CatalogImage resources"
    )
    args = ["export", "crs", "--catalog", str(catalog), "--out", str(out), "--public-hosts"]
    assert main([*args, "--namespace", "automotive"]) == 0
    resources = exported_resources(out)
    assert sorted(resources) == [
        "autosd10-rcar-s4-aarch64.20260203.014217-aarch64",
        "autosd10-rcar-s4-aarch64.20260203.014217-aarch64-disk",
        "autosd9-sig-qemu.20260115.083102",
        "rhivos-core-2-0-ride4-sa8775p-sx.20260201.030405-aarch64-disk",
    ]
    multi = resources["autosd9-sig-qemu.20260115.083102"]
    assert multi["spec"]["registryUrl"] == (
        f"registry.example.com:5000/automotive-dev/autosd9-qemu-bootc@{index.digest}"
    )
    assert multi["metadata"]["labels"][crs.LABEL_SOURCE_TYPE] == "ImageBuild"
    for resource in resources.values():
        assert resource["spec"]["authSecretRef"] == {
            "name": "builds-pull-secret",
            "namespace": "automotive-builds",
        }
    disk: dict[str, Any] = resources["autosd10-rcar-s4-aarch64.20260203.014217-aarch64-disk"]
    assert disk["spec"]["metadata"]["exportFormat"] == "raw"
    assert disk["spec"]["metadata"]["buildMode"] == "bootc"
