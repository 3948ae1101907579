"""`image-catalog publish`: write the manifest of a new image version, ready for a pull request."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from image_catalog.catalog.git import Identity
from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.validate import valid_catalog
from image_catalog.cli.common import add_catalog_option, add_subcommand
from image_catalog.cli.reporters import FORMAT_HELP, FORMATS, PublishReporter
from image_catalog.commands.publish import (
    Options,
    Prebuilt,
    PublishResult,
    publish_image,
    publish_imagebuild,
)
from image_catalog.errors import ExitCode, UsageError
from image_catalog.manifest.load import (
    MAX_FILE_BYTES,
    LoadError,
    decode_text,
    load_mapping,
    parse_mapping,
)
from image_catalog.publish.imagebuild import parse_imagebuild
from image_catalog.registry.client import RegistryClient


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "publish",
        "write the manifest of a new image version",
        "Resolve the image's references to digests through the registry, build the manifest, run "
        "the checks CI runs, and write catalog/images/NAME/VERSION.yaml. The same digests "
        "published again are a no-op; the same version with other digests is refused. Nothing "
        "is written when anything fails.",
    )
    kinds = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    build = add_subcommand(
        kinds,
        "imagebuild",
        "publish a Completed ImageBuild",
        "Publish what a Completed ImageBuild pushed (its bootc container and/or its disk "
        "artifact). FILE is the output of 'kubectl get imagebuild NAME -o yaml' (or -o json); "
        "'-' reads it from standard input. The version defaults to the completion time "
        "(YYYYMMDD.HHMMSS, UTC), so every nightly build of a fixed tag becomes a new version.",
    )
    build.add_argument("file", metavar="FILE|-", help="the ImageBuild resource, or - for stdin")
    _common(build)
    build.set_defaults(run=run_imagebuild)
    image = add_subcommand(
        kinds,
        "image",
        "publish a prebuilt image from a declared registry",
        "Publish a prebuilt image or disk artifact by reference (HOST/REPO:TAG or @sha256:...). "
        "What the flags leave out is read from the image's AIB annotations or labels.",
    )
    image.add_argument("ref", metavar="REF", help="the image reference, in a declared registry")
    image.add_argument("--distro", help="the AIB distro (default: from annotations)")
    image.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="T",
        help="a board it is for; repeat for several (default: from annotations)",
    )
    image.add_argument(
        "--arch", help="the architecture (of a single-arch artifact, or one platform of an index)"
    )
    image.add_argument("--origin", help="where it came from (default: the reference)")
    _common(image)
    image.set_defaults(run=run_image)
    parser.set_defaults(run=lambda _: parser.error("choose imagebuild or image"))


def _common(parser: argparse.ArgumentParser) -> None:
    add_catalog_option(parser)
    parser.add_argument("--name", help="the image name (default: DISTRO-TARGET)")
    parser.add_argument("--version", help="the version (default: from the build or image time)")
    parser.add_argument("--display-name", help="a human title (default: DISTRO for TARGET)")
    parser.add_argument("--description", help="a longer description")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        dest="tags",
        metavar="TAG",
        help="a curation tag such as production or nightly; repeatable",
    )
    parser.add_argument(
        "--verified", action="store_true", help="mark the targets as tested on the board"
    )
    parser.add_argument(
        "--branch",
        help="create this git branch from HEAD and commit the manifest on it, then print a pull "
        "request description (nothing is pushed)",
    )
    parser.add_argument("--author", metavar="'NAME <EMAIL>'", help="commit identity")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the manifest that would be written"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help=FORMAT_HELP)


def _options(args: argparse.Namespace) -> Options:
    return Options(
        name=args.name,
        version=args.version,
        display_name=args.display_name,
        description=args.description,
        tags=tuple(args.tags),
        verified=args.verified,
        branch=args.branch,
        author=Identity.parse(args.author) if args.author else None,
        dry_run=args.dry_run,
    )


def run_imagebuild(args: argparse.Namespace) -> int:
    if args.file == "-":
        where = "<stdin>"
        # Read no more than a catalog file may hold (plus one byte, so too much is refused).
        data = parse_mapping(decode_text(sys.stdin.buffer.read(MAX_FILE_BYTES + 1), where), where)
    else:
        where = args.file
        try:
            # The file named on the command line may be a link (the catalog's files may not);
            # what it leads to must still be a regular file of bounded size.
            data = load_mapping(Path(args.file).resolve(), where)
        except LoadError as exc:
            if not Path(args.file).exists():
                raise UsageError(f"{args.file}: no such file") from exc
            raise
    build = parse_imagebuild(data, where)
    catalog = valid_catalog(args.catalog, "publish")
    with _client(catalog) as client:
        result = publish_imagebuild(catalog, build, client, _options(args))
    return _report(args, result)


def run_image(args: argparse.Namespace) -> int:
    prebuilt = Prebuilt(
        distro=args.distro,
        targets=tuple(args.target),
        architecture=args.arch,
        origin=args.origin,
    )
    catalog = valid_catalog(args.catalog, "publish")
    with _client(catalog) as client:
        result = publish_image(catalog, args.ref, prebuilt, client, _options(args))
    return _report(args, result)


def _client(catalog: Catalog) -> RegistryClient:
    return RegistryClient([r.model for r in catalog.registries])


def _report(args: argparse.Namespace, result: PublishResult) -> int:
    PublishReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
