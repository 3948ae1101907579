"""What validating a catalog found, and the refusal of a command that needs a valid catalog.

Problems are collected into one report, positioned and sorted the same way whichever way the
catalog was checked (with or without the cache of checks), so that every reporter shows the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.problems import Problem, locate_all, sort_key
from image_catalog.errors import CatalogError, ExitCode

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
    hints: list[str] = field(default_factory=list)  # what to do next, after the summary

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


def finish(catalog: Catalog, problems: list[Problem]) -> ValidationReport:
    """The report of `problems`, each positioned in its file and all in reading order."""
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
