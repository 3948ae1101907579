"""A file git is told not to look at (assume-unchanged, skip-worktree) is never taken as what HEAD
holds: an edit to it is validated, by `validate` and by `index build`, however its cache and git's
index see it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from image_catalog.catalog.gitindex import flagged_paths
from image_catalog.catalog.incremental import check_catalog
from image_catalog.cli import main
from support.git import GitWork

ACRN = "images/autosd10-acrn/1.2.0.yaml"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _clone_with_flagged_edit(git_catalog: GitWork, tmp_path: Path, flag: str) -> Path:
    """A copy of the work tree with its cache (every file status new, so git is asked), in which
    ACRN is marked with `flag` and then edited to be invalid."""
    check_catalog(git_catalog.root / "catalog")  # the cache, with every file's blob id
    copy = tmp_path / "clone"
    shutil.copytree(git_catalog.root, copy)
    _git(copy, "update-index", flag, f"catalog/{ACRN}")
    entry = copy / "catalog" / ACRN
    entry.write_text(entry.read_text().replace("architecture: amd64", "architecture: arm"))
    return copy / "catalog"


@pytest.mark.git
@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_an_edit_to_a_file_git_does_not_look_at_is_validated(
    git_catalog: GitWork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    from image_catalog.catalog import incremental

    monkeypatch.setattr(incremental, "ASK_GIT_FROM", 1)  # as with a large fresh clone
    catalog = _clone_with_flagged_edit(git_catalog, tmp_path, flag)
    assert flagged_paths(catalog.parent / ".git" / "index") == {f"catalog/{ACRN}"}
    report, stats = check_catalog(catalog)
    assert stats.checked == 1
    assert [p.code for p in report.errors] == ["unknown_architecture"]
    assert main(["validate", "--catalog", str(catalog)]) == 1
    assert f"{ACRN}" in capsys.readouterr().out
    # The build's cache of rendered entries goes by the same ids.
    site = tmp_path / "site"
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(site)]) == 1
    assert not site.exists()


@pytest.mark.git
def test_the_index_flags_are_read_in_every_index_version(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "deep/er/d"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "update-index", "--assume-unchanged", "a", "deep/er/d")
    _git(tmp_path, "update-index", "--skip-worktree", "c")
    for version in ("2", "3", "4"):
        _git(tmp_path, "update-index", "--index-version", version)
        assert flagged_paths(tmp_path / ".git" / "index") == {"a", "c", "deep/er/d"}
    assert flagged_paths(tmp_path / "no-index") == set()
    (tmp_path / "bad-index").write_bytes(b"DIRC\0\0\0\x09\0\0\0\1")
    assert flagged_paths(tmp_path / "bad-index") is None  # not read: nothing taken on its word
