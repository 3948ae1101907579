"""`query` and `show` as calls: read a published index, locally or over HTTP, and return the answer.

`query(QuerySettings(...))` returns a `QueryResult`, `show(ShowSettings(...))` a `ShowResult`;
the command line builds the same settings from its arguments and only renders the results.
Warnings (a stale cached copy) come back in the results, never printed.

This module is on the reader's side: it imports only `reader/`, `site/` and the foundation, so a
query starts fast and loads nothing of the catalog's authoring side (import-linter checks it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from image_catalog.errors import UsageError
from image_catalog.reader.client import (
    CACHE_ENV,
    DEFAULT_MAX_AGE,
    INDEX_ENV,
    TRUST_ENV,
    IndexClient,
    Query,
    QueryResult,
    ShowResult,
)
from image_catalog.reader.limits import DEFAULT_DEADLINE, DEFAULT_MAX_INDEX_BYTES, MAX_INDEX_ENV

_INDEX_HELP = (
    f"the index: a folder or an http(s) URL (default: ${INDEX_ENV} or ./site); URLs are cached "
    f"in ${CACHE_ENV}, else $XDG_CACHE_HOME/image-catalog or ~/.cache/image-catalog"
)
_TRUST_HELP = (
    f"an OpenSSH allowed_signers file (default: ${TRUST_ENV}): refuse an index that is not signed "
    "by one of its keys, any file that does not match the signed SHA256SUMS, and an older signed "
    "index than one already seen (without it nothing is verified)"
)
_ALLOW_EXPIRED_HELP = (
    "with a trust file, read a signed index that has expired (or states no expiry) anyway, with "
    "a warning: to look into a stale or replayed site, never to use it"
)
_MAX_AGE_HELP = (
    "over HTTP, use a cached file the server confirmed less than S seconds ago without asking "
    "the server again (default 0: every file read is revalidated with a conditional request, "
    "which downloads nothing when the file is unchanged; a program using IndexClient "
    f"revalidates after {DEFAULT_MAX_AGE:g} s by default)"
)


_DEADLINE_HELP = (
    "over HTTP, the most seconds one request may take in all, however slowly the server sends "
    f"(default {DEFAULT_DEADLINE:g}); past it the server counts as unreachable (exit 4)"
)
_MAX_INDEX_HELP = (
    "the most bytes index.json and the files cut from it (views, image and version documents) "
    f"may hold, as sent and as decoded (default: ${MAX_INDEX_ENV}, else "
    f"{DEFAULT_MAX_INDEX_BYTES // (1 << 20)} MiB); a larger file is refused (exit 1)"
)


def _bytes(text: str) -> int:
    if not text.isdigit() or not text.isascii() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes (more than 0)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """How the index is read, which both commands take after their own options."""
    parser.add_argument("--trust", metavar="FILE", help=_TRUST_HELP)
    parser.add_argument("--allow-expired", action="store_true", help=_ALLOW_EXPIRED_HELP)
    parser.add_argument("--max-age", type=_seconds, default=0.0, metavar="S", help=_MAX_AGE_HELP)
    parser.add_argument(
        "--deadline", type=_seconds, default=DEFAULT_DEADLINE, metavar="S", help=_DEADLINE_HELP
    )
    parser.add_argument("--max-index-bytes", type=_bytes, metavar="N", help=_MAX_INDEX_HELP)


def _client(
    index: str | Path | None,
    trust: str | Path | None,
    max_age: float,
    deadline: float,
    max_index_bytes: int | None,
    allow_expired: bool,
) -> IndexClient:
    return IndexClient(
        index,
        trust=trust,
        max_age=max_age,
        deadline=deadline,
        max_index=max_index_bytes,
        allow_expired=allow_expired,
    )


@dataclass(frozen=True, kw_only=True)
class QuerySettings:
    """Which index to read, how, and the filters; `from_argparse` builds it from `query`'s
    arguments. Every filter is optional; they combine with AND."""

    index: str | Path | None = None  # default: $IMAGE_CATALOG_INDEX, else ./site
    architecture: str | None = None
    distro: str | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    all_versions: bool = False
    include_deprecated: bool = False
    available: bool = False
    schedule: str | None = None
    trust: str | Path | None = None  # default: $IMAGE_CATALOG_TRUST, else nothing is verified
    allow_expired: bool = False  # with a trust file: read an expired signed index, with a warning
    max_age: float = 0.0  # seconds a copy the server confirmed is used without asking again
    deadline: float = DEFAULT_DEADLINE  # seconds one request over HTTP may take in all
    max_index_bytes: int | None = None  # default: $IMAGE_CATALOG_MAX_INDEX_BYTES, else 256 MiB

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--index", metavar="URL|DIR", help=_INDEX_HELP)
        parser.add_argument(
            "--arch", dest="architecture", metavar="A", help="architecture or alias"
        )
        parser.add_argument("--distro", metavar="D", help="distro or alias")
        parser.add_argument("--target", metavar="T", help="target board")
        parser.add_argument(
            "--tag",
            dest="tags",
            action="append",
            default=[],
            metavar="TAG",
            help="repeat: all must match",
        )
        parser.add_argument(
            "--all-versions", action="store_true", help="every matching version, newest first"
        )
        parser.add_argument(
            "--include-deprecated", action="store_true", help="do not skip deprecated versions"
        )
        parser.add_argument(
            "--available",
            action="store_true",
            help="only versions the last health check found available in their registry (an "
            "image's newest available version without --all-versions)",
        )
        parser.add_argument(
            "--schedule",
            metavar="S",
            help="only builds of the ScheduledImageBuild S (its tag schedule-S): each image's "
            "latest build of S without --all-versions",
        )
        _add_reading_arguments(parser)

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> QuerySettings:
        return cls(
            index=args.index,
            architecture=args.architecture,
            distro=args.distro,
            target=args.target,
            tags=tuple(args.tags),
            all_versions=args.all_versions,
            include_deprecated=args.include_deprecated,
            available=args.available,
            schedule=args.schedule,
            trust=args.trust,
            allow_expired=args.allow_expired,
            max_age=args.max_age,
            deadline=args.deadline,
            max_index_bytes=args.max_index_bytes,
        )


def query(settings: QuerySettings) -> QueryResult:
    """The images of the index that match the settings' filters (see `IndexClient.query`)."""
    wanted = Query(
        architecture=settings.architecture,
        distro=settings.distro,
        target=settings.target,
        tags=settings.tags,
        all_versions=settings.all_versions,
        include_deprecated=settings.include_deprecated,
        available=settings.available,
        schedule=settings.schedule,
    )
    client = _client(
        settings.index,
        settings.trust,
        settings.max_age,
        settings.deadline,
        settings.max_index_bytes,
        settings.allow_expired,
    )
    return client.query(wanted)


