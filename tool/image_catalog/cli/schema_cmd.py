"""`image-catalog schema`: the arguments of `commands.schema` in, what it did out."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_format_option, add_subcommand
from image_catalog.cli.file_reports import SchemaReporter
from image_catalog.commands.schema import SchemaSettings, schema
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "schema",
        "write the JSON Schemas of the catalog's file kinds",
        "Generate the JSON Schema of each file kind (CatalogImage, Registry, Vocabulary) from the "
        "models into schemas/, where editors find them through each file's first line. With "
        "--check, nothing is written: the files must be up to date already.",
        examples=["image-catalog schema", "image-catalog schema --check"],
        exits=["stale"],
    )
    SchemaSettings.register_argparse_arguments(parser)
    add_format_option(parser, "json")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = schema(SchemaSettings.from_argparse(args))
    SchemaReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
