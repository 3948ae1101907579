"""`image-catalog index build`: write the static index (the site consumers query)."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import (
    add_cache_option,
    add_catalog_option,
    add_format_option,
    add_subcommand,
)
from image_catalog.cli.file_reports import BuildReporter
from image_catalog.cli.reporters import refusals_annotated
from image_catalog.commands.build_index import BuildIndexSettings, build_index
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "index",
        "build the static JSON index",
        "Work with the static index: JSON files any web server, object store or CDN serves.",
        examples=["image-catalog index build --catalog catalog --out site"],
        exits=["unbuilt", "status"],
    )
    actions = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = add_subcommand(
        actions,
        "build",
        "validate the catalog, then write its index into a folder",
        "Validate the catalog offline (an invalid catalog is refused), then write the index: "
        "catalog.json, index.json, latest.json, views/BY/VALUE/{latest,all}.json, "
        "images/NAME.json, images/NAME/VERSION.json, schemas/ and SHA256SUMS, with a .gz beside "
        "every large file. The same catalog gives byte-identical files; the folder is replaced in "
        "one step, and a failed build leaves the previous one as it was. The replaced site is "
        "kept beside it as .NAME.previous, which the next build updates in place. Builds into "
        "one folder take turns (a lock on .NAME.lock beside it).",
        examples=[
            "image-catalog index build --catalog catalog --out site",
            "image-catalog index build --out site --status status.json --sign-key index-key",
        ],
        exits=["unbuilt", "status"],
    )
    add_catalog_option(build)
    add_cache_option(build)
    BuildIndexSettings.register_argparse_arguments(build)
    add_format_option(build, "json", "github")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    with refusals_annotated(args.format, sys.stdout):
        result = build_index(BuildIndexSettings.from_argparse(args))
    BuildReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
