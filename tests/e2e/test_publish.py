"""Publishing against a real registry on loopback and real git repositories in temp folders."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
import pytest
from image_catalog.catalog.rules import rfc3339
from image_catalog.catalog.validate import validate_catalog
from image_catalog.cli import main
from image_catalog.commands.publish import PublishImageSettings, publish_image
from image_catalog.manifest.load import load_mapping
from image_catalog.publish.branch import Identity
from image_catalog.publish.candidate import PublishRejected
from support.catalogs import empty_catalog, registry_manifest
from support.oci import DiskFile, push_disk_artifact, push_image, push_index
from support.registry import LocalRegistry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "imagebuild"
AIB = "automotive.sdv.cloud.redhat.com/"
IDENTITY = pygit2.Signature("Catalog Tester", "tester@example.com", 1767225600, 0)


def _build_file(
    tmp_path: Path, fixture: str, host: str, edits: dict[str, str] | None = None
) -> Path:
    """An ImageBuild fixture pointing at `host`, with literal text `edits` applied."""
    text = (FIXTURES / fixture).read_text().replace("REGISTRY/", f"{host}/")
    for old, new in (edits or {}).items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / fixture
    path.write_text(text)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _push_rcar(registry: LocalRegistry, night: int = 1) -> tuple[str, str]:
    """Push a night's bootc image and disk artifact to the tags a scheduled build reuses."""
    image = push_image(
        registry, "automotive-builds/autosd10-rcar-s4", "nightly", architecture="arm64"
    )
    disk = push_disk_artifact(
        registry,
        "automotive-builds/autosd10-rcar-s4-disk",
        "nightly",
        [
            DiskFile("boot.img.gz", b"boot" * 64 * night, partition="boot", decompressed_size=4096),
            DiskFile("rootfs.img.gz", b"root" * 256, partition="rootfs", decompressed_size=65536),
        ],
        {AIB + "distro": "autosd10", AIB + "target": "rcar_s4", AIB + "arch": "aarch64"},
    )
    return image.digest, disk.digest


def test_nested_imagebuild_with_container_and_disk(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image_digest, disk_digest = _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]) == 0
    written = local_catalog / "images/autosd10-rcar-s4-aarch64/20260203.014217.yaml"
    assert capsys.readouterr().err == (
        f"published autosd10-rcar-s4-aarch64@20260203.014217 to {written}\n"
    )
    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../../schemas/catalogimage")
    assert "root_password" not in text
    assert "ssh-ed25519" not in text
    entry = load_mapping(written)
    spec = entry["spec"]
    [variant] = spec["variants"]
    assert variant["architecture"] == "aarch64"
    assert variant["container"]["ref"] == (
        f"{registry.host}/automotive-builds/autosd10-rcar-s4@{image_digest}"
    )
    assert variant["container"]["tag"] == "nightly"
    assert variant["disk"]["ref"] == (
        f"{registry.host}/automotive-builds/autosd10-rcar-s4-disk@{disk_digest}"
    )
    assert [(f["title"], f["partition"], f["sha256"]) for f in variant["disk"]["files"]] == [
        ("boot.img.gz", "boot", hashlib.sha256(b"boot" * 64).hexdigest()),
        ("rootfs.img.gz", "rootfs", hashlib.sha256(b"root" * 256).hexdigest()),
    ]
    assert spec["source"]["imageBuild"] == {
        "name": "autosd10-rcar-s4-nightly",
        "namespace": "automotive-builds",
        "completionTime": "2026-02-03T01:42:17Z",
        "uid": "6f1c2a9e-3b7d-4c55-9e1a-0d2f4b6c8a10",
        "aibImage": "quay.io/centos-sig-automotive/automotive-image-builder:1.1.4",
        "builderImage": "quay.io/centos-sig-automotive/aib-build:autosd10",
        "manifest": "rcar-s4.aib.yml",
    }
    assert (spec["distro"], spec["targets"], spec["bootc"]) == (
        "autosd10",
        [{"name": "rcar_s4", "verified": False}],
        True,
    )
    _, report = validate_catalog(local_catalog)
    assert report.problems == []


