"""`image-catalog validate`: check the catalog and report every problem."""

from __future__ import annotations

import argparse
import json
import os
import sys

from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.problems import Problem, sort_key
from image_catalog.catalog.review import (
    ChangeSet,
    compare_with_base,
    summary_json,
    summary_markdown,
    summary_text,
)
from image_catalog.catalog.validate import ValidationReport, add_online, validate_catalog
from image_catalog.cli.common import add_catalog_option, add_subcommand
from image_catalog.cli.report import RENDERERS, summary
from image_catalog.errors import ExitCode, UsageError
from image_catalog.manifest.model import NoAuth, Registry
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.online import check_online


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "validate",
        "check the catalog's manifests",
        "Check every manifest against its schema and the catalog-wide rules: paths agree with "
        "names and versions, no duplicate versions or digests, every image host is a declared "
        "registry, every target supports its architectures. Every problem is reported as "
        "FILE:LINE:COLUMN: FIELD: MESSAGE.",
    )
    add_catalog_option(parser)
    parser.add_argument(
        "--format",
        choices=sorted(RENDERERS),
        default="text",
        help="text for people, json for programs, github for workflow annotations (default: text)",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help="also compare with the catalog at this git revision (e.g. origin/main): published "
        "versions may only change spec.lifecycle and metadata.labels, and only the entries "
        "added or changed since REF are checked online; prints a summary of the change",
    )
    parser.add_argument(
        "--allow-removal",
        action="store_true",
        help="with --base: accept that published versions were removed",
    )
    online = parser.add_argument_group("online checks")
    online.add_argument(
        "--online",
        action="store_true",
        help="also check every entry against its registry with skopeo: digests, index platforms, "
        "artifact files, AIB annotations (exit 4 when a registry cannot be reached)",
    )
    online.add_argument(
        "--workers",
        type=_positive,
        default=8,
        metavar="N",
        help="entries checked at the same time (default: 8; each registry's spec.maxConcurrency "
        "still applies)",
    )
    online.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="per registry call (default: 30)",
    )
    online.add_argument(
        "--retries",
        type=int,
        choices=range(11),
        default=3,
        metavar="N",
        help="retries of a call that found the registry unreachable or failing (default: 3)",
    )
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds from 0 to 3600")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def run(args: argparse.Namespace) -> int:
    if args.allow_removal and not args.base:
        raise UsageError("--allow-removal only means something with --base REF")
    catalog, report = validate_catalog(args.catalog)
    changes = None
    if args.base:
        changes = compare_with_base(catalog, args.base, allow_removal=args.allow_removal)
        report.problems = sorted([*report.problems, *changes.problems], key=sort_key)
    if args.online:
        # With --base, only the entries the change touched need the registry again: the offline
        # checks above still cover the whole catalog.
        _check_online(catalog, report, args, changes)
    _write(args.format, report, changes)
    if not report.ok:
        return int(ExitCode.INVALID)
    return int(ExitCode.UNAVAILABLE if report.unchecked else ExitCode.OK)


def _untrusted(registry: Registry, report: ValidationReport) -> Registry:
    """A registry new or changed by the change under review gets no credentials."""
    if isinstance(registry.spec.auth, NoAuth):
        return registry
    report.problems.append(
        Problem(
            report.catalog,
            f"registry {registry.metadata.name} is new or changed since the base: its entries are "
            "checked without credentials until the change is merged",
            severity="warning",
            code="untrusted_registry",
        )
    )
    spec = registry.spec.model_copy(update={"auth": NoAuth(method="none")})
    return registry.model_copy(update={"spec": spec})


def _check_online(
    catalog: Catalog,
    report: ValidationReport,
    args: argparse.Namespace,
    changes: ChangeSet | None,
) -> None:
    only = changes.touched if changes else None
    progress = _Progress() if sys.stderr.isatty() else None
    registries = [loaded.model for loaded in catalog.registries]
    if changes is not None:
        registries = [
            _untrusted(r, report) if r.metadata.name in changes.registries else r
            for r in registries
        ]
    with RegistryClient(registries, timeout=args.timeout, retries=args.retries) as client:
        try:
            result = check_online(
                catalog, client, only=only, workers=args.workers, progress=progress
            )
        finally:
            if progress is not None:
                progress.clear()
    add_online(report, result.problems, result.unchecked)


class _Progress:
    """`checking online: 12/200 entries` on one terminal line, rewritten in place."""

    def __call__(self, done: int, total: int) -> None:
        sys.stderr.write(f"\rchecking online: {done}/{total} entries")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _write(form: str, report: ValidationReport, changes: ChangeSet | None) -> None:
    if changes is None:
        sys.stdout.write(RENDERERS[form](report))
    elif form == "json":
        document = json.loads(RENDERERS["json"](report))
        document["changes"] = summary_json(changes)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(summary_text(changes) + RENDERERS[form](report))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if form == "github" and step_summary:
            text = summary_markdown(changes) + f"\n{summary(report)}\n"
            try:
                with open(step_summary, "a", encoding="utf-8") as stream:
                    stream.write(text)
            except OSError as exc:
                raise UsageError(f"$GITHUB_STEP_SUMMARY ({step_summary}): {exc.strerror}") from exc
