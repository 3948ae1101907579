"""The documentation runs: every command in it is executed here, so the docs cannot rot.

Pages are README.md, docs/*.md and benchmarks/README.md. A fenced ```sh or ```python block is
preceded by an HTML comment line (GitHub renders nothing of it) that says what becomes of it:

    <!-- run: NAME -->          run here, by bash -eo pipefail (or python), and it must succeed
    <!-- not run: REASON -->    not run, for the reason given (a real registry, GitHub, a board)
    <!-- output: NAME -->       before a ```text block: lines that the run of NAME must print

A runnable block runs in a folder of its own that holds a git repository with a copy of the shipped
`catalog/`, `schemas/`, a site built from them (`site/`, signed), the `allowed_signers` that
verifies it, `tool/deploy-site.sh`, and a remote-tracking `origin/main` at HEAD. When the block
names the example address of a published site, a loopback server serves `site/` and its URL takes
the address's place. The reader's cache, index and trust variables are the test's own.

Usage lines (```text blocks whose lines start with `image-catalog `) are checked against the
command's --help: each option they show exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from image_catalog.cli import main
from support.docs import (
    EXAMPLE_SITE,
    PAGES,
    README_MAX_LINES,
    REQUIREMENT_ID,
    RUNNABLE,
    Block,
    all_blocks,
    doc_block,
    expected_output,
    page_blocks,
    prose,
    runnable_blocks,
)
from support.git import GitWork
from support.paths import READER_VARIABLES, REPO, SHIPPED_CATALOG
from support.registry import require_tools
from support.site import SiteServer

# --- the pages' shape ----------------------------------------------------------------------------


def test_every_command_block_is_run_or_says_why_not() -> None:
    unmarked = [
        b.where
        for b in all_blocks()
        if b.language in RUNNABLE and b.marker not in ("run", "not run")
    ]
    assert unmarked == [], "mark each block <!-- run: NAME --> or <!-- not run: REASON -->"
    names = [b.label for b in all_blocks() if b.marker == "run"]
    assert len(names) == len(set(names)), "two runnable blocks share a name"
    misplaced = [b.where for b in all_blocks() if b.marker == "run" and b.language not in RUNNABLE]
    assert misplaced == []
    outputs = [b for b in all_blocks() if b.marker == "output"]
    assert [b.where for b in outputs if b.label not in names] == []


def test_relative_links_lead_to_files() -> None:
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(page)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert broken == []


def test_the_readme_is_a_front_page_linking_every_docs_page() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", readme))
    assert {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")} <= linked
    # The set-up commands come first.
    first = [b.text for b in page_blocks(REPO / "README.md") if b.language == "sh"][:2]
    assert [t.split()[:2] for t in first] == [["bash", "tool/main.sh"], ["bash", "tool/test.sh"]]


def test_the_docs_cite_no_requirement_ids() -> None:
    cited = [
        f"{p.relative_to(REPO)}: {m}" for p in PAGES for m in REQUIREMENT_ID.findall(p.read_text())
    ]
    assert cited == []


def usage_lines() -> list[tuple[str, str]]:
    return [
        (block.where, line)
        for block in all_blocks()
        if block.language == "text"
        for line in block.text.splitlines()
        if line.startswith("image-catalog ")
    ]


@pytest.mark.parametrize(("where", "line"), usage_lines(), ids=[w for w, _ in usage_lines()])
def test_usage_lines_show_real_options(
    where: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = []
    for word in line.split()[1:]:
        if not re.fullmatch(r"[a-z]+", word):
            break
        words.append(word)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: image-catalog {' '.join(words)}")
    unknown = [o for o in re.findall(r"--[a-z][a-z-]*", line) if o not in shown]
    assert unknown == [], f"{where}: not options of `image-catalog {' '.join(words)}`"


# --- running the blocks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder each block starts from (copied first): see the module documentation."""
    require_tools("ssh-keygen")
    root = tmp_path_factory.mktemp("docs")
    key = root / "keys/index-key"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "docs", "-f", str(key)],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)  # fmt: skip
    work = GitWork(root / "work")
    shutil.copytree(SHIPPED_CATALOG, work.root / "catalog")
    shutil.copytree(REPO / "schemas", work.root / "schemas")
    (work.root / "tool").mkdir()
    shutil.copy2(REPO / "tool/deploy-site.sh", work.root / "tool")
    head = work.commit("The shipped catalog", author="Admin")
    work.repo.references.create("refs/remotes/origin/main", pygit2.Oid(hex=head))
    public = (key.parent / "index-key.pub").read_text()
    (work.root / "allowed_signers").write_text(f'catalog namespaces="image-catalog-index" {public}')
    built = main(["index", "build", "--catalog", str(work.root / "catalog"),
                  "--out", str(work.root / "site"), "--sign-key", str(key)])  # fmt: skip
    assert built == 0
    return work.root


def block_environment(tmp_path: Path) -> dict[str, str]:
    """The user's environment without the reader's variables or a proxy, with `image-catalog`
    (this checkout's) first on PATH and a cache of the test's own."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in READER_VARIABLES and "proxy" not in k.lower() and k != "IMAGE_CATALOG_DIR"
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "image-catalog"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m image_catalog "$@"\n')
    shim.chmod(0o755)
    environment["PATH"] = f"{bin_dir}:{environment.get('PATH', '')}"
    tool = str(REPO / "tool")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [tool, os.environ.get("PYTHONPATH")]))
    environment["IMAGE_CATALOG_CACHE_DIR"] = str(tmp_path / "cache")
    return environment


def run_block(block: Block, folder: Path, environment: dict[str, str]) -> str:
    """Run the block in `folder`, with a loopback server in place of the example site when it
    names one; returns what it printed (stdout, then stderr) and fails when it fails."""
    with SiteServer(folder / "site") as server:
        script = block.text.replace(EXAMPLE_SITE, server.url.rstrip("/"))
        command = (
            [sys.executable, "-c", script]
            if block.language == "python"
            else ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
        )
        done = subprocess.run(command, cwd=folder, env=environment, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
    printed = done.stdout + done.stderr
    assert done.returncode == 0, f"{block.where}: exit code {done.returncode}\n{printed}"
    return printed


@pytest.mark.git
@pytest.mark.ssh
@pytest.mark.parametrize("name", sorted(runnable_blocks()))
def test_the_block_runs(name: str, prepared: Path, tmp_path: Path) -> None:
    require_tools("curl", "jq", "sha256sum", "ssh-keygen")
    block = doc_block(name)
    folder = tmp_path / "work"
    shutil.copytree(prepared, folder, symlinks=True)
    printed = run_block(block, folder, block_environment(tmp_path))
    missing = [line for line in expected_output(name) if line not in printed.splitlines()]
    assert missing == [], f"{block.where}: it did not print these lines\n{printed}"
