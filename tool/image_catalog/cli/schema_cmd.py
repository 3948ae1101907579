"""`image-catalog schema`: write or check the JSON Schemas in schemas/."""

from __future__ import annotations

import argparse
from pathlib import Path

from image_catalog.cli.common import add_subcommand
from image_catalog.errors import CatalogError, ExitCode
from image_catalog.manifest.schema import render_all, stale_files, write_all


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "schema",
        "write the JSON Schemas of the catalog's file kinds",
        "Generate the JSON Schema of each file kind (CatalogImage, Registry, Vocabulary) from the "
        "models into schemas/, where editors find them through each file's first line.",
    )
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rendered = render_all()
    if args.check:
        stale = stale_files(args.dir, rendered)
        if stale:
            raise CatalogError(
                f"{args.dir}: stale schemas: {', '.join(stale)}; run 'image-catalog schema' "
                "and commit the result"
            )
        print(f"{args.dir}: {len(rendered)} schemas are up to date")
        return int(ExitCode.OK)
    written = write_all(args.dir, rendered)
    print(f"{args.dir}: wrote {len(written)} of {len(rendered)} schemas")
    return int(ExitCode.OK)
