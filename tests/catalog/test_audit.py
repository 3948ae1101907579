"""`image-catalog audit` and `first_published`: the publication history read from real git."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from image_catalog.catalog.audit import audit_history, first_published, pull_request_number
from image_catalog.cli import main
from support.catalogs import empty_catalog, fake_digest, image_document
from support.entries import write_document
from support.git import GitWork
from support.paths import SHIPPED_CATALOG

QUAY = (SHIPPED_CATALOG / "registries/quay-automotive.yaml").read_text()


@dataclass
class History:
    """A scripted history and the ids of the commits the events must name."""

    work: GitWork
    catalog: Path
    ids: dict[str, str]


def write_entry(catalog: Path, name: str, version: str, seed: str, **extra: object) -> None:
    document = image_document(name, version, fake_digest(seed), **extra)  # type: ignore[arg-type]
    write_document(catalog, name, version, document)


@pytest.fixture
def history(tmp_path: Path) -> History:
    """Pull requests merged and squashed, direct commits, a reformat and a catalog-free commit.

    Commit times are 10:00 for the first commit, then one hour per commit in the order below.
    """
    work = GitWork(tmp_path / "repo")
    catalog = work.root / "catalog"
    empty_catalog(catalog, {"quay-automotive": QUAY})
    ids = {"init": work.commit("Initial catalog", author="Admin")}  # 11:00

    work.branch("publish-a")
    write_entry(catalog, "a", "1.0", "a1")
    ids["add a@1.0"] = work.commit("Publish a@1.0", author="Bob")  # 12:00
    write_entry(catalog, "a", "1.1", "a11")
    ids["add a@1.1"] = work.commit("Publish a@1.1", author="Bob")  # 13:00
    work.checkout("main")
    ids["pr 1"] = work.merge("publish-a", "Merge pull request #1 from org/publish-a", "Carol")

    write_entry(catalog, "a", "1.0", "a1", deprecated="superseded by 1.1")  # 15:00
    ids["pr 2"] = work.commit("Deprecate a@1.0 (#2)", author="Dave", committer="GitHub")

    work.branch("fix-a")
    write_entry(catalog, "a", "1.1", "a11-rebuilt")
    (work.root / "README.md").write_text("not the catalog\n")
    ids["edit a@1.1"] = work.commit("Rebuild a@1.1", author="Erin")  # 16:00
    work.checkout("main")
    ids["pr 3"] = work.merge("fix-a", "Merge pull request #3 from org/fix-a", "Carol")  # 17:00

    entry = catalog / "images/a/1.1.yaml"
    entry.write_text(entry.read_text().replace("size: 1612", "size:   1612  # bytes"))
    work.commit("Reformat", author="Admin")  # 18:00: no event
    (work.root / "NOTES").write_text("outside the catalog\n")
    work.commit("Notes", author="Admin")  # 19:00: no event

    (catalog / "images/a/1.0.yaml").unlink()
    write_entry(catalog, "a", "1.1", "a11-rebuilt", labels={"team": "a"})
    ids["pr 4"] = work.commit("Remove a@1.0, label a@1.1 (#4)", author="Dave")  # 20:00

    work.branch("publish-b")
    write_entry(catalog, "b", "2.0", "b2")
    ids["add b@2.0"] = work.commit("Publish b@2.0", author="Frank")  # 21:00
    work.checkout("main")
    write_entry(catalog, "a", "1.1", "a11-rebuilt", labels={"team": "a"}, deprecated="old")
    ids["deprecate a@1.1"] = work.commit("Deprecate a@1.1", author="Admin")  # 22:00
    work.checkout("publish-b")
    work.merge("main", "Merge branch 'main' into publish-b", "Frank", committer="Frank")  # 23:00
    work.checkout("main")
    ids["pr 6"] = work.merge("publish-b", "Merge pull request #6 from org/publish-b", "Carol")

    write_entry(catalog, "a", "1.1", "a11-rebuilt", labels={"team": "a"})
    ids["undeprecate a@1.1"] = work.commit("Undeprecate a@1.1 (#7)", author="Dave")  # 01:00

    work.branch("unmerged")
    write_entry(catalog, "c", "1.0", "c1")
    work.commit("Publish c@1.0, never merged", author="Gina")
    work.checkout("main")
    return History(work, catalog, ids)


def row(event: dict[str, object]) -> tuple[object, ...]:
    author = event["author"]
    merged_by = event["mergedBy"]
    assert isinstance(author, dict)
    return (
        event["time"],
        event["action"],
        event["entry"],
        tuple(event["aspects"]),  # type: ignore[arg-type]
        event["commit"],
        event["pullRequest"],
        author["name"],
        event["changeCommit"],
        merged_by["name"] if isinstance(merged_by, dict) else None,
    )


@pytest.mark.git
def test_the_audit_of_a_scripted_history_is_exact(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = history.ids
    assert main(["audit", "--json", "--catalog", str(history.catalog)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ref"] == "HEAD"
    assert document["commit"] == str(history.work.repo.head.target)
    assert document["images"] == "catalog/images"
    assert [row(e) for e in document["events"]] == [
        ("2026-01-01T14:00:00Z", "added", "a@1.0", (), ids["pr 1"], 1, "Bob",
         ids["add a@1.0"], "Carol"),
        ("2026-01-01T14:00:00Z", "added", "a@1.1", (), ids["pr 1"], 1, "Bob",
         ids["add a@1.1"], "Carol"),
        ("2026-01-01T15:00:00Z", "deprecated", "a@1.0", ("lifecycle",), ids["pr 2"], 2, "Dave",
         ids["pr 2"], None),
        ("2026-01-01T17:00:00Z", "changed", "a@1.1", ("digest",), ids["pr 3"], 3, "Erin",
         ids["edit a@1.1"], "Carol"),
        ("2026-01-01T20:00:00Z", "removed", "a@1.0", (), ids["pr 4"], 4, "Dave",
         ids["pr 4"], None),
        ("2026-01-01T20:00:00Z", "changed", "a@1.1", ("lifecycle",), ids["pr 4"], 4, "Dave",
         ids["pr 4"], None),
        ("2026-01-01T22:00:00Z", "deprecated", "a@1.1", ("lifecycle",), ids["deprecate a@1.1"],
         None, "Admin", ids["deprecate a@1.1"], None),
        ("2026-01-02T00:00:00Z", "added", "b@2.0", (), ids["pr 6"], 6, "Frank",
         ids["add b@2.0"], "Carol"),
        ("2026-01-02T01:00:00Z", "undeprecated", "a@1.1", ("lifecycle",),
         ids["undeprecate a@1.1"], 7, "Dave", ids["undeprecate a@1.1"], None),
    ]  # fmt: skip
    first = document["events"][0]
    assert first["title"] == "Merge pull request #1 from org/publish-a"
    assert first["path"] == "catalog/images/a/1.0.yaml"
    assert first["author"] == {
        "name": "Bob",
        "email": "bob@example.com",
        "time": "2026-01-01T12:00:00Z",
    }
    assert first["mergedBy"]["email"] == "carol@example.com"
    squashed = document["events"][2]
    assert squashed["committer"] == {
        "name": "GitHub",
        "email": "github@example.com",
        "time": "2026-01-01T15:00:00Z",
    }


@pytest.mark.git
def test_text_output_filters_and_since(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = history.ids
    catalog = ["--catalog", str(history.catalog)]
    assert main(["audit", "a@1.0", *catalog]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"2026-01-01T14:00:00Z  added         a@1.0  {ids['pr 1'][:12]}  #1  "
        "by Bob <bob@example.com>, merged by Carol <carol@example.com>",
        f"2026-01-01T15:00:00Z  deprecated    a@1.0 (lifecycle)  {ids['pr 2'][:12]}  #2  "
        "by Dave <dave@example.com>",
        f"2026-01-01T20:00:00Z  removed       a@1.0  {ids['pr 4'][:12]}  #4  "
        "by Dave <dave@example.com>",
    ]
    assert main(["audit", "a", "--since", "2026-01-01T21:00:00Z", "--json", *catalog]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["entry"], e["action"]) for e in events] == [
        ("a@1.1", "deprecated"),
        ("a@1.1", "undeprecated"),
    ]
    assert main(["audit", "--since", "2026-01-02", *catalog]) == 0
    assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [
        ["added", "b@2.0"],
        ["undeprecated", "a@1.1"],
    ]
    assert main(["audit", "--ref", "unmerged", "c", *catalog]) == 0
    assert "added         c@1.0" in capsys.readouterr().out


@pytest.mark.git
def test_audit_errors(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = ["--catalog", str(history.catalog)]
    assert main(["audit", "c", *catalog]) == 1
    assert capsys.readouterr().err == (
        "error: c does not appear in the history of HEAD (catalog/images)\n"
    )
    assert main(["audit", "A@1", *catalog]) == 2
    assert capsys.readouterr().err == "error: 'A@1' is not NAME or NAME@VERSION\n"
    assert main(["audit", "--ref", "nope", *catalog]) == 2
    assert "'nope' is not a commit, branch or tag" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["audit", "--since", "last tuesday", *catalog])
    assert caught.value.code == 2
    assert "'last tuesday' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


@pytest.mark.git
def test_first_published(history: History) -> None:
    ids = history.ids
    repo = history.work.root
    expected = {
        "a@1.1": (ids["pr 1"], "2026-01-01T14:00:00Z"),
        "b@2.0": (ids["pr 6"], "2026-01-02T00:00:00Z"),
    }
    assert first_published(repo, Path("catalog")) == expected
    assert first_published(repo / "catalog", history.catalog) == expected
    assert first_published(repo, Path("catalog"), ref="unmerged")["c@1.0"][1] == (
        "2026-01-02T02:00:00Z"
    )


@pytest.mark.git
def test_a_shallow_clone_is_refused(history: History, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth=2", f"file://{history.work.root}", str(clone)],
        check=True,
    )
    with pytest.raises(Exception, match="shallow clone") as caught:
        audit_history(clone / "catalog")
    assert type(caught.value).__name__ == "UsageError"
    with pytest.raises(Exception, match="fetch-depth: 0"):
        first_published(clone, Path("catalog"))


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("Merge pull request #123 from org/branch\n\nPublish x@1", 123),
        ("Publish x@1 (#45)\n\n* Publish x@1", 45),
        ("Publish x@1 (#45) and more", None),
        ("Merge branch 'main' into feature", None),
        ("Fix #12", None),
    ],
)
def test_pull_request_numbers(message: str, number: int | None) -> None:
    assert pull_request_number(message) == number


@pytest.mark.git
def test_a_catalog_at_the_top_of_the_repository(tmp_path: Path) -> None:
    work = GitWork(tmp_path / "top")
    shutil.copy(SHIPPED_CATALOG / "vocabulary.yaml", work.root)
    write_entry(work.root, "solo", "1", "solo")
    commit = work.commit("Publish solo@1 (#9)", author="Bob")
    [event] = audit_history(work.root).events
    assert (event.entry, event.path, event.pull_request) == ("solo@1", "images/solo/1.yaml", 9)
    assert first_published(work.root, Path()) == {"solo@1": (commit, "2026-01-01T11:00:00Z")}


@pytest.mark.git
def test_text_output_escapes_what_commits_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = GitWork(tmp_path / "repo")
    catalog = work.root / "catalog"
    empty_catalog(catalog, {"quay-automotive": QUAY})
    work.commit("Initial catalog", author="Admin")
    write_entry(catalog, "a", "1.0", "a1")
    work.commit("Publish a@1.0", author="Mallory\x1b[2K\rAlice\u202e")
    assert main(["audit", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    for hidden in ("\x1b", "\r", "\u202e"):
        assert hidden not in out
    assert "by Mallory\\x1b[2K\\rAlice\\u202e <mallory\\x1b[2k\\ralice\\u202e@example.com>" in out
