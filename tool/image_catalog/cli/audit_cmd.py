"""`image-catalog audit`: the publication history of the catalog's entries, from git."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime

from image_catalog.catalog.audit import audit_history
from image_catalog.cli.common import add_catalog_option, add_subcommand
from image_catalog.cli.reporters import FORMAT_HELP, FORMATS, AuditReporter
from image_catalog.errors import ExitCode, UsageError

_ENTRY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[0-9A-Za-z][0-9A-Za-z._-]*)?$")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "audit",
        "show who published, changed, deprecated or removed what, and when",
        "Read the publication history from git: for each entry, every commit on the first-parent "
        "line of REF that added, changed (digest, lifecycle or other fields), deprecated, "
        "undeprecated or removed it, with its author and committer, the commit and the pull "
        "request number from the merge or squash commit's title. Oldest first.",
    )
    parser.add_argument(
        "entry", nargs="?", metavar="NAME[@VERSION]", help="only this image, or this version"
    )
    parser.add_argument(
        "--since",
        type=_since,
        metavar="DATE",
        help="only the changes that landed at or after DATE (YYYY-MM-DD or an ISO 8601 time; "
        "UTC unless it names a zone)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help=FORMAT_HELP)
    parser.add_argument(
        "--json",
        action="store_const",
        const="json",
        dest="format",
        help="one JSON document, for programs (the same as --format json)",
    )
    parser.add_argument(
        "--ref", default="HEAD", help="the branch or commit whose history to read (default: HEAD)"
    )
    add_catalog_option(parser)
    parser.set_defaults(run=run)


def _since(text: str) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    if args.entry is not None and not _ENTRY.fullmatch(args.entry):
        raise UsageError(f"{args.entry!r} is not NAME or NAME@VERSION")
    log = audit_history(args.catalog, args.ref, entry=args.entry, since=args.since)
    AuditReporter(sys.stdout, sys.stderr).report(args.format, log)
    return int(ExitCode.OK)
