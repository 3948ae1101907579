"""`image-catalog check`: the arguments of `commands.check` in, its status rendered out."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from image_catalog.cli.common import (
    Progress,
    add_catalog_option,
    add_format_option,
    add_subcommand,
    warn,
)
from image_catalog.cli.health_report import HealthReporter
from image_catalog.commands.check import CheckSettings, MergeSettings, check, merge_shards
from image_catalog.health.check import exit_code
from image_catalog.site.contract import StatusDoc

# `check` runs the check itself, and `check merge` is its one subcommand.
_USAGE = "%(prog)s [options]\n       %(prog)s merge FILE [FILE ...] --out FILE [options]"
_MERGE = "join the status files of the shards of one run"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "check",
        "check every entry against its registry now (health)",
        "Check every entry's pinned manifests against its registry, with the same checks as "
        "validate --online, and give each entry and each variant a state: available, missing "
        "(the manifest is gone), changed (it no longer matches the entry), unreachable, "
        "unauthorized, or failed (after --fail-after failed checks in a row). A tag hint that "
        "names other content now is noted, not failed. With --previous, the history carries "
        "over: since when, failures in a row, last available, availability over 24 hours. "
        "Manifests are never written and no entry is hidden.",
        examples=[
            "image-catalog check --catalog catalog --out status.json",
            "image-catalog check --previous status.json --shard 1/4 --out status-1.json",
        ],
        exits=["available", "unhealthy", "check"],
    )
    add_catalog_option(parser)
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the status (status.json) here"
    )
    add_format_option(parser, "json", "github")
    CheckSettings.register_argparse_arguments(parser)
    parser.set_defaults(run=run)
    # Not required: without a subcommand, `check` checks.
    actions = parser.add_subparsers(
        title="subcommand", dest="check_command", metavar="merge", help=_MERGE
    )
    merge = add_subcommand(
        actions,
        "merge",
        _MERGE,
        "Join the status files that `check --shard I/N` wrote into one status. Refused unless "
        "the files come from one run over one catalog (its digest computed again from the "
        "entries) and cover every entry exactly once; nothing is written then. The exit code "
        "is the joined status's, as `check` gives it.",
        examples=[
            "image-catalog check merge status-1.json status-2.json status-3.json status-4.json "
            "--out status.json",
        ],
        exits=["available", "unhealthy", "unchecked"],
        listed=False,
    )
    MergeSettings.register_argparse_arguments(merge)
    add_format_option(merge, "json", "github")
    merge.set_defaults(run=run_merge)
    parser.usage = _USAGE  # after the subparsers: merge's usage names `check merge`, not this


def run(args: argparse.Namespace) -> int:
    progress = Progress.on_terminal("checking")
    try:
        result = check(CheckSettings.from_argparse(args, progress))
    finally:
        if progress is not None:
            progress.clear()
    warn(result.warnings)
    return _report(args.format, result.status)


def run_merge(args: argparse.Namespace) -> int:
    return _report(args.format, merge_shards(MergeSettings.from_argparse(args)))


def _report(form: str, status: StatusDoc) -> int:
    reporter = HealthReporter(sys.stdout, sys.stderr, os.environ.get("GITHUB_STEP_SUMMARY"))
    reporter.report(form, status)
    return int(exit_code(status))
