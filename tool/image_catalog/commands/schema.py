"""The whole of `schema` as one call: write the JSON Schemas of the catalog's file kinds, or check
that the committed ones match the models.

`schema(SchemaSettings(...))` returns what it found or wrote; a stale schema under `check` is a
`CatalogError` that says how to bring it up to date.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from image_catalog.errors import CatalogError
from image_catalog.manifest.schema import render_all, stale_files, write_schemas


@dataclass(frozen=True, kw_only=True)
class SchemaSettings:
    """Where the schemas live, and whether to check them instead of writing them."""

    directory: Path = Path("schemas")
    check: bool = False

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dir",
            type=Path,
            default=Path("schemas"),
            help="where the schemas live (default: schemas)",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="write nothing; fail when a committed schema differs from the models",
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> SchemaSettings:
        return cls(directory=args.dir, check=args.check)


@dataclass(frozen=True)
class SchemaResult:
    """How many schemas the models give, and which files were written (none under `check`)."""

    directory: Path
    total: int
    checked: bool
    written: list[str] = field(default_factory=list)


def schema(settings: SchemaSettings) -> SchemaResult:
    """Write the stale schemas, or (with `check`) refuse when any is stale."""
    rendered = render_all()
    if settings.check:
        stale = stale_files(settings.directory, rendered)
        if stale:
            raise CatalogError(
                f"{settings.directory}: stale schemas: {', '.join(stale)}; run 'image-catalog "
                "schema' and commit the result"
            )
        return SchemaResult(settings.directory, len(rendered), checked=True)
    written = write_schemas(settings.directory, rendered)
    return SchemaResult(settings.directory, len(rendered), checked=False, written=written)
