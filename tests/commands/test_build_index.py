"""`index build` names only a commit that holds what was built: a site built from uncommitted
changes to the catalog's files says so, or (under CI, and whenever it is signed) is refused; real
git repositories in temp folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from image_catalog.cli import main
from image_catalog.reader.client import IndexClient
from support.catalogs import registry_manifest
from support.git import GitWork
from support.keys import make_key
from support.paths import SHIPPED_CATALOG

pytestmark = pytest.mark.git


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitWork:
    """The shipped catalog, committed; CI is not set."""
    monkeypatch.delenv("CI", raising=False)
    shutil.copytree(SHIPPED_CATALOG, tmp_path / "repo/catalog")
    (tmp_path / "repo/README.md").write_text("catalog\n")
    made = GitWork(tmp_path / "repo")
    made.commit("Start the catalog")
    return made


def _build(work: GitWork, *extra: str) -> int:
    catalog, out = work.root / "catalog", work.root.parent / "site"
    return main(["index", "build", "--catalog", str(catalog), "--out", str(out), *extra])


def _site(work: GitWork) -> tuple[dict[str, object], str]:
    site = work.root.parent / "site"
    catalog = json.loads((site / "catalog.json").read_text())["catalog"]
    return catalog, (site / "SHA256SUMS").read_text().partition("\n")[0]


def _edit_an_entry(work: GitWork) -> None:
    entry = next((work.root / "catalog/images").glob("*/*.yaml"))
    entry.write_text(entry.read_text().replace("displayName: ", "displayName: Edited ", 1))


def test_a_clean_tree_names_its_commit(work: GitWork, capsys: pytest.CaptureFixture[str]) -> None:
    # Files the build does not read do not count, in the catalog folder or elsewhere.
    (work.root / "README.md").write_text("edited\n")
    (work.root / "catalog/notes.txt").write_text("junk\n")
    (work.root / "scratch.yaml").write_text("a: 1\n")
    head = str(work.repo.head.target)
    assert _build(work) == 0
    catalog, header = _site(work)
    assert catalog == {"commit": head}
    assert header.startswith(f"# image-catalog index: catalog commit {head}, committed ")
    assert f"({head[:12]}):" in capsys.readouterr().out


def test_uncommitted_changes_are_marked(work: GitWork, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_an_entry(work)
    head = str(work.repo.head.target)
    assert _build(work) == 0
    catalog, header = _site(work)
    assert catalog == {"commit": head, "dirty": True}
    assert header.startswith(
        f"# image-catalog index: catalog commit {head} plus uncommitted changes, committed "
    )
    index = json.loads((work.root.parent / "site/index.json").read_text())
    assert index["catalog"] == {"commit": head, "dirty": True}
    assert f"({head[:12]} plus uncommitted changes):" in capsys.readouterr().out
    site = IndexClient(work.root.parent / "site", cache_dir=work.root.parent / "cache").site()
    assert site.doc.catalog.dirty is True


@pytest.mark.parametrize("change", ["edit", "add", "delete"])
def test_under_ci_uncommitted_changes_are_refused(
    work: GitWork,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: str,
) -> None:
    monkeypatch.setenv("CI", "true")
    entries = sorted((work.root / "catalog/images").glob("*/*.yaml"))
    if change == "edit":
        _edit_an_entry(work)
    elif change == "add":
        extra = registry_manifest("extra", "registry.example.com", tls_verify=True)
        (work.root / "catalog/registries/extra.yaml").write_text(extra)
    else:
        entries[0].unlink()
    assert _build(work) == 1
    err = capsys.readouterr().err
    assert "/catalog: uncommitted changes to " in err
    assert "pass --allow-dirty" in err
    assert not (work.root.parent / "site").exists()

    assert _build(work, "--allow-dirty") == 0
    catalog, _ = _site(work)
    assert catalog["dirty"] is True


def test_a_signed_index_is_never_built_from_uncommitted_changes(
    work: GitWork, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_key(work.root.parent / "keys")
    _edit_an_entry(work)
    assert _build(work, "--sign-key", str(key)) == 1
    assert "the catalog has uncommitted changes; commit them first" in capsys.readouterr().err
    assert not (work.root.parent / "site").exists()
