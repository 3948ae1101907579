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
        "Take in what another workflow handed over as an artifact, refusing the whole artifact "
        "when anything in it is not a plain catalog file within the size bounds.",
        examples=["image-catalog handoff unpack catalog-artifact.zip"],
        exits=["wrong"],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    unpack_parser = add_subcommand(
        actions,
        "unpack",
        "copy the artifact's catalog files over the catalog",
        "Copy an artifact's catalog/ files (the artifact's zip as GitHub serves it, or a folder) "
        "over the catalog and print each file copied, refusing the whole artifact when anything "
        "in it is not a plain catalog file within the size bounds: an absolute or '..' name, a "
        "symlink, a device, a file outside catalog/, too many or too large files. Nothing is "
        "copied then.",
        examples=[
            "image-catalog handoff unpack catalog-artifact.zip",
            "image-catalog handoff unpack downloaded/ --catalog catalog",
        ],
        exits=["wrong"],
    )
    HandoffSettings.register_argparse_arguments(unpack_parser)
    add_catalog_option(unpack_parser)
    add_format_option(unpack_parser, "json")
    unpack_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = handoff(HandoffSettings.from_argparse(args))
    HandoffReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
