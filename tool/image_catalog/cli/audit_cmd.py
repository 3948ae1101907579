"""`image-catalog audit`: the arguments of `commands.audit` in, the history rendered out."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_catalog_option, add_format_option, add_subcommand
from image_catalog.cli.reporters import AuditReporter
from image_catalog.commands.audit import AuditSettings, audit
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "audit",
        "show who published, changed, deprecated or removed what, and when",
        "Read the publication history from git: for each entry, every commit on the first-parent "
        "line of REF that added, changed (digest, lifecycle or other fields), deprecated, "
        "undeprecated or removed it, with its author and committer, the commit and the pull "
        "request number from the merge or squash commit's title. Oldest first.",
        examples=[
            "image-catalog audit --catalog catalog",
            "image-catalog audit autosd10-rpi4 --since 2026-01-01 --json",
        ],
        exits=["wrong"],
    )
    AuditSettings.register_argparse_arguments(parser)
    add_format_option(parser, "json", "github")
    add_catalog_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    log = audit(AuditSettings.from_argparse(args))
    AuditReporter(sys.stdout, sys.stderr).report(args.format, log)
    return int(ExitCode.OK)
