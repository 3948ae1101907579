"""`validate --base`: published versions are immutable, checked against a real git history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from image_catalog.catalog.loader import load_catalog
from image_catalog.catalog.review import aspects, compare_with_base, field_differences
from image_catalog.cli import main
from support.catalogs import fake_digest, image_document
from support.entries import write_document
from support.git import GitWork
from support.paths import SHIPPED_CATALOG

QEMU = "images/autosd9-qemu-bootc/2026.01.15.yaml"
QEMU_AARCH64 = "d4332469d7342f3df93955e433428aaf02bed46699b991f749b9e2c7d015a419"
IMMUTABLE = (
    "changed since main: a published version is immutable except spec.lifecycle and "
    "metadata.labels; publish a new version instead"
)


def validate(
    catalog: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, list[str]]:
    code = main(["validate", "--catalog", str(catalog), "--base", "main", *extra])
    return code, capsys.readouterr().out.splitlines()


def add_entry(work: GitWork, name: str, version: str, seed: str) -> Path:
    return write_document(
        work.root / "catalog", name, version, image_document(name, version, fake_digest(seed))
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.git
def test_two_branches_adding_one_digest_pass_alone_and_the_second_fails_after_the_first(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    git_catalog.branch("add-first")
    add_entry(git_catalog, "first", "1.0", seed="one image")
    git_catalog.commit("Publish first@1.0", author="Bob")
    git_catalog.branch("add-second", at="main")
    add_entry(git_catalog, "second", "1.0", seed="one image")
    git_catalog.commit("Publish second@1.0", author="Carol")

    for branch, entry in (("add-first", "first@1.0"), ("add-second", "second@1.0")):
        git_catalog.checkout(branch)
        code, out = validate(catalog, capsys)
        assert code == 0, out
        assert out[1] == f"  added: {entry}"

    git_catalog.checkout("main")
    git_catalog.merge("add-first", "Merge pull request #1 from org/add-first", author="Dana")
    # What a pull request's CI checks out: its branch merged into the current base.
    git_catalog.branch("pull/2/merge", at="main")
    git_catalog.merge("add-second", "Merge add-second into main", author="GitHub")
    code, out = validate(catalog, capsys)
    second = catalog / "images/second/1.0.yaml"
    assert code == 1
    assert out[1:] == [
        "  added: second@1.0",
        f"{second}:{line_of(second, 'ref:')}:9: spec.variants[0].container.ref: digest "
        f"{fake_digest('one image')} is published already in {catalog}/images/first/1.0.yaml",
        f"{catalog}: 1 problem in 1 file (10 images, 2 registries, offline checks)",
    ]


@pytest.mark.git
def test_an_edited_digest_is_refused(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    entry = catalog / QEMU
    edit(entry, QEMU_AARCH64, fake_digest("rebuilt").removeprefix("sha256:"))
    code, out = validate(catalog, capsys)
    assert code == 1
    assert out == [
        f"changes since main ({git_catalog.repo.head.target!s:.12}): 0 added, 0 deprecated, "
        "1 changed, 0 removed",
        "  changed: autosd9-qemu-bootc@2026.01.15",
        f"{entry}:38:9: spec.variants[1].container.ref: the digest changed since main (it was "
        f"sha256:{QEMU_AARCH64}): a published version is immutable; publish a new version instead",
        f"{catalog}: 1 problem in 1 file (8 images, 2 registries, offline checks)",
    ]


@pytest.mark.git
def test_other_edits_are_refused_field_by_field(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    entry = catalog / QEMU
    edit(entry, "name: aws\n", "name: pc\n")
    edit(entry, "    - production\n", "")
    code, out = validate(catalog, capsys)
    assert code == 1
    assert out[2:4] == [
        f"{entry}:15:7: spec.targets[1].name: {IMMUTABLE}",
        f"{entry}:21:3: spec.tags: {IMMUTABLE}",
    ]


@pytest.mark.git
def test_a_removal_is_refused_unless_allowed(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    (catalog / "images/autosd10-acrn/1.2.0.yaml").unlink()
    code, out = validate(catalog, capsys)
    assert code == 1
    assert out[1:] == [
        "  removed: autosd10-acrn@1.2.0",
        f"{catalog}/images/autosd10-acrn/1.2.0.yaml: autosd10-acrn@1.2.0 is published in main "
        "and was removed: published versions stay in the catalog; deprecate it "
        "(spec.lifecycle.deprecated) instead, or pass --allow-removal",
        f"{catalog}: 1 problem in 1 file (7 images, 2 registries, offline checks)",
    ]
    code, out = validate(catalog, capsys, "--allow-removal")
    assert code == 0
    assert out[0].endswith(": 0 added, 0 deprecated, 0 changed, 1 removed")


@pytest.mark.git
def test_lifecycle_and_labels_may_change(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    deprecated, labelled = catalog / QEMU, catalog / "images/autosd10-acrn/1.2.0.yaml"
    deprecated.write_text(
        deprecated.read_text()
        + "  lifecycle:\n"
        + "    deprecated: {reason: CVE-2026-0001 in the kernel, date: 2026-02-01}\n"
        + "    supersededBy: autosd10-acrn@1.2.0\n"
    )
    edit(labelled, "  version: 1.2.0\n", "  version: 1.2.0\n  labels: {team: acrn}\n")
    code, out = validate(catalog, capsys)
    assert code == 0, out
    assert out[1:3] == [
        "  deprecated: autosd9-qemu-bootc@2026.01.15",
        "  changed: autosd10-acrn@1.2.0",
    ]


@pytest.mark.git
def test_formatting_and_alias_spellings_are_not_edits(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    entry = catalog / QEMU
    edit(entry, "architecture: x86_64", "architecture: amd64  # the same architecture")
    edit(entry, "size: 743", "size:     743")
    code, out = validate(catalog, capsys)
    assert code == 0, out
    assert out[0].endswith(": 0 added, 0 deprecated, 0 changed, 0 removed")


@pytest.mark.git
def test_the_summary_goes_to_the_step_summary_with_github_format(
    git_catalog: GitWork,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = git_catalog.root / "catalog"
    add_entry(git_catalog, "fresh", "2.0", seed="fresh")
    step_summary = tmp_path / "summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    code, out = validate(catalog, capsys, "--format", "github")
    assert code == 0
    commit = str(git_catalog.repo.head.target)[:12]
    assert out[0] == f"changes since main ({commit}): 1 added, 0 deprecated, 0 changed, 0 removed"
    assert step_summary.read_text() == (
        "earlier step\n"
        f"### Catalog changes since `main` ({commit})\n"
        "\n"
        "| change | entries |\n"
        "| --- | --- |\n"
        "| added (1) | `fresh@2.0` |\n"
        "| deprecated (0) | none |\n"
        "| changed (0) | none |\n"
        "| removed (0) | none |\n"
        "\n"
        f"{catalog}: the catalog is valid (9 images, 2 registries, offline checks)\n"
    )


@pytest.mark.git
def test_json_format_carries_the_changes(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    add_entry(git_catalog, "fresh", "2.0", seed="fresh")
    assert main(["validate", "--catalog", str(catalog), "--base", "main", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True
    assert document["changes"] == {
        "base": "main",
        "commit": str(git_catalog.repo.head.target),
        "added": ["fresh@2.0"],
        "deprecated": [],
        "changed": [],
        "removed": [],
    }


@pytest.mark.git
def test_only_added_and_changed_entries_are_touched(git_catalog: GitWork) -> None:
    catalog = git_catalog.root / "catalog"
    add_entry(git_catalog, "fresh", "2.0", seed="fresh")
    edit(catalog / QEMU, "  version: 2026.01.15\n", "  version: 2026.01.15\n  labels: {a: b}\n")
    (catalog / "images/autosd10-acrn/1.2.0.yaml").unlink()
    changes = compare_with_base(load_catalog(catalog), "main", allow_removal=True)
    assert changes.touched == {"fresh@2.0", "autosd9-qemu-bootc@2026.01.15"}
    assert changes.removed == ["autosd10-acrn@1.2.0"]
    assert changes.problems == []


@pytest.mark.git
def test_a_catalog_at_the_top_of_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = GitWork(tmp_path / "top")
    shutil.copytree(SHIPPED_CATALOG, work.root, dirs_exist_ok=True)
    work.commit("Initial catalog")
    (work.root / "images/autosd10-acrn/1.2.0.yaml").unlink()
    assert main(["validate", "--catalog", str(work.root), "--base", "main"]) == 1
    assert "autosd10-acrn@1.2.0 is published in main and was removed" in capsys.readouterr().out


@pytest.mark.git
def test_a_base_that_no_longer_validates_is_compared_as_written(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    entry = catalog / QEMU
    edit(entry, "  bootc: true\n", "  bootc: true\n  retired: field\n")
    git_catalog.commit("An entry that today's schema refuses")
    git_catalog.branch("fix")
    edit(entry, "  retired: field\n", "")
    edit(entry, "name: aws\n", "name: pc\n")
    code, out = validate(catalog, capsys)
    assert code == 1
    assert out[2:4] == [
        f"{entry}:7:1: spec.retired: {IMMUTABLE}",  # gone: located at its parent
        f"{entry}:15:7: spec.targets[1].name: {IMMUTABLE}",
    ]


@pytest.mark.git
def test_an_unknown_base_is_a_usage_error(
    git_catalog: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = git_catalog.root / "catalog"
    assert main(["validate", "--catalog", str(catalog), "--base", "origin/main"]) == 2
    assert capsys.readouterr().err == (
        f"error: 'origin/main' is not a commit, branch or tag in {git_catalog.root}; fetch it "
        "first (git fetch origin; in GitHub Actions, actions/checkout with fetch-depth: 0)\n"
    )


def test_base_outside_a_repository_and_removal_without_base_are_usage_errors(
    catalog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--catalog", str(catalog_dir), "--base", "main"]) == 2
    assert capsys.readouterr().err == f"error: {catalog_dir}: not inside a git repository\n"
    assert main(["validate", "--catalog", str(catalog_dir), "--allow-removal"]) == 2
    assert "--allow-removal only means something with --base REF" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "paths", "kinds"),
    [
        ({"a": 1}, {"a": 1}, [], []),
        ({"a": [1, 2]}, {"a": [1, 3]}, [("a", 1)], ["other"]),
        ({"a": [1, 2]}, {"a": [1]}, [("a",)], ["other"]),
        ({"spec": {}}, {"spec": {"lifecycle": {}}}, [("spec", "lifecycle")], ["lifecycle"]),
        (
            {"spec": {"variants": [{"container": {"ref": "h/r@sha256:1"}}]}},
            {"spec": {"variants": [{"container": {"ref": "h/r@sha256:2"}}]}},
            [("spec", "variants", 0, "container", "ref")],
            ["digest"],
        ),
        (
            {"spec": {"variants": []}},
            {"spec": {"variants": [{"disk": {"ref": "h/r@sha256:2"}}]}},
            [("spec", "variants")],
            ["digest", "other"],
        ),
    ],
)
def test_field_differences_and_aspects(
    old: dict[str, object],
    new: dict[str, object],
    paths: list[tuple[object, ...]],
    kinds: list[str],
) -> None:
    found = field_differences(old, new)
    assert found == paths
    assert aspects(old, new, found) == kinds
