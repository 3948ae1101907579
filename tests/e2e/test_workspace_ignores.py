"""The repository's .gitignore keeps an index build's leftovers out of git: the lock
(`.NAME.lock`) and the replaced site kept for the next build (`.NAME.previous/`) that a build
leaves beside its output folder, wherever that folder is."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from image_catalog.cli import main
from support.git import GitWork
from support.paths import REPO
from support.registry import require_tools
from support.site import add_image, new_catalog


def git(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=work, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.git
@pytest.mark.parametrize("out", ["site", "public/catalog-site"])
def test_a_build_leaves_nothing_for_git_beside_its_output(tmp_path: Path, out: str) -> None:
    require_tools("git")
    work = GitWork(tmp_path / "repo")
    shutil.copy(REPO / ".gitignore", work.root / ".gitignore")
    add_image(new_catalog(work.root / "catalog"), "board", "1", "2026-01-01T00:00:00Z")
    work.commit("The catalog", author="Admin")
    target = work.root / out
    for _ in range(2):  # the second build keeps the first site as .NAME.previous
        command = ["index", "build", "--catalog", str(work.root / "catalog"), "--out", str(target)]
        assert main(command) == 0
    lock = target.with_name(f".{target.name}.lock")
    previous = target.with_name(f".{target.name}.previous")
    assert lock.is_file()
    assert previous.is_dir()
    for path in (lock, previous, previous / "index.json"):
        relative = str(path.relative_to(work.root))
        assert git(work.root, "check-ignore", "-q", relative).returncode == 0, relative
    status = git(work.root, "status", "--porcelain", "--untracked-files=all", "--ignored=no")
    assert status.returncode == 0
    leftovers = [
        line for line in status.stdout.splitlines() if ".lock" in line or ".previous" in line
    ]
    assert leftovers == []
