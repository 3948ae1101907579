"""`publish --branch` commits what the entry needs to validate on the branch: a new registry
declaration, a vocabulary addition; a real registry on loopback and real git repositories."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
from image_catalog.cli import main
from support.catalogs import empty_catalog, fake_digest, image_document, registry_manifest
from support.git import GitWork
from support.oci import push_image
from support.paths import SHIPPED_CATALOG
from support.registry import LocalRegistry

pytestmark = pytest.mark.git

AUTHOR = "Build Operator <operator@example.com>"
BOARD = "    - {name: qemu, description: QEMU virtual machine}\n"
NEW_BOARD = "    - {name: newboard, architectures: [aarch64]}\n"


def _catalog_repo(root: Path) -> GitWork:
    """A repository whose committed catalog declares quay.io only."""
    quay = (SHIPPED_CATALOG / "registries/quay-automotive.yaml").read_text()
    empty_catalog(root / "catalog", {"quay-automotive": quay})
    work = GitWork(root)
    work.commit("Start the catalog")
    return work


def _publish(registry: LocalRegistry, catalog: Path, repo: str, branch: str) -> int:
    push_image(registry, repo, "1.0", architecture="arm64", created="2026-03-01T00:00:00Z")
    ref = f"{registry.host}/{repo}:1.0"
    return main(
        [
            "publish", "image", ref, "--catalog", str(catalog), "--distro", "autosd9",
            "--target", "newboard", "--branch", branch, "--author", AUTHOR,
        ]
    )  # fmt: skip


def test_the_branch_holds_the_new_registry_and_vocabulary_and_validates(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    work = _catalog_repo(tmp_path / "repo")
    catalog = tmp_path / "repo/catalog"
    (catalog / "registries/local.yaml").write_text(registry_manifest("local", registry.host))
    vocabulary = catalog / "vocabulary.yaml"
    vocabulary.write_text(vocabulary.read_text().replace(BOARD, BOARD + NEW_BOARD))
    (catalog / "registries/unused.yaml").write_text(registry_manifest("unused", "127.0.0.1:9"))

    assert _publish(registry, catalog, "branch/newboard", "publish/newboard") == 0
    out = capsys.readouterr()
    assert (
        "with the uncommitted catalog files it needs: catalog/registries/local.yaml, "
        "catalog/vocabulary.yaml\n" in out.err
    )
    assert (
        "| Also committed | `catalog/registries/local.yaml`, `catalog/vocabulary.yaml` (catalog "
        "files the manifest needs) |\n" in out.out
    )
    commit = work.repo.head.peel(pygit2.Commit)
    diff = work.repo.diff(commit.parents[0], commit)
    assert sorted(d.delta.new_file.path for d in diff) == [
        "catalog/images/autosd9-newboard/20260301.000000.yaml",
        "catalog/registries/local.yaml",
        "catalog/vocabulary.yaml",
    ]
    assert "- catalog/registries/local.yaml" in commit.message.splitlines()
    # The registry no entry uses stays uncommitted, as it was.
    assert work.repo.status() == {"catalog/registries/unused.yaml": pygit2.enums.FileStatus.WT_NEW}

    # As CI sees the pull request: a clean clone of the branch, validated against main.
    clone = pygit2.clone_repository(str(tmp_path / "repo"), str(tmp_path / "clone"))
    clone.checkout(clone.lookup_reference("refs/remotes/origin/publish/newboard"))
    capsys.readouterr()
    args = ["validate", "--catalog", str(tmp_path / "clone/catalog"), "--base", "origin/main"]
    assert main(args) == 0, capsys.readouterr()


def test_a_needed_file_with_changes_that_break_the_branch_is_refused(
    tmp_path: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    work = _catalog_repo(tmp_path / "repo")
    catalog = tmp_path / "repo/catalog"
    (catalog / "registries/local.yaml").write_text(registry_manifest("local", registry.host))
    work.commit("Declare the local registry")
    entry = catalog / "images/old-qemu/1.0.yaml"
    entry.parent.mkdir(parents=True)
    entry.write_text(image_document("old-qemu", "1.0", fake_digest("old-qemu")))
    start = work.commit("An entry on the qemu board")
    # Uncommitted: the entry is gone, and the vocabulary drops qemu as it adds newboard. The work
    # tree validates; the branch (HEAD with the new entry and this vocabulary) would not.
    entry.unlink()
    vocabulary = catalog / "vocabulary.yaml"
    vocabulary.write_text(vocabulary.read_text().replace(BOARD, NEW_BOARD))
    before = work.repo.status()

    assert _publish(registry, catalog, "branch/refused", "publish/refused") == 1
    err = capsys.readouterr().err
    assert "nothing was committed: the entry needs the uncommitted catalog/vocabulary.yaml" in err
    assert "'qemu'" in err
    assert str(work.repo.head.target) == start
    assert work.repo.branches.local.get("publish/refused") is None
    assert work.repo.status() == before