def test_flat_multi_arch_bootc_from_json(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path
) -> None:
    index = push_index(registry, "automotive-dev/autosd9-qemu-bootc", "latest")
    build = _build_file(tmp_path, "flat-multiarch.json", registry.host)
    args = [
        "publish",
        "imagebuild",
        str(build),
        "--catalog",
        str(local_catalog),
        "--tag",
        "nightly",
    ]
    assert main(args) == 0
    entry = load_mapping(local_catalog / "images/autosd9-sig-qemu/20260115.083102.yaml")
    spec = entry["spec"]
    assert (
        spec["index"]["ref"] == f"{registry.host}/automotive-dev/autosd9-qemu-bootc@{index.digest}"
    )
    assert spec["tags"] == ["nightly"]
    by_arch = {v["architecture"]: v["container"]["ref"].rsplit("@", 1)[1] for v in spec["variants"]}
    assert by_arch == {
        "aarch64": index.images[1].digest,
        "x86_64": index.images[0].digest,
    }


def test_flat_disk_artifact_with_partitions_from_stdin(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path
) -> None:
    parts = ["boot_a", "system_a", "vbmeta_a"]
    push_disk_artifact(
        registry,
        "automotive-release/rhivos-ride4",
        "disk",
        [
            DiskFile(
                f"{p}.simg.lz4",
                p.encode() * 100,
                "application/vnd.automotive.disk.simg+lz4",
                p,
                1000,
            )
            for p in parts
        ],
        {
            AIB + "distro": "rhivos-core-2.0",
            AIB + "target": "ride4_sa8775p_sx",
            AIB + "arch": "arm64",
        },
        artifact_type="application/vnd.automotive.disk.simg",
    )
    build = _build_file(tmp_path, "flat-disk-partitions.yaml", registry.host)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "image_catalog",
            "publish",
            "imagebuild",
            "-",
            "--catalog",
            str(local_catalog),
        ],
        input=build.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    entry = load_mapping(
        local_catalog / "images/rhivos-core-2-0-ride4-sa8775p-sx/20260201.030405.yaml"
    )
    [variant] = entry["spec"]["variants"]
    files = variant["disk"]["files"]
    assert [(f["partition"], f["format"], f["compression"]) for f in files] == [
        (p, "simg", "lz4") for p in parts
    ]
    assert variant["disk"]["artifactType"] == "application/vnd.automotive.disk.simg"


