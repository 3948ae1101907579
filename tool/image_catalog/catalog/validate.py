"""The validated catalog, as the commands that need one get it.

There is one validation pipeline, `incremental.py`: every command (validate, publish, export,
check, index build) goes through it, so a check is written once and the cache of checks serves
them all. A command that needs the entries' models gets them here: those of files the checks had
to read are kept, the others are read once the checks are done. The report is the same with or
without the cache.
"""

from __future__ import annotations

from pathlib import Path

from image_catalog.catalog.facts import entry_facts, entry_problems, link_problems, path_problems
from image_catalog.catalog.incremental import check_keeping_entries, with_entries
from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.catalog.report import InvalidCatalog, ValidationReport, add_online
from image_catalog.manifest.model import CatalogImage

__all__ = [
    "InvalidCatalog",
    "ValidationReport",
    "add_online",
    "check_entry",
    "check_path",
    "valid_catalog",
    "validate_catalog",
]


def validate_catalog(root: Path, *, use_cache: bool = True) -> tuple[Catalog, ValidationReport]:
    """The catalog checked offline, with the model of every valid entry, and its report;
    positions are filled in for every problem."""
    checked = check_keeping_entries(root, use_cache=use_cache)
    return with_entries(checked), checked.report


def valid_catalog(root: Path, refusing: str, *, use_cache: bool = True) -> Catalog:
    """The catalog checked offline, with the model of every entry; an `InvalidCatalog` when it
    has problems, which says that the command refuses to `refusing` (e.g. "build the index").

    An invalid catalog is refused before any entry is read for its model.
    """
    checked = check_keeping_entries(root, use_cache=use_cache)
    if not checked.report.ok:
        raise InvalidCatalog(checked.report, refusing)
    return with_entries(checked)


def check_path(loaded: Loaded[CatalogImage]) -> list[Problem]:
    """An entry's name and version compared with where its file is."""
    return path_problems(loaded)


def check_entry(
    catalog: Catalog, loaded: Loaded[CatalogImage], hosts: set[str], known: set[str]
) -> list[Problem]:
    """One entry's own problems and its references, without comparing it with other entries."""
    facts = entry_facts(loaded, (), catalog.vocabulary)
    links = link_problems(loaded.file, facts, hosts, known, loaded.source)
    return entry_problems(loaded, catalog.vocabulary) + links
