"""`index build` as one call: load the signing key and the health status, then build the site
through the one cached pipeline (`build/pipeline.py`), with the operator's resources under crs/
when asked for.

`build_index(BuildIndexSettings(...))` returns the `BuildResult`, its warnings those of the status
first; the command line builds the same settings from its arguments and only prints the result.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from image_catalog.build.pipeline import build_index_reusing
from image_catalog.build.render import BuildResult as BuildResult  # what `build_index` returns
from image_catalog.build.render import uncommitted_catalog_files
from image_catalog.build.signing import (
    DEFAULT_VALID_FOR,
    SIGNING_KEY_ENV,
    SigningKey,
    parse_duration,
)
from image_catalog.errors import CatalogError
from image_catalog.export.crs import ExportOptions
from image_catalog.site.contract import StatusDoc


@dataclass(frozen=True, kw_only=True)
class BuildIndexSettings:
    """What `index build` builds and how; `from_argparse` builds it from the command's arguments."""

    catalog: Path
    out: Path  # the site folder
    base_url: str | None = None  # where the site is published (recorded as baseUrl)
    status: str | None = None  # a health status file or URL: each entry then carries its state
    crs: bool = False  # also write the operator's CatalogImage resources into crs/
    crs_namespace: str | None = None  # with crs: the namespace of every resource
    sign_key: Path | None = None  # else $IMAGE_CATALOG_SIGNING_KEY_FILE, else unsigned
    valid_for: timedelta = DEFAULT_VALID_FOR  # a signed site expires this long after the build
    use_cache: bool = True  # reuse the checks and rendered entries of unchanged files
    # Uncommitted changes to the catalog's files: "mark" builds the site and says so
    # (catalog.dirty, the SHA256SUMS header); "refuse" builds nothing. The command line refuses
    # under CI (CI=true) unless --allow-dirty, and marks elsewhere.
    dirty: Literal["mark", "refuse"] = "mark"

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--out", type=Path, required=True, metavar="DIR", help="the site folder"
        )
        parser.add_argument(
            "--base-url",
            metavar="URL",
            help="where the site is published (recorded as baseUrl; links inside stay relative)",
        )
        parser.add_argument(
            "--status",
            metavar="FILE|URL",
            help="a health status (from `check`, or the published site's status.json URL): each "
            "entry then carries its state, and the site holds status.json",
        )
        parser.add_argument(
            "--crs",
            action="store_true",
            help="also write the operator's CatalogImage resources and their kustomization.yaml "
            "into crs/ (as 'export crs' does; entries it cannot express are warnings here)",
        )
        parser.add_argument(
            "--crs-namespace", metavar="NS", help="with --crs: the namespace of every resource"
        )
        parser.add_argument(
            "--sign-key",
            type=Path,
            metavar="FILE",
            help=f"sign SHA256SUMS into SHA256SUMS.sig with this ed25519 SSH private key "
            f"(default: ${SIGNING_KEY_ENV}; without either the index is unsigned)",
        )
        parser.add_argument(
            "--valid-for",
            type=_duration,
            default=DEFAULT_VALID_FOR,
            metavar="DURATION",
            help="a signed index expires this long after the build, e.g. 7d, 36h, 90m (default "
            "7d); a reader with --trust refuses it after that (rebuild more often than this)",
        )
        parser.add_argument(
            "--allow-dirty",
            action="store_true",
            help="under CI (CI=true), build even when the catalog's files have uncommitted "
            "changes (the site then says so: catalog.json's dirty, the SHA256SUMS header); "
            "elsewhere that is the default",
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> BuildIndexSettings:
        return cls(
            catalog=args.catalog,
            out=args.out,
            base_url=args.base_url,
            status=args.status,
            crs=args.crs,
            crs_namespace=args.crs_namespace,
            sign_key=args.sign_key,
            valid_for=args.valid_for,
            use_cache=not args.no_cache,
            dirty="refuse" if os.environ.get("CI") == "true" and not args.allow_dirty else "mark",
        )


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_index(settings: BuildIndexSettings) -> BuildResult:
    """Validate the catalog and build its site into `settings.out`, reusing what did not change."""
    # Before the build: a bad key, or a bad --valid-for, fails at once.
    key = SigningKey.load(settings.sign_key, settings.valid_for)
    if settings.dirty == "refuse":
        refuse_uncommitted(settings.catalog)
    status: StatusDoc | None = None
    warnings: list[str] = []
    if settings.status:
        from image_catalog.health import check as health  # only with a status: slow to import

        # Validated as of now: a status that says it was checked later is refused.
        status, warnings = health.load(settings.status, now=health.utc_now())
    export = ExportOptions(namespace=settings.crs_namespace) if settings.crs else None
    result = build_index_reusing(
        settings.catalog,
        settings.out,
        base_url=settings.base_url,
        status=status,
        sign_key=key,
        use_cache=settings.use_cache,
        export=export,
    )
    if not warnings:
        return result
    return replace(result, warnings=(*warnings, *result.warnings))


def refuse_uncommitted(catalog: Path) -> None:
    """A `CatalogError` naming the catalog's files with uncommitted changes, if there are any:
    the site would name a commit that does not hold what was built."""
    changed = uncommitted_catalog_files(catalog)
    if not changed:
        return
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    raise CatalogError(
        f"{catalog}: uncommitted changes to {shown}: the index would name a commit that does "
        "not hold what was built; commit them, or pass --allow-dirty to build a site marked as "
        "built from uncommitted changes"
    )
