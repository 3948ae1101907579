"""`image-catalog export crs`: the catalog as the operator's CatalogImage resources."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_catalog_option, add_format_option, add_subcommand
from image_catalog.cli.file_reports import ExportReporter
from image_catalog.cli.reporters import problem_annotation, refusals_annotated
from image_catalog.commands.export import ExportRefused, ExportSettings, export
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "export",
        "write the catalog in another system's format",
        "Write the catalog in the format of another system.",
        examples=["image-catalog export crs --catalog catalog --out crs"],
        exits=["unexported"],
    )
    actions = parser.add_subparsers(dest="export_command", metavar="FORMAT", required=True)
    crs = add_subcommand(
        actions,
        "crs",
        "the automotive-dev-operator's CatalogImage resources, with a kustomization.yaml",
        "Validate the catalog offline, then write one CatalogImage resource "
        "(automotive.sdv.cloud.redhat.com/v1alpha1) per published version and architecture, "
        "pinned by digest: one for a multi-architecture image index, one per architecture for "
        "single images and for disk-image artifacts. A kustomization.yaml lists them, so Argo CD "
        "or Flux can sync the folder. The same catalog gives byte-identical files; the folder is "
        "replaced in one step. An entry the operator's CRD cannot express (e.g. a registry "
        "host without a dotted name) is reported with its file and reason, and nothing is "
        "written unless --skip-unexpressible.",
        examples=[
            "image-catalog export crs --catalog catalog --out crs",
            "image-catalog export crs --out crs --namespace images --skip-unexpressible",
        ],
        exits=["unexported"],
    )
    add_catalog_option(crs)
    ExportSettings.register_argparse_arguments(crs)
    add_format_option(crs, "json", "github")
    crs.set_defaults(run=run_crs)


def run_crs(args: argparse.Namespace) -> int:
    settings = ExportSettings.from_argparse(args)
    try:
        with refusals_annotated(args.format, sys.stdout):
            made = export(settings)
    except ExportRefused as exc:
        if args.format == "github":
            sys.stdout.write("".join(problem_annotation(p, "error") + "\n" for p in exc.skipped))
        raise
    ExportReporter(sys.stdout, sys.stderr, out_dir=str(settings.out)).report(args.format, made)
    return int(ExitCode.OK)
