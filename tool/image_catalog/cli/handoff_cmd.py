"""`image-catalog handoff unpack`: a pull request's catalog files, taken in as untrusted data."""

from __future__ import annotations

import argparse
from pathlib import Path

from image_catalog.catalog.handoff import unpack
from image_catalog.cli.common import add_catalog_option, add_subcommand
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
    unpack_parser.add_argument(
        "artifact", type=Path, metavar="ARTIFACT", help="the artifact: a .zip file or a folder"
    )
    add_catalog_option(unpack_parser)
    unpack_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    copied = unpack(args.artifact, args.catalog)
    for relative in copied:
        print(f"{args.catalog}/{relative}")
    return int(ExitCode.OK)
