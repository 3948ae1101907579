"""`image-catalog validate`: check the catalog and report every problem."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_catalog_option, add_subcommand
from image_catalog.errors import ExitCode
from image_catalog.report import RENDERERS
from image_catalog.validate import validate_catalog


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "validate",
        "check the catalog's manifests",
        "Check every manifest against its schema and the catalog-wide rules: paths agree with "
        "names and versions, no duplicate versions or digests, every image host is a declared "
        "registry, every target supports its architectures. Every problem is reported as "
        "FILE:LINE:COLUMN: FIELD: MESSAGE.",
    )
    add_catalog_option(parser)
    parser.add_argument(
        "--format",
        choices=sorted(RENDERERS),
        default="text",
        help="text for people, json for programs, github for workflow annotations (default: text)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, report = validate_catalog(args.catalog)
    sys.stdout.write(RENDERERS[args.format](report))
    return int(ExitCode.OK if report.ok else ExitCode.INVALID)