@dataclass(frozen=True, kw_only=True)
class ShowSettings:
    """Which image version to show (its latest without `version`), from which index and how;
    `from_argparse` builds it from `show`'s NAME[@VERSION] and options."""

    name: str
    version: str | None = None
    index: str | Path | None = None  # default: $IMAGE_CATALOG_INDEX, else ./site
    trust: str | Path | None = None  # default: $IMAGE_CATALOG_TRUST, else nothing is verified
    allow_expired: bool = False  # with a trust file: read an expired signed index, with a warning
    max_age: float = 0.0  # seconds a copy the server confirmed is used without asking again
    deadline: float = DEFAULT_DEADLINE  # seconds one request over HTTP may take in all
    max_index_bytes: int | None = None  # default: $IMAGE_CATALOG_MAX_INDEX_BYTES, else 256 MiB

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("image", metavar="NAME[@VERSION]")
        parser.add_argument("--index", metavar="URL|DIR", help=_INDEX_HELP)
        _add_reading_arguments(parser)

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> ShowSettings:
        name, at, version = args.image.partition("@")
        if at and not version:
            raise UsageError(f"{args.image!r}: give NAME or NAME@VERSION")
        return cls(
            name=name,
            version=version or None,
            index=args.index,
            trust=args.trust,
            allow_expired=args.allow_expired,
            max_age=args.max_age,
            deadline=args.deadline,
            max_index_bytes=args.max_index_bytes,
        )


def show(settings: ShowSettings) -> ShowResult:
    """One image version in full, with the image's versions (see `IndexClient.show`)."""
    client = _client(
        settings.index,
        settings.trust,
        settings.max_age,
        settings.deadline,
        settings.max_index_bytes,
        settings.allow_expired,
    )
    return client.show(settings.name, settings.version)
