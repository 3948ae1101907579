"""A default name never adds a version to an image published from another source; against a real
registry on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.cli import main
from support.oci import DiskFile, push_disk_artifact, push_image
from support.pushed import container, write_entry
from support.registry import LocalRegistry

AIB = "automotive.sdv.cloud.redhat.com/"
BOARD = {AIB + "distro": "autosd9", AIB + "target": "am69sk", AIB + "arch": "aarch64"}


def _line(registry: LocalRegistry, catalog: Path, repo: str) -> None:
    """The image autosd9-am69sk, one version, from `repo`."""
    image = push_image(registry, repo, "1.0", architecture="arm64", seed=repo)
    write_entry(
        catalog, "autosd9-am69sk", [container(image)], distro="autosd9", targets=("am69sk",)
    )


def _test_artifact(registry: LocalRegistry, repo: str) -> str:
    files = [DiskFile("disk.img.gz", repo.encode() * 50, partition="rootfs")]
    push_disk_artifact(registry, repo, "try", files, BOARD)
    return f"{registry.host}/{repo}:try"


def test_a_default_name_does_not_join_another_source(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _line(registry, local_catalog, "boards/am69sk")
    ref = _test_artifact(registry, "scratch/am69sk-test")
    args = ["publish", "image", ref, "--catalog", str(local_catalog)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        "the default name 'autosd9-am69sk' would add this image to an image published from "
        f"another source (autosd9-am69sk@1.0: {registry.host}/boards/am69sk), and make it that "
        "image's latest version; choose another name with --name, or pass --name autosd9-am69sk "
        "to add it there on purpose\n"
    ) in err
    assert sorted(p.name for p in (local_catalog / "images").iterdir()) == ["autosd9-am69sk"]
    assert len(list((local_catalog / "images/autosd9-am69sk").iterdir())) == 1

    assert main([*args, "--name", "autosd9-am69sk"]) == 0
    assert len(list((local_catalog / "images/autosd9-am69sk").iterdir())) == 2


def test_a_default_name_joins_its_own_source(registry: LocalRegistry, local_catalog: Path) -> None:
    _line(registry, local_catalog, "boards/am69sk-own")
    image = push_image(
        registry,
        "boards/am69sk-own",
        "2.0",
        architecture="arm64",
        annotations=BOARD,
        seed="second",
        created="2026-03-02T00:00:00Z",
    )
    assert image.digest
    ref = f"{registry.host}/boards/am69sk-own:2.0"
    assert main(["publish", "image", ref, "--catalog", str(local_catalog)]) == 0
    assert (local_catalog / "images/autosd9-am69sk/20260302.000000.yaml").is_file()
