"""What the catalog-wide checks need to know of one image file, and those checks.

Checking one file (parsing, its schema, the rules that need only the file and the vocabulary) gives
its `EntryFacts`: the problems found in it and the few values other entries are compared with
(its id, digests, registry hosts, successor). Facts are plain data, so they can be kept between
runs (`cache.py`) and reused while the file's content is the same; the checks across entries
(duplicate ids and digests, ids that differ only by case, undeclared registries, dangling
supersededBy) run over the facts of the whole catalog every time.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import msgspec

from image_catalog.catalog.loader import Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.catalog.rules import (
    PUBLISHED_AT,
    published_in_future,
    rfc3339,
    supersede_cycles,
    time_order,
)
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary


class Finding(msgspec.Struct, frozen=True, array_like=True):
    """A problem of one file, without the file's name (which a rename changes)."""

    message: str
    path: FieldPath
    code: str
    severity: Literal["error", "warning"]
    line: int | None
    column: int | None
    located: bool  # True when the line comes from the field path, looked up in the file later

    @classmethod
    def of(cls, problem: Problem) -> Finding:
        return cls(
            problem.message,
            tuple(problem.path),
            problem.code,
            problem.severity,
            problem.line,
            problem.column,
            problem.source is not None,
        )

    def problem(self, shown: str, source: Path) -> Problem:
        return Problem(
            shown,
            self.message,
            self.path,
            self.line,
            self.column,
            code=self.code,
            severity=self.severity,
            source=source if self.located else None,
        )


class EntryFacts(msgspec.Struct, frozen=True, array_like=True):
    """One image file's problems, and the values the catalog-wide checks compare."""

    findings: tuple[Finding, ...]
    id: str | None = None  # NAME@VERSION when the file is a valid entry
    digests: tuple[tuple[FieldPath, str], ...] = ()
    hosts: tuple[tuple[FieldPath, str], ...] = ()
    superseded_by: str | None = None
    published_at: str | None = None  # RFC 3339, for the clock rule, which is never cached


def entry_facts(
    loaded: Loaded[CatalogImage] | None, problems: Iterable[Problem], vocabulary: Vocabulary | None
) -> EntryFacts:
    """The facts of a file from what loading it gave: its entry (None if invalid) and problems."""
    found = list(problems)
    if loaded is None:
        return EntryFacts(tuple(Finding.of(p) for p in found))
    found += path_problems(loaded)
    found += entry_problems(loaded, vocabulary)
    model = loaded.model
    manifests = model.manifests()
    return EntryFacts(
        findings=tuple(Finding.of(p) for p in found) if found else (),
        id=model.id,
        digests=tuple((path, manifest.digest) for path, manifest in manifests),
        hosts=tuple((path, manifest.host) for path, manifest in manifests),
        superseded_by=model.spec.lifecycle.superseded_by,
        published_at=rfc3339(model.spec.published_at),
    )


def check_entries(
    entries: Sequence[tuple[str, EntryFacts]], hosts: set[str], on_disk: set[str]
) -> list[Problem]:
    """Every problem of the image files: their own, and those found by comparing them.

    `entries` are (path as shown, facts) in catalog order; `hosts` the declared registries;
    `on_disk` the NAME@VERSION of every image file, valid or not, so that an entry which failed
    to load does not make its successors' supersededBy dangle.
    """
    problems: list[Problem] = []
    ids: dict[str, str] = {}
    folded: dict[str, str] = {}  # NAME@VERSION in lower case: the first id spelled so
    digests: dict[str, str] = {}
    known = {facts.id for _, facts in entries if facts.id is not None} | on_disk
    for shown, facts in entries:
        if facts.findings:
            problems.extend(finding.problem(shown, Path(shown)) for finding in facts.findings)
        if facts.id is None:
            continue
        problems.extend(link_problems(shown, facts, hosts, known))
        if facts.id in ids:
            message = f"{facts.id} is already published in {ids[facts.id]}"
            problems.append(
                Problem(shown, message, ("metadata",), code="duplicate", source=Path(shown))
            )
        ids.setdefault(facts.id, shown)
        twin = case_twin(shown, facts.id, folded)
        if twin is not None:
            problems.append(twin)
        for path, digest in facts.digests:
            other = digests.get(digest)
            if other is not None:
                where = "twice in this entry" if other == shown else f"already in {other}"
                problems.append(
                    Problem(
                        shown,
                        f"digest {digest} is published {where}",
                        (*path, "ref"),
                        code="duplicate_digest",
                        source=Path(shown),
                    )
                )
            digests.setdefault(digest, shown)
    valid = [(shown, facts) for shown, facts in entries if facts.id is not None]
    problems += supersede_cycles([(shown, str(f.id), f.superseded_by) for shown, f in valid])
    problems += published_in_future([(shown, f.published_at) for shown, f in valid])
    return problems


