"""The facts of one image file and the checks across entries, on small inputs made in memory."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from image_catalog.catalog.facts import (
    EntryFacts,
    Finding,
    check_entries,
    entry_facts,
    entry_problems,
    link_problems,
    path_problems,
)
from image_catalog.catalog.loader import Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.manifest.load import load_mapping, parse_mapping
from image_catalog.manifest.model import CatalogImage, VocabularyFile
from image_catalog.manifest.vocabulary import Vocabulary
from support.catalogs import fake_digest, image_document
from support.paths import SHIPPED_CATALOG

QUAY = "quay.io"


@functools.cache
def vocabulary() -> Vocabulary:
    data = load_mapping(SHIPPED_CATALOG / "vocabulary.yaml")
    return VocabularyFile.model_validate(data).lookups()


def loaded(
    name: str = "demo", version: str = "1.0", *, file: str | None = None, **edits: object
) -> Loaded[CatalogImage]:
    """The entry `name` at `version` as if read from `file` (default: where it belongs)."""
    shown = file or f"catalog/images/{name}/{version}.yaml"
    data = parse_mapping(image_document(name, version, fake_digest(f"{name}{version}")), shown)
    data["spec"].update(edits)
    model = CatalogImage.model_validate(data, context={"vocabulary": vocabulary()})
    return Loaded(model, shown, Path(shown), data)


def facts(
    id: str | None = "demo@1.0",
    digests: tuple[str, ...] = (),
    hosts: tuple[str, ...] = (QUAY,),
    superseded_by: str | None = None,
) -> EntryFacts:
    at = ("spec", "variants", 0, "container")
    return EntryFacts(
        findings=(),
        id=id,
        digests=tuple((at, d) for d in digests),
        hosts=tuple((at, h) for h in hosts),
        superseded_by=superseded_by,
        published_at="2026-01-15T09:30:00Z",
    )


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


# --- one file ------------------------------------------------------------------------------------


def test_a_valid_entry_has_no_findings_and_the_values_compared() -> None:
    entry = loaded()
    found = entry_facts(entry, (), vocabulary())
    digest = fake_digest("demo1.0")
    assert found.findings == ()
    assert found.id == "demo@1.0"
    assert found.digests == ((("spec", "variants", 0, "container"), digest),)
    assert found.hosts == ((("spec", "variants", 0, "container"), QUAY),)
    assert (found.superseded_by, found.published_at) == (None, "2026-01-15T09:30:00Z")


def test_an_invalid_file_has_only_its_problems() -> None:
    problem = Problem("catalog/images/x/1.yaml", "broken", ("kind",), code="kind")
    found = entry_facts(None, [problem], vocabulary())
    assert found.id is None
    assert [f.message for f in found.findings] == ["broken"]


def test_a_finding_keeps_a_problem_apart_from_its_file() -> None:
    problem = Problem("a.yaml", "bad", ("spec", "tags", 0), 3, 5, code="duplicate")
    finding = Finding.of(problem)
    assert finding.located is False
    again = finding.problem("b.yaml", Path("b.yaml"))
    assert (again.file, again.message, again.path, again.line, again.column) == (
        "b.yaml",
        "bad",
        ("spec", "tags", 0),
        3,
        5,
    )
    assert again.source is None


def test_path_problems_compare_name_and_version_with_where_the_file_is() -> None:
    assert path_problems(loaded()) == []
    moved = loaded(file="catalog/images/other/2.0.yaml")
    assert [p.path for p in path_problems(moved)] == [("metadata", "name"), ("metadata", "version")]


def test_entry_problems_find_what_is_listed_twice_and_a_self_successor() -> None:
    entry = loaded(tags=["a", "b", "a"], lifecycle={"supersededBy": "demo@1.0"})
    problems = entry_problems(entry, vocabulary())
    assert codes(problems) == ["duplicate", "lifecycle"]
    assert problems[0].path == ("spec", "tags", 2)


# --- references and the checks across entries ------------------------------------------------


def test_link_problems_name_undeclared_hosts_and_unknown_successors() -> None:
    found = facts(hosts=("example.com",), superseded_by="demo@2.0")
    problems = link_problems("a.yaml", found, {QUAY}, {"demo@1.0"})
    assert codes(problems) == ["undeclared_registry", "lifecycle"]
    assert link_problems("a.yaml", facts(superseded_by="demo@2.0"), {QUAY}, {"demo@2.0"}) == []


def test_check_entries_finds_duplicate_ids_and_digests() -> None:
    digest = fake_digest("one")
    entries = [
        ("a.yaml", facts(digests=(digest,))),
        ("b.yaml", facts(digests=(digest,))),
    ]
    problems = check_entries(entries, {QUAY}, set())
    assert codes(problems) == ["duplicate", "duplicate_digest"]
    assert all(p.file == "b.yaml" for p in problems)
    assert "already published in a.yaml" in problems[0].message


def test_check_entries_finds_versions_that_differ_only_by_case() -> None:
    entries = [
        ("catalog/images/demo/1.0A.yaml", facts(id="demo@1.0A")),
        ("catalog/images/demo/1.0a.yaml", facts(id="demo@1.0a")),
        ("catalog/images/demo/1.0b.yaml", facts(id="demo@1.0b")),
        ("catalog/images/other/1.0a.yaml", facts(id="other@1.0a")),
    ]
    problems = check_entries(entries, {QUAY}, set())
    assert [(p.file, p.path, p.code, p.message) for p in problems] == [
        (
            "catalog/images/demo/1.0a.yaml",
            ("metadata", "version"),
            "duplicate",
            "differs from 1.0A only by case (they collide on case-insensitive file systems)",
        )
    ]
    assert check_entries(entries[1:], {QUAY}, set()) == []


def test_a_name_that_differs_only_by_case_is_found_too() -> None:
    entries = [("a.yaml", facts(id="demo@1.0")), ("b.yaml", facts(id="Demo@1.0"))]
    (problem,) = check_entries(entries, {QUAY}, set())
    assert (problem.file, problem.path) == ("b.yaml", ("metadata", "name"))
    assert problem.message.startswith("differs from demo only by case")


def test_check_entries_knows_invalid_files_from_their_path() -> None:
    entries = [("a.yaml", facts(superseded_by="demo@2.0")), ("b.yaml", facts(id=None))]
    assert check_entries(entries, {QUAY}, {"demo@2.0"}) == []
    assert codes(check_entries(entries, {QUAY}, set())) == ["lifecycle"]


def test_check_entries_reports_the_findings_of_each_file_under_its_name() -> None:
    finding = Finding("bad", ("kind",), "kind", "error", None, None, located=False)
    entries = [("x.yaml", EntryFacts(findings=(finding,)))]
    problems = check_entries(entries, {QUAY}, set())
    assert [(p.file, p.code) for p in problems] == [("x.yaml", "kind")]


@pytest.mark.parametrize("successor", ["demo@1.0", None])
def test_an_entry_is_never_its_own_dangling_successor(successor: str | None) -> None:
    assert link_problems("a.yaml", facts(superseded_by=successor), {QUAY}, set()) == []
