"""`image-catalog handoff unpack`: the arguments of `commands.handoff` in, the files copied out."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_catalog_option, add_format_option, add_subcommand
from image_catalog.cli.file_reports import HandoffReporter
from image_catalog.commands.handoff import HandoffSettings, handoff
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "handoff",
        "take in the catalog files another workflow uploaded",
        "Copy an artifact's catalog/ files (the artifact's zip as GitHub serves it, or a folder) "
        "over the catalog, refusing the whole artifact when anything in it is not a plain "
        "catalog file within the size bounds: an absolute or '..' name, a symlink, a device, a "
        "file outside catalog/, too many or too large files.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    unpack_parser = actions.add_parser("unpack", help="copy the artifact's files over the catalog")
    HandoffSettings.register_argparse_arguments(unpack_parser)
    add_catalog_option(unpack_parser)
    add_format_option(unpack_parser, "json")
    unpack_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = handoff(HandoffSettings.from_argparse(args))
    HandoffReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
