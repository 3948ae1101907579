"""Checks of the catalog as a whole: layout, cross-entry rules and the registry allow-list.

Schema checks happen while loading (`loader.py`); this module adds what one file cannot know alone.
Every problem is collected; nothing stops at the first one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from image_catalog.catalog.facts import (
    check_entries,
    entry_facts,
    entry_problems,
    link_problems,
    path_problems,
)
from image_catalog.catalog.loader import Catalog, Loaded, load_catalog
from image_catalog.catalog.problems import Problem, locate_all, sort_key
from image_catalog.errors import CatalogError, ExitCode
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.model import CatalogImage, Registry

if TYPE_CHECKING:
    from image_catalog.catalog.review import ChangeSet


@dataclass
class ValidationReport:
    """What `validate` found; the CLI turns it into text, JSON or annotations."""

    catalog: str
    images: int = 0
    registries: int = 0
    files: int = 0
    problems: list[Problem] = field(default_factory=list)
    online: bool = False
    unchecked: list[str] = field(default_factory=list)
    changes: ChangeSet | None = None  # what the change under review did, when there was a base

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> ExitCode:
        """Invalid when anything is wrong; unavailable when some entries could not be checked."""
        if not self.ok:
            return ExitCode.INVALID
        return ExitCode.UNAVAILABLE if self.unchecked else ExitCode.OK


def validate_catalog(root: Path) -> tuple[Catalog, ValidationReport]:
    """Load and check the catalog offline; positions are filled in for every problem."""
    catalog = load_catalog(root)
    problems = list(catalog.problems)
    problems += check_vocabulary(catalog)
    problems += check_registries(catalog.registries)
    problems += check_images(catalog)
    report = finish(catalog, problems)
    return catalog, report


class InvalidCatalog(CatalogError):
    """The catalog has problems, and the command works only on a valid catalog."""

    MAX_SHOWN = 20

    def __init__(self, report: ValidationReport, refusing: str) -> None:
        self.report = report
        shown = [f"  {p}" for p in report.errors[: self.MAX_SHOWN]]
        more = len(report.errors) - len(shown)
        if more:
            shown.append(f"  ... and {more} more (image-catalog validate lists them all)")
        noun = "problem" if len(report.errors) == 1 else "problems"
        super().__init__(
            f"refusing to {refusing}: the catalog in {report.catalog} has {len(report.errors)} "
            f"{noun}; "
            "fix them first:\n" + "\n".join(shown)
        )


def valid_catalog(root: Path, refusing: str) -> Catalog:
    """The catalog loaded and checked offline; an `InvalidCatalog` when it has problems, which
    says that the command refuses to `refusing` (e.g. "build the index")."""
    catalog, report = validate_catalog(root)
    if not report.ok:
        raise InvalidCatalog(report, refusing)
    return catalog


def finish(catalog: Catalog, problems: list[Problem]) -> ValidationReport:
    locate_all(problems)
    problems.sort(key=sort_key)
    return ValidationReport(
        catalog=str(catalog.root),
        images=len(catalog.images),
        registries=len(catalog.registries),
        files=catalog.files_read,
        problems=problems,
    )


def add_online(report: ValidationReport, problems: list[Problem], unchecked: list[str]) -> None:
    """Merge what the registries said (`online.check_online`) into an offline report."""
    locate_all(problems)
    report.problems = sorted([*report.problems, *problems], key=sort_key)
    report.online = True
    report.unchecked = list(unchecked)


def check_vocabulary(catalog: Catalog) -> list[Problem]:
    loaded = catalog.vocabulary_file
    if loaded is None or catalog.vocabulary is None:
        return []
    doc = loaded.model
    shown, source = loaded.file, loaded.source
    problems: list[Problem] = []
    for section in ("architectures", "distros"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(doc.spec, section)):
            for j, name in enumerate([item.name, *item.aliases]):
                if name in seen:
                    path: FieldPath = ("spec", section, i)
                    path += ("name",) if j == 0 else ("aliases", j - 1)
                    problems.append(
                        Problem(
                            shown, f"{name!r} is named twice", path, code="duplicate", source=source
                        )
                    )
                seen.add(name)
    seen_targets: set[str] = set()
    for i, target in enumerate(doc.spec.targets):
        if target.name in seen_targets:
            problems.append(
                Problem(
                    shown,
                    f"target {target.name!r} is named twice",
                    ("spec", "targets", i, "name"),
                    code="duplicate",
                    source=source,
                )
            )
        seen_targets.add(target.name)
        for j, arch in enumerate(target.architectures):
            if catalog.vocabulary.architecture(arch) is None:
                problems.append(
                    Problem(
                        shown,
                        f"'{arch}' is not a known architecture "
                        f"({catalog.vocabulary.describe_architectures()})",
                        ("spec", "targets", i, "architectures", j),
                        code="unknown_architecture",
                        source=source,
                    )
                )
    return problems


def check_registries(registries: list[Loaded[Registry]]) -> list[Problem]:
    problems: list[Problem] = []
    hosts: dict[str, str] = {}
    for loaded in registries:
        registry = loaded.model
        stem = os.path.basename(loaded.file).removesuffix(".yaml")
        if registry.metadata.name != stem:
            problems.append(
                loaded_problem(
                    loaded,
                    f"{registry.metadata.name!r} does not match the file name {stem!r}",
                    ("metadata", "name"),
                    "path",
                )
            )
        # Host names compare without case, as DNS does: QUAY.IO is quay.io.
        other = hosts.get(registry.spec.host.lower())
        if other is not None:
            problems.append(
                loaded_problem(
                    loaded,
                    f"host {registry.spec.host!r} is already declared in {other}",
                    ("spec", "host"),
                    "duplicate",
                )
            )
        hosts.setdefault(registry.spec.host.lower(), loaded.file)
    return problems


def loaded_problem(
    loaded: Loaded[CatalogImage] | Loaded[Registry],
    message: str,
    path: FieldPath,
    code: str,
) -> Problem:
    return Problem(loaded.file, message, path, code=code, source=loaded.source)


def check_images(catalog: Catalog) -> list[Problem]:
    """The problems of the valid entries, alone and compared with each other (`facts.py`)."""
    entries = [
        (loaded.file, entry_facts(loaded, (), catalog.vocabulary)) for loaded in catalog.images
    ]
    hosts = {r.model.spec.host for r in catalog.registries}
    return check_entries(entries, hosts, catalog.ids_on_disk())


def check_path(loaded: Loaded[CatalogImage]) -> list[Problem]:
    return path_problems(loaded)


def check_entry(
    catalog: Catalog, loaded: Loaded[CatalogImage], hosts: set[str], known: set[str]
) -> list[Problem]:
    """One entry's own problems and its references, without comparing it with other entries."""
    facts = entry_facts(loaded, (), catalog.vocabulary)
    links = link_problems(loaded.file, facts, hosts, known, loaded.source)
    return entry_problems(loaded, catalog.vocabulary) + links
