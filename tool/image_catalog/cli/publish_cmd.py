"""`image-catalog publish`: write the manifest of a new image version, ready for a pull request."""

from __future__ import annotations

import argparse
import sys

from image_catalog.cli.common import add_catalog_option, add_format_option, add_subcommand
from image_catalog.cli.reporters import PublishReporter, refusals_annotated
from image_catalog.commands.publish import (
    PublishBuildSettings,
    PublishImageSettings,
    PublishResult,
    publish_image,
    publish_imagebuild,
)
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "publish",
        "write the manifest of a new image version",
        "Resolve the image's references to digests through the registry, build the manifest, run "
        "the checks CI runs, and write catalog/images/NAME/VERSION.yaml. The same digests "
        "published again are a no-op; the same version with other digests is refused. Nothing "
        "is written when anything fails.",
        examples=[
            "image-catalog publish imagebuild imagebuild.yaml --branch publish/nightly",
            "image-catalog publish image quay.io/example/autosd10-qemu:1.0 --target qemu",
        ],
        exits=["published", "refused", "registry"],
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
        examples=[
            "image-catalog publish imagebuild imagebuild.yaml --tag nightly "
            "--branch publish/nightly",
            "image-catalog publish imagebuild - --dry-run --format json",
        ],
        exits=["published", "refused", "registry"],
    )
    add_catalog_option(build)
    PublishBuildSettings.register_argparse_arguments(build)
    add_format_option(build, "json", "github")
    build.set_defaults(run=run_imagebuild)
    image = add_subcommand(
        kinds,
        "image",
        "publish a prebuilt image from a declared registry",
        "Publish a prebuilt image or disk artifact by reference (HOST/REPO:TAG or @sha256:...). "
        "What the flags leave out is read from the image's AIB annotations or labels.",
        examples=[
            "image-catalog publish image quay.io/example/autosd10-qemu:1.0 --target qemu "
            "--branch publish/autosd10-qemu",
            "image-catalog publish image quay.io/example/autosd10-qemu:1.0 --dry-run",
        ],
        exits=["published", "refused", "registry"],
    )
    add_catalog_option(image)
    PublishImageSettings.register_argparse_arguments(image)
    add_format_option(image, "json", "github")
    image.set_defaults(run=run_image)
    parser.set_defaults(run=lambda _: parser.error("choose imagebuild or image"))


def run_imagebuild(args: argparse.Namespace) -> int:
    with refusals_annotated(args.format, sys.stdout):
        result = publish_imagebuild(PublishBuildSettings.from_argparse(args))
    return _report(args, result)


def run_image(args: argparse.Namespace) -> int:
    with refusals_annotated(args.format, sys.stdout):
        result = publish_image(PublishImageSettings.from_argparse(args))
    return _report(args, result)


def _report(args: argparse.Namespace, result: PublishResult) -> int:
    PublishReporter(sys.stdout, sys.stderr).report(args.format, result)
    return int(ExitCode.OK)
