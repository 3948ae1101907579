"""`export crs` as one call: validate the catalog (reusing the checks of unchanged files), express
every entry as the operator's CatalogImage resources while it is loaded, and replace the export
folder with them in one step.

`export(ExportSettings(...))` returns the `Export` written; the command line builds the same
settings from its arguments and only prints it. Nothing is written when an entry cannot be
expressed, unless the settings say to write the others.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from image_catalog.build.render import catalog_commit
from image_catalog.build.writer import swap_in
from image_catalog.catalog.incremental import check_and_render
from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.validate import InvalidCatalog
from image_catalog.errors import CatalogError
from image_catalog.export.commits import entry_commits
from image_catalog.export.crs import (
    EntryExport,
    ExportOptions,
    ExportRenderer,
    assemble_export,
    check_export_out,
)
from image_catalog.export.crs import (
    Export as Export,  # what `export` returns
)
from image_catalog.export.crs import (
    ExportRefused as ExportRefused,  # raised here; the command line reports its problems
)
from image_catalog.scratch import make_scratch


@dataclass(frozen=True, kw_only=True)
class ExportSettings:
    """What `export crs` writes where; `from_argparse` builds it from the command's arguments."""

    catalog: Path
    out: Path  # the export folder
    namespace: str | None = None  # of every resource
    include_deprecated: bool = False
    public_hosts: bool = False  # registryUrl on each registry's publicHost
    skip_unexpressible: bool = False  # write the others when some entries cannot be expressed

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--out", type=Path, required=True, metavar="DIR", help="the export folder"
        )
        parser.add_argument(
            "--namespace", metavar="NS", help="the namespace of every resource (default: none set)"
        )
        parser.add_argument(
            "--include-deprecated",
            action="store_true",
            help="also export deprecated versions (labelled ...deprecated=true)",
        )
        parser.add_argument(
            "--public-hosts",
            action="store_true",
            help="point registryUrl at each registry's publicHost instead of its host",
        )
        parser.add_argument(
            "--skip-unexpressible",
            action="store_true",
            help="write the entries that can be expressed and list the others as warnings",
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> ExportSettings:
        return cls(
            catalog=args.catalog,
            out=args.out,
            namespace=args.namespace,
            include_deprecated=args.include_deprecated,
            public_hosts=args.public_hosts,
            skip_unexpressible=args.skip_unexpressible,
        )


def export(settings: ExportSettings) -> Export:
    """Validate the catalog offline, express it as CatalogImage resources and write them."""
    options = ExportOptions(
        namespace=settings.namespace,
        include_deprecated=settings.include_deprecated,
        public_hosts=settings.public_hosts,
    )
    made = _export_catalog(settings.catalog, options)
    _write_export(made, settings.out, skip_unexpressible=settings.skip_unexpressible)
    return made


def _export_catalog(root: Path, options: ExportOptions) -> Export:
    """The catalog's export, nothing written: each entry expressed while its file is checked."""
    commits, warnings = entry_commits(root)
    head = catalog_commit(root)

    def renderer(catalog: Catalog) -> ExportRenderer:
        registries = {loaded.model.spec.host: loaded.model for loaded in catalog.registries}
        return ExportRenderer(registries, options, commits, head)

    result = check_and_render(root, renderer=renderer)
    if not result.report.ok:
        raise InvalidCatalog(result.report, "export it")
    parts = [(r, made) for r, made in result.rendered.items() if isinstance(made, EntryExport)]
    made = assemble_export(parts, root, head)
    made.warnings[:0] = warnings
    return made


def _write_export(made: Export, out: Path, *, skip_unexpressible: bool = False) -> None:
    """Replace `out` with the export's files in one step; refuse when entries were skipped,
    unless told to write the others."""
    if made.skipped and not skip_unexpressible:
        raise ExportRefused(made.skipped)
    check_export_out(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Locked while this export lives; what a killed export left is removed here.
        scratch = make_scratch(out.parent, f".{out.name}.export-")
        staging = scratch.path
    except OSError as exc:
        raise CatalogError(f"cannot write into {out}: {exc.strerror or exc}") from exc
    try:
        os.chmod(staging, 0o755)  # noqa: S103 - a GitOps folder is read by other tools
        for name, text in made.files().items():
            (staging / name).write_text(text, encoding="utf-8")
        swap_in(staging, out)
    except OSError as exc:
        raise CatalogError(
            f"cannot write into {out}: {exc.strerror or exc}; the previous export is left as it was"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        scratch.release()
