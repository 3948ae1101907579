"""`image-catalog index build`: write the static index (the site consumers query)."""

from __future__ import annotations

import argparse

from image_catalog.cli.common import add_cache_option, add_catalog_option, add_subcommand, warn
from image_catalog.commands.build_index import BuildIndexSettings, build_index
from image_catalog.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "index",
        "build the static JSON index",
        "Work with the static index: JSON files any web server, object store or CDN serves.",
    )
    actions = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = add_subcommand(
        actions,
        "build",
        "validate the catalog, then write its index into a folder",
        "Validate the catalog offline (an invalid catalog is refused), then write the index: "
        "catalog.json, index.json, latest.json, views/BY/VALUE/{latest,all}.json, "
        "images/NAME.json, images/NAME/VERSION.json, schemas/ and SHA256SUMS, with a .gz beside "
        "every large file. The same catalog gives byte-identical files; the folder is replaced in "
        "one step, and a failed build leaves the previous one as it was. The replaced site is "
        "kept beside it as .NAME.previous, which the next build updates in place. Builds into "
        "one folder take turns (a lock on .NAME.lock beside it).",
    )
    add_catalog_option(build)
    add_cache_option(build)
    BuildIndexSettings.register_argparse_arguments(build)
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    result = build_index(BuildIndexSettings.from_argparse(args))
    warn(result.warnings)
    commit = result.commit[:12] if result.commit else "no git commit"
    if result.dirty:
        commit += " plus uncommitted changes"
    gzipped = (
        f", {_size(result.index_gzip_size)} gzipped"
        if result.index_gzip_size
        else " (small enough to be served without a .gz)"
    )
    print(
        f"{result.out}: index of {result.versions} versions of {result.images} images "
        f"({commit}): {result.files} files, {_size(result.total_bytes)}; index.json "
        f"{_size(result.index_size)}{gzipped}"
    )
    if result.signed_by is not None:
        print(f"{result.out}: SHA256SUMS signed (SHA256SUMS.sig) by ED25519 key {result.signed_by}")
    return int(ExitCode.OK)


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"