def case_twin(shown: str, entry_id: str, folded: dict[str, str]) -> Problem | None:
    """A problem when `entry_id` differs from an id seen before only by case; records it otherwise.

    The site publishes a file per name and per version: on a case-insensitive file system (macOS,
    Windows, a checkout there) `1.0a` and `1.0A` are one file, so one would overwrite the other.
    """
    first = folded.setdefault(entry_id.lower(), entry_id)
    if first == entry_id:
        return None
    name = entry_id.partition("@")[0]
    other_name, _, other_version = first.partition("@")
    field, other = ("version", other_version) if name == other_name else ("name", other_name)
    return Problem(
        shown,
        f"differs from {other} only by case (they collide on case-insensitive file systems)",
        ("metadata", field),
        code="duplicate",
        source=Path(shown),
    )


def link_problems(
    shown: str, facts: EntryFacts, hosts: set[str], known: set[str], source: Path | None = None
) -> list[Problem]:
    """An entry's references to the rest of the catalog: its registries and its successor.

    `source` is the file the lines are found in (default: the file as shown, which is the catalog
    folder joined with the relative path).
    """
    problems: list[Problem] = []
    for path, host in facts.hosts:
        if host not in hosts:
            problems.append(
                Problem(
                    shown,
                    f"host {host!r} is not a declared registry (declare it in registries/)",
                    (*path, "ref"),
                    code="undeclared_registry",
                    source=source or Path(shown),  # made only when needed: this runs per entry
                )
            )
    successor = facts.superseded_by
    if successor is not None and successor != facts.id and successor not in known:
        problems.append(
            Problem(
                shown,
                f"{successor!r} is not in the catalog",
                ("spec", "lifecycle", "supersededBy"),
                code="lifecycle",
                source=source or Path(shown),
            )
        )
    return problems


def _problem(loaded: Loaded[CatalogImage], message: str, path: FieldPath, code: str) -> Problem:
    return Problem(loaded.file, message, path, code=code, source=loaded.source)


def path_problems(loaded: Loaded[CatalogImage]) -> list[Problem]:
    folder, file = os.path.split(loaded.file)
    name, version = os.path.basename(folder), file.removesuffix(".yaml")
    meta = loaded.model.metadata
    problems = []
    if meta.name != name:
        problems.append(
            _problem(
                loaded,
                f"{meta.name!r} does not match the folder name {name!r} (images/NAME/VERSION.yaml)",
                ("metadata", "name"),
                "path",
            )
        )
    if meta.version != version:
        problems.append(
            _problem(
                loaded,
                f"{meta.version!r} does not match the file name {version!r} "
                "(images/NAME/VERSION.yaml)",
                ("metadata", "version"),
                "path",
            )
        )
    return problems


def entry_problems(loaded: Loaded[CatalogImage], vocabulary: Vocabulary | None) -> list[Problem]:
    """The rules one entry can be checked by alone (with the vocabulary)."""
    spec = loaded.model.spec
    problems: list[Problem] = []

    def add(message: str, path: FieldPath, code: str) -> None:
        problems.append(_problem(loaded, message, path, code))

    targets = [t.name for t in spec.targets]
    architectures = [v.architecture for v in spec.variants]
    for field_name, values, suffix in (
        ("targets", targets, ("name",)),
        ("variants", architectures, ("architecture",)),
        ("tags", spec.tags, ()),
    ):
        if len(set(values)) == len(values):
            continue  # the common case: nothing listed twice
        for value, count in Counter(values).items():
            if count > 1:
                index = len(values) - 1 - values[::-1].index(value)
                add(
                    f"{value!r} is listed {count} times",
                    ("spec", field_name, index, *suffix),
                    "duplicate",
                )
    if vocabulary is not None:
        for i, target in enumerate(targets):
            for architecture in architectures:
                if not vocabulary.supports(target, architecture):
                    allowed = ", ".join(sorted(vocabulary.target_architectures[target]))
                    add(
                        f"target {target!r} is not supported on architecture "
                        f"{architecture!r} (AIB builds it for: {allowed})",
                        ("spec", "targets", i, "name"),
                        "target_architecture",
                    )
    if spec.index is not None:
        for i, variant in enumerate(spec.variants):
            if variant.container is None:
                add(
                    "an entry with an image index needs a container image in every variant",
                    ("spec", "variants", i),
                    "index_variant",
                )
    early = time_order(loaded.model)
    if early is not None:
        add(early, PUBLISHED_AT, "time")
    if spec.lifecycle.superseded_by == loaded.model.id:
        add("an entry cannot supersede itself", ("spec", "lifecycle", "supersededBy"), "lifecycle")
    return problems
