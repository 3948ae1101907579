"""`image-catalog validate`: check the catalog and report every problem."""

from __future__ import annotations

import argparse
import os
import sys

from image_catalog.cli.common import (
    Progress,
    add_catalog_option,
    add_format_option,
    add_subcommand,
)
from image_catalog.cli.reporters import ValidateReporter
from image_catalog.commands.validate import ValidateSettings, validate


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "validate",
        "check the catalog's manifests",
        "Check every manifest against its schema and the catalog-wide rules: paths agree with "
        "names and versions, no duplicate versions or digests, every image host is a declared "
        "registry, every target supports its architectures. Every problem is reported as "
        "FILE:LINE:COLUMN: FIELD: MESSAGE. With --online, every pinned digest is checked "
        "against its registry too.",
        examples=[
            "image-catalog validate --catalog catalog",
            "image-catalog validate --online --base origin/main --format github",
        ],
        exits=["valid", "invalid", "registry"],
    )
    add_catalog_option(parser)
    add_format_option(parser, "json", "github")
    ValidateSettings.register_argparse_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress.on_terminal("checking online")
    try:
        report = validate(ValidateSettings.from_argparse(args, progress))
    finally:
        if progress is not None and args.online:
            progress.clear()
    reporter = ValidateReporter(sys.stdout, sys.stderr, os.environ.get("GITHUB_STEP_SUMMARY"))
    reporter.report(args.format, report)
    return int(report.exit_code)
