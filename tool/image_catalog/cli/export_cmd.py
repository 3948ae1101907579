"""`image-catalog export crs`: the catalog as the operator's CatalogImage resources."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from image_catalog.cli.common import add_catalog_option, add_subcommand
from image_catalog.errors import ExitCode
from image_catalog.export.crs import ExportOptions, export_catalog, write_export


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "export",
        "write the catalog in another system's format",
        "Write the catalog in the format of another system.",
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
    )
    add_catalog_option(crs)
    crs.add_argument("--out", type=Path, required=True, metavar="DIR", help="the export folder")
    crs.add_argument(
        "--namespace", metavar="NS", help="the namespace of every resource (default: none set)"
    )
    crs.add_argument(
        "--include-deprecated",
        action="store_true",
        help="also export deprecated versions (labelled ...deprecated=true)",
    )
    crs.add_argument(
        "--public-hosts",
        action="store_true",
        help="point registryUrl at each registry's publicHost instead of its host",
    )
    crs.add_argument(
        "--skip-unexpressible",
        action="store_true",
        help="write the entries that can be expressed and list the others as warnings",
    )
    crs.set_defaults(run=run_crs)


def run_crs(args: argparse.Namespace) -> int:
    options = ExportOptions(
        namespace=args.namespace,
        include_deprecated=args.include_deprecated,
        public_hosts=args.public_hosts,
    )
    export = export_catalog(args.catalog, options)
    write_export(export, args.out, skip_unexpressible=args.skip_unexpressible)
    for warning in export.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in export.skipped:
        print(f"warning: not exported: {problem}", file=sys.stderr)
    left_out = (
        f"; {export.deprecated_left_out} deprecated "
        f"{'version' if export.deprecated_left_out == 1 else 'versions'} left out"
        if export.deprecated_left_out
        else ""
    )
    print(
        f"{args.out}: {len(export.resources)} CatalogImage resources, listed in "
        f"kustomization.yaml{left_out}"
    )
    return int(ExitCode.OK)
