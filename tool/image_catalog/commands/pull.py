"""`pull` as a call: a version's disk image for a board, from its registry to a folder, verified.

`pull(PullSettings(...), progress)` returns a `PullResult` (the folder, its pull.json document,
the bytes each file cost); the command line builds the same settings from its arguments and only
draws the progress and renders the result. See `reader.pull` for what is checked, and when.

This module is on the reader's side: it imports only `reader/`, `site/` and the foundation
(import-linter checks it), so a pull loads nothing of the catalog's authoring side.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from image_catalog.errors import UsageError
from image_catalog.reader.client import INDEX_ENV, TRUST_ENV, IndexClient
from image_catalog.reader.download import PullProgress
from image_catalog.reader.pull import PullRequest, PullResult, pull_version

__all__ = ["PullResult", "PullSettings", "Quiet", "pull"]


class Quiet:
    """A progress that reports nothing (a library caller's default)."""

    def started(self, title: str, total: int, present: int) -> None:
        pass

    def advanced(self, title: str, count: int) -> None:
        pass

    def finished(self, title: str, transferred: int, reused: bool) -> None:
        pass


def _jobs(text: str) -> int:
    if not text.isdigit() or not text.isascii() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of files from 1 to 64")
    return int(text)


def _tls_verify(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: give true or false")


@dataclass(frozen=True, kw_only=True)
class PullSettings:
    """What to pull, where to and how; `from_argparse` builds it from `pull`'s arguments."""

    name: str
    version: str | None = None  # default: the image's latest version
    target: str
    architecture: str | None = None  # needed when the board has disk images of several
    out: Path | None = None  # default: ./NAME-VERSION-ARCH
    partitions: tuple[str, ...] = ()  # default: every file
    decompress: bool = False
    jobs: int = 4
    index: str | Path | None = None  # default: $IMAGE_CATALOG_INDEX, else ./site
    trust: str | Path | None = None  # default: $IMAGE_CATALOG_TRUST, else nothing is verified
    allow_expired: bool = False  # with a trust file: read an expired signed index, with a warning
    authfile: str | Path | None = None  # default: where podman and skopeo look (reader.auth)
    tls_verify: bool = True
    cert_dir: Path | None = None
    allow_deprecated: bool = False
    allow_unhealthy: bool = False
    container: bool = False  # a version with no disk image for the board: its container image

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "image",
            metavar="NAME[@VERSION]",
            help="the image (its latest version without @VERSION)",
        )
        parser.add_argument("--target", required=True, metavar="BOARD", help="the board to flash")
        parser.add_argument(
            "--arch",
            dest="architecture",
            metavar="A",
            help="architecture or alias, when the board has several",
        )
        parser.add_argument(
            "--out", type=Path, metavar="DIR", help="the folder (default ./NAME-VERSION-ARCH)"
        )
        parser.add_argument(
            "--partition",
            dest="partitions",
            action="append",
            default=[],
            metavar="P",
            help="only this partition's file (repeat for several)",
        )
        parser.add_argument(
            "--decompress",
            action="store_true",
            help="also write each gzip, xz or zstd file decompressed, checked against its "
            "decompressed size",
        )
        parser.add_argument(
            "--jobs", type=_jobs, default=4, metavar="N", help="files fetched at once (default 4)"
        )
        parser.add_argument(
            "--index",
            metavar="URL|DIR",
            help=f"the index: a folder or an http(s) URL (default: ${INDEX_ENV} or ./site)",
        )
        parser.add_argument(
            "--trust",
            metavar="FILE",
            help=f"an OpenSSH allowed_signers file (default: ${TRUST_ENV}): pull only from a "
            "signed index",
        )
        parser.add_argument(
            "--allow-expired",
            action="store_true",
            help="with a trust file, pull from a signed index that has expired (or states no "
            "expiry) anyway, with a warning",
        )
        parser.add_argument(
            "--authfile",
            metavar="FILE",
            help="the registry credentials (default: $REGISTRY_AUTH_FILE, else where podman and "
            "docker keep them)",
        )
        parser.add_argument(
            "--tls-verify",
            type=_tls_verify,
            default=True,
            metavar="BOOL",
            help="verify the registry's TLS certificate (default true)",
        )
        parser.add_argument(
            "--cert-dir", type=Path, metavar="DIR", help="CA certificates (*.crt) for the registry"
        )
        parser.add_argument(
            "--allow-deprecated", action="store_true", help="pull a deprecated version"
        )
        parser.add_argument(
            "--allow-unhealthy",
            action="store_true",
            help="pull a variant the last health check found missing, changed or failed",
        )
        parser.add_argument(
            "--container",
            action="store_true",
            help="for a version with no disk image for the board, copy its container image "
            "into DIR/NAME as an OCI image layout tagged VERSION (needs skopeo)",
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> PullSettings:
        name, at, version = str(args.image).partition("@")
        if at and not version:
            raise UsageError(f"{args.image!r}: give NAME or NAME@VERSION")
        return cls(
            name=name,
            version=version or None,
            target=args.target,
            architecture=args.architecture,
            out=args.out,
            partitions=tuple(args.partitions),
            decompress=args.decompress,
            jobs=args.jobs,
            index=args.index,
            trust=args.trust,
            allow_expired=args.allow_expired,
            authfile=args.authfile,
            tls_verify=args.tls_verify,
            cert_dir=args.cert_dir,
            allow_deprecated=args.allow_deprecated,
            allow_unhealthy=args.allow_unhealthy,
            container=args.container,
        )


def pull(settings: PullSettings, progress: PullProgress | None = None) -> PullResult:
    """Pull the settings' version into its folder (see `reader.pull`)."""
    client = IndexClient(settings.index, trust=settings.trust, allow_expired=settings.allow_expired)
    request = PullRequest(
        name=settings.name,
        version=settings.version,
        target=settings.target,
        architecture=settings.architecture,
        out=settings.out,
        partitions=settings.partitions,
        decompress=settings.decompress,
        jobs=settings.jobs,
        authfile=settings.authfile,
        tls_verify=settings.tls_verify,
        cert_dir=settings.cert_dir,
        allow_deprecated=settings.allow_deprecated,
        allow_unhealthy=settings.allow_unhealthy,
        container=settings.container,
    )
    return pull_version(client, request, progress or Quiet())