def test_publishing_twice_is_a_no_op(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    args = ["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]
    assert main(args) == 0
    before = _tree(local_catalog)
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().err == (
        "autosd10-rcar-s4-aarch64@20260203.014217 already holds these digests "
        f"({local_catalog}/images/autosd10-rcar-s4-aarch64/20260203.014217.yaml); "
        "nothing to publish\n"
    )
    assert _tree(local_catalog) == before


def test_moved_tag_is_a_new_version_or_a_conflict(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_image, _ = _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]) == 0
    second_image, _ = _push_rcar(registry, night=2)  # the tags now point at new digests
    assert second_image != first_image
    before = _tree(local_catalog)
    capsys.readouterr()
    args = ["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: {local_catalog}/images/autosd10-rcar-s4-aarch64/20260203.014217.yaml: "
        "autosd10-rcar-s4-aarch64@20260203.014217 is already published with other digests; "
        "a published version never changes: choose a new --version\n"
    )
    assert _tree(local_catalog) == before
    tonight = _build_file(
        tmp_path,
        "nested-bootc-disk.yaml",
        registry.host,
        {"2026-02-03T01:42:17Z": "2026-02-04T01:40:00Z"},
    )
    assert main(["publish", "imagebuild", str(tonight), "--catalog", str(local_catalog)]) == 0
    versions = sorted(p.name for p in (local_catalog / "images/autosd10-rcar-s4-aarch64").iterdir())
    assert versions == ["20260203.014217.yaml", "20260204.014000.yaml"]


def test_target_that_does_not_support_the_architecture(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(registry, "automotive-builds/acrn-arm", "latest", architecture="arm64")
    build = _build_file(tmp_path, "wrong-arch.yaml", registry.host)
    before = _tree(local_catalog)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: the new manifest does not validate; nothing was written. Lines and columns "
        "below are those of the manifest as it would have been written:\n"
    )
    assert (
        f"{local_catalog}/images/autosd10-acrn/20260202.020202.yaml:11:7: spec.targets[0].name: "
        "target 'acrn' is not supported on architecture 'aarch64' (AIB builds it for: x86_64)"
    ) in err
    assert _tree(local_catalog) == before


@pytest.mark.slow
def test_registry_down_writes_nothing(
    tmp_path: Path, own_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = empty_catalog(
        tmp_path / "catalog", {"local": registry_manifest("local", own_registry.host)}
    )
    _push_rcar(own_registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", own_registry.host)
    own_registry.stop()
    before = _tree(catalog)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(catalog)]) == 4
    assert own_registry.host in capsys.readouterr().err
    assert _tree(catalog) == before


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    before = _tree(local_catalog)
    args = ["publish", "imagebuild", str(build), "--catalog", str(local_catalog), "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert out.out.startswith("# yaml-language-server:")
    assert "name: autosd10-rcar-s4-aarch64" in out.out
    assert out.err.startswith("dry run: would write ")
    assert _tree(local_catalog) == before


def test_dry_run_as_json_is_the_same_for_both_spellings(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    args = ["publish", "imagebuild", str(build), "--catalog", str(local_catalog), "--dry-run"]
    assert main([*args, "--format", "json"]) == 0
    formatted = capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    # The same but for the publishing time, which is the clock's (the two runs may straddle a
    # second).
    assert _timeless(capsys.readouterr().out) == _timeless(formatted)
    assert json.loads(formatted)["status"] == "dry-run"


def _timeless(text: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)


def _git_catalog(root: Path, registry: LocalRegistry) -> pygit2.Repository:
    empty_catalog(root / "catalog", {"local": registry_manifest("local", registry.host)})
    (root / "README.md").write_text("catalog\n")
    repo = pygit2.init_repository(str(root), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    repo.create_commit("HEAD", IDENTITY, IDENTITY, "Start the catalog", tree, [])
    return repo


@pytest.mark.git
def test_branch_commit_and_pull_request(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _git_catalog(tmp_path / "repo", registry)
    start = repo.head.target
    (tmp_path / "repo/README.md").write_text("an unrelated edit that must stay uncommitted\n")
    image_digest, disk_digest = _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    args = [
        "publish",
        "imagebuild",
        str(build),
        "--catalog",
        str(tmp_path / "repo/catalog"),
        "--branch",
        "publish/rcar-s4-nightly",
        "--author",
        "Build Operator <operator@example.com>",
    ]
    assert main(args) == 0
    out = capsys.readouterr()
    repo = pygit2.Repository(str(tmp_path / "repo"))
    assert repo.head.shorthand == "publish/rcar-s4-nightly"
    commit = repo.head.peel(pygit2.Commit)
    assert [p.id for p in commit.parents] == [start]
    assert (commit.author.name, commit.author.email) == ("Build Operator", "operator@example.com")
    path = "catalog/images/autosd10-rcar-s4-aarch64/20260203.014217.yaml"
    diff = repo.diff(commit.parents[0], commit)
    assert [d.delta.new_file.path for d in diff] == [path]
    blob = commit.tree[path]
    assert isinstance(blob, pygit2.Blob)
    assert blob.data == (tmp_path / "repo" / path).read_bytes()
    lines = commit.message.splitlines()
    assert lines[0] == "Publish autosd10-rcar-s4-aarch64@20260203.014217: autosd10 for rcar_s4"
    assert (
        f"- aarch64 container: {registry.host}/automotive-builds/autosd10-rcar-s4@{image_digest}"
        in lines
    )
    source = "Source: ImageBuild automotive-builds/autosd10-rcar-s4-nightly, completed "
    assert f"{source}2026-02-03T01:42:17Z" in lines
    assert "Targets: rcar_s4" in lines
    assert out.out.startswith("## Publish `autosd10-rcar-s4-aarch64@20260203.014217`")
    assert disk_digest in out.out
    assert "### What CI checks" in out.out
    assert repo.status() == {"README.md": pygit2.enums.FileStatus.WT_MODIFIED}
    assert out.err.endswith(
        f"committed {str(commit.id)[:12]} on branch publish/rcar-s4-nightly, which is now checked "
        "out ('git switch -' goes back)\n"
    )


@pytest.mark.git
def test_branch_that_exists_writes_nothing(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _git_catalog(tmp_path / "repo", registry)
    repo.branches.local.create("taken", repo.head.peel(pygit2.Commit))
    _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    before = _tree(tmp_path / "repo/catalog")
    args = [
        "publish",
        "imagebuild",
        str(build),
        "--catalog",
        str(tmp_path / "repo/catalog"),
        "--branch",
        "taken",
    ]
    assert main(args) == 1
    assert "branch 'taken' already exists" in capsys.readouterr().err
    assert _tree(tmp_path / "repo/catalog") == before


def test_prebuilt_artifact_metadata_from_annotations(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    artifact = push_disk_artifact(
        registry,
        "vendor/am69sk",
        "9.4.1",
        [DiskFile("disk.img.gz", b"disk" * 50, partition="rootfs")],
        {AIB + "distro": "autosd9", AIB + "target": "am69sk", AIB + "arch": "aarch64"},
    )
    ref = f"{registry.host}/vendor/am69sk:9.4.1"
    args = ["publish", "image", ref, "--catalog", str(local_catalog), "--name", "autosd9-am69sk"]
    assert main(args) == 0
    entry = load_mapping(local_catalog / "images/autosd9-am69sk/20260101.000000.yaml")
    assert entry["spec"]["source"] == {"prebuilt": {"origin": ref}}
    assert entry["spec"]["variants"][0]["disk"]["ref"].endswith(artifact.digest)


def test_prebuilt_image_without_metadata_names_the_missing_flags(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(
        registry, "vendor/plain", "1.0", architecture="amd64", created="2026-03-01T00:00:00Z"
    )
    ref = f"{registry.host}/vendor/plain:1.0"
    assert main(["publish", "image", ref, "--catalog", str(local_catalog)]) == 2
    assert capsys.readouterr().err == (
        f"error: {ref} does not say everything a catalog entry needs (no AIB annotations or "
        "labels for it); add --distro D --target T\n"
    )
    args = [
        "publish",
        "image",
        ref,
        "--catalog",
        str(local_catalog),
        "--distro",
        "autosd9",
        "--target",
        "pc",
    ]
    assert main(args) == 0
    entry = load_mapping(local_catalog / "images/autosd9-pc-x86-64/20260301.000000.yaml")
    assert entry["spec"]["variants"][0]["architecture"] == "x86_64"


@pytest.mark.git
def test_branch_without_identity_writes_nothing(
    tmp_path: Path,
    registry: LocalRegistry,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "no-git-config"
    empty.mkdir()
    levels = pygit2.enums.ConfigLevel
    search = pygit2.settings.search_path
    saved = {level: search[level] for level in (levels.GLOBAL, levels.XDG, levels.SYSTEM)}
    for level in saved:  # hide this machine's git identity from libgit2
        search[level] = str(empty)
    request.addfinalizer(lambda: [search.__setitem__(k, v) for k, v in saved.items()])
    _git_catalog(tmp_path / "repo", registry)
    _push_rcar(registry)
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    catalog = tmp_path / "repo/catalog"
    before = _tree(catalog)
    args = ["publish", "imagebuild", str(build), "--catalog", str(catalog), "--branch", "b"]
    assert main(args) == 2
    assert "no commit identity" in capsys.readouterr().err
    assert _tree(catalog) == before
    assert main([*args, "--author", "Build Operator <operator@example.com>"]) == 0
    assert pygit2.Repository(str(tmp_path / "repo")).head.shorthand == "b"


def test_index_with_an_unknown_platform(
    registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_index(registry, "vendor/multi", "v1", architectures=("amd64", "arm64", "s390x"))
    ref = f"{registry.host}/vendor/multi:v1"
    args = ["publish", "image", ref, "--catalog", str(local_catalog), "--distro", "autosd9"]
    args += ["--target", "qemu", "--version", "1.0"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"error: {ref} has a s390x image, an architecture the catalog does not know; publish "
        "the platforms it knows one at a time with --arch\n"
    )
    assert main([*args, "--arch", "amd64"]) == 0
    entry = load_mapping(local_catalog / "images/autosd9-qemu-x86-64/1.0.yaml")
    assert [v["architecture"] for v in entry["spec"]["variants"]] == ["x86_64"]
    assert "index" not in entry["spec"]


def test_a_later_build_on_the_same_tag_is_not_published_as_this_one(
    tmp_path: Path, registry: LocalRegistry, local_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push_rcar(registry)
    push_image(
        registry,
        "automotive-builds/autosd10-rcar-s4",
        "nightly",
        architecture="arm64",
        created="2026-02-04T01:30:00Z",  # the next night's build, a day after this one completed
    )
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host)
    before = _tree(local_catalog)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]) == 1
    assert capsys.readouterr().err == (
        f"error: {registry.host}/automotive-builds/autosd10-rcar-s4:nightly now holds an image "
        "created 2026-02-04T01:30:00Z, after ImageBuild automotive-builds/autosd10-rcar-s4-"
        "nightly completed (2026-02-03T01:42:17Z): a later build has pushed to the same tag; "
        "publish that build instead\n"
    )
    assert _tree(local_catalog) == before


def test_prebuilt_multi_arch_bootc_reads_its_images_labels(
    registry: LocalRegistry, local_catalog: Path
) -> None:
    labels = {"containers.bootc": "1", AIB + "distro": "autosd10", AIB + "target": "qemu"}
    index = push_index(
        registry, "vendor/bootc", "v1", labels=labels, created="2026-03-02T00:00:00Z"
    )
    assert (
        main(
            [
                "publish",
                "image",
                f"{registry.host}/vendor/bootc:v1",
                "--catalog",
                str(local_catalog),
            ]
        )
        == 0
    )
    entry = load_mapping(local_catalog / "images/autosd10-qemu/20260302.000000.yaml")
    spec = entry["spec"]
    assert (spec["bootc"], spec["distro"], spec["targets"]) == (
        True,
        "autosd10",
        [{"name": "qemu", "verified": False}],
    )
    assert spec["index"]["ref"].endswith(index.digest)
    assert sorted(v["architecture"] for v in spec["variants"]) == ["aarch64", "x86_64"]


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        (
            "sparc",
            "error: ImageBuild automotive-builds/autosd10-rcar-s4-nightly: spec.architecture: "
            "architecture 'sparc' is not known (",
        ),
        (
            "amd64",
            "error: ImageBuild automotive-builds/autosd10-rcar-s4-nightly: spec.architecture is "
            "x86_64, but REGISTRY/automotive-builds/autosd10-rcar-s4:nightly is for aarch64; "
            "publish the build that made it\n",
        ),
    ],
)
def test_the_build_architecture_is_checked_not_ignored(
    tmp_path: Path,
    registry: LocalRegistry,
    local_catalog: Path,
    capsys: pytest.CaptureFixture[str],
    architecture: str,
    message: str,
) -> None:
    _push_rcar(registry)
    edits = {"architecture: arm64": f"architecture: {architecture}"}
    build = _build_file(tmp_path, "nested-bootc-disk.yaml", registry.host, edits)
    before = _tree(local_catalog)
    assert main(["publish", "imagebuild", str(build), "--catalog", str(local_catalog)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message.replace("REGISTRY/", f"{registry.host}/"))
    assert _tree(local_catalog) == before


@pytest.mark.git
def test_a_publication_time_too_far_in_the_future_is_refused_before_anything_is_written(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    """The catalog's clock rule (one day of slack) holds for publish itself, not only for CI."""
    repo = _git_catalog(tmp_path, registry)
    image = push_image(registry, "vendor/later", "1", architecture="arm64")
    before = _tree(tmp_path / "catalog")
    later = datetime.now(UTC) + timedelta(days=30)
    settings = PublishImageSettings(
        catalog=tmp_path / "catalog",
        ref=image.ref,
        distro="autosd9",
        targets=("qemu",),
        origin="tests",
        branch="publish/later",
        author=Identity("Catalog Tester", "tester@example.com"),
        now=later,
    )
    with pytest.raises(PublishRejected) as caught:
        publish_image(settings)
    assert caught.value.exit_code == 1
    assert f"spec.publishedAt: {rfc3339(later)} is in the future; publishedAt is when" in str(
        caught.value
    )
    assert _tree(tmp_path / "catalog") == before
    assert "publish/later" not in repo.branches.local
