"""The whole of `validate` as one call: offline checks, the review of a change against its base,
and the online checks, with the rule that a registry the change adds or redirects gets no
credentials.

`validate(ValidateSettings(...))` returns one `ValidationReport`; the command line builds the same
settings from its arguments and only renders the report.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from image_catalog.catalog.incremental import check_catalog, check_keeping_changes
from image_catalog.catalog.loader import IMAGES_DIR, Catalog
from image_catalog.catalog.problems import Problem, sort_key
from image_catalog.catalog.validate import ValidationReport, add_online, validate_catalog
from image_catalog.errors import UsageError
from image_catalog.manifest.declarations import NoAuth, Registry
from image_catalog.registry.arguments import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_WORKERS,
    add_registry_arguments,
)

if TYPE_CHECKING:  # the review, git and the registries are loaded only when asked for
    from image_catalog.catalog.review import ChangeSet
    from image_catalog.registry.online import OnlineResult, Progress


@dataclass(frozen=True, kw_only=True)
class ValidateSettings:
    """What `validate` checks and how; `from_argparse` builds it from the command's arguments."""

    catalog: Path
    base: str | None = None  # also review the change against this git revision
    allow_removal: bool = False  # with base: published versions may be removed
    online: bool = False
    workers: int = DEFAULT_WORKERS
    timeout: float = DEFAULT_TIMEOUT  # per registry call, in seconds
    retries: int = DEFAULT_RETRIES
    progress: Progress | None = None  # called with (done, total) as online checks finish
    use_cache: bool = True  # reuse the offline checks of unchanged files (`catalog/cache.py`)
    # With online: check only these entries online (files, NAME@VERSION or NAME), not every one
    # (nor, with base, the changed ones); the offline checks still cover the whole catalog.
    entries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.allow_removal and not self.base:
            raise UsageError("--allow-removal only means something with --base REF")
        if self.entries and not self.online:
            raise UsageError(
                "ENTRY selects what is checked online; add --online (the offline checks always "
                "cover the whole catalog)"
            )

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "entries",
            nargs="*",
            metavar="ENTRY",
            help="with --online: check only these entries against their registries (a file "
            "catalog/images/NAME/VERSION.yaml, NAME@VERSION, or NAME for all its versions)",
        )
        parser.add_argument(
            "--base",
            metavar="REF",
            help="also compare with the catalog at this git revision (e.g. origin/main): "
            "published versions may only change spec.lifecycle and metadata.labels, and only the "
            "entries added or changed since REF are checked online; prints a summary of the change",
        )
        parser.add_argument(
            "--allow-removal",
            action="store_true",
            help="with --base: accept that published versions were removed",
        )
        parser.add_argument(
            "--no-cache",
            action="store_true",
            help="check every file afresh, without reading or writing the cache of earlier checks "
            "(.cache/image-catalog/ at the top of the git work tree)",
        )
        online = parser.add_argument_group("online checks")
        online.add_argument(
            "--online",
            action="store_true",
            help="also check every entry (or the ENTRYs named) against its registry with skopeo: "
            "digests, index platforms, artifact files, AIB annotations (exit 4 when a registry "
            "cannot be reached)",
        )
        add_registry_arguments(online)

    @classmethod
    def from_argparse(
        cls, args: argparse.Namespace, progress: Progress | None = None
    ) -> ValidateSettings:
        return cls(
            catalog=args.catalog,
            base=args.base,
            allow_removal=args.allow_removal,
            online=args.online,
            workers=args.workers,
            timeout=args.timeout,
            retries=args.retries,
            progress=progress,
            use_cache=not args.no_cache,
            entries=tuple(args.entries),
        )


def validate(settings: ValidateSettings) -> ValidationReport:
    """Check the catalog offline, then (with a base) the change, then (online) the registries.

    With a base, only the entries the change touched go to the registries again: the offline
    checks still cover the whole catalog.
    """
    if not settings.base and not settings.online:
        # Offline alone needs no entry models: unchanged files' checks come from the cache.
        return check_catalog(settings.catalog, use_cache=settings.use_cache)[0]
    from image_catalog.catalog.review import compare_with_base
    from image_catalog.catalog.source import GitRevision

    if settings.base and not settings.online and settings.use_cache and settings.catalog.is_dir():
        # The review reads the models of the changed entries only; the rest comes from the cache.
        base = GitRevision(settings.catalog, settings.base).files
        catalog, report = check_keeping_changes(settings.catalog, base)
    else:
        catalog, report = validate_catalog(settings.catalog, use_cache=settings.use_cache)
    if settings.base:
        report.changes = compare_with_base(
            catalog, settings.base, allow_removal=settings.allow_removal
        )
        report.problems = sorted([*report.problems, *report.changes.problems], key=sort_key)
    if settings.online:
        selected = selected_entries(catalog, settings.entries) if settings.entries else None
        result = check_changes_online(
            catalog,
            report.changes,
            workers=settings.workers,
            timeout=settings.timeout,
            retries=settings.retries,
            progress=settings.progress,
            only=selected,
        )
        add_online(report, result.problems, result.unchecked)
        if report.ok and result.unreached_only:
            report.hints.append(unreached_hint(result.unreached, settings))
        if result.unusable and not (settings.entries or settings.base):
            report.hints.append(unusable_hint(result.unusable))
    return report


def selected_entries(catalog: Catalog, selectors: Sequence[str]) -> set[str]:
    """The NAME@VERSION ids the selectors name: an entry file, NAME@VERSION, or NAME (each of
    its versions). A selector naming nothing in the catalog is a `UsageError`; an entry file
    that does not validate is left out (the offline checks report it)."""
    by_file = {loaded.source.resolve(): loaded.model.id for loaded in catalog.images}
    on_disk = catalog.ids_on_disk()
    names = {entry.rpartition("@")[0] for entry in on_disk}
    valid = {loaded.model.id for loaded in catalog.images}
    found: set[str] = set()
    for selector in selectors:
        path = Path(selector)
        if selector.endswith(".yaml") or "/" in selector:
            if not path.is_file():
                raise UsageError(f"{selector}: no such entry file")
            if path.resolve() in by_file:
                found.add(by_file[path.resolve()])
            elif path.resolve().parent.parent != (catalog.root / IMAGES_DIR).resolve():
                raise UsageError(f"{selector} is not an entry file of the catalog {catalog.root}")
        elif "@" in selector:
            if selector not in on_disk:
                raise UsageError(f"{selector}: no such entry in the catalog {catalog.root}")
            found.add(selector)
        elif selector in names:
            found.update(e for e in on_disk if e.rpartition("@")[0] == selector)
        else:
            raise UsageError(f"{selector}: no image of that name in the catalog {catalog.root}")
    return found & valid


def unusable_hint(registries: set[str]) -> str:
    """What to do when a registry's declared CA, auth or token file is not on this machine (a
    service-account token mounted only in the cluster): check what can be checked from here."""
    names = ", ".join(sorted(registries))
    return (
        f"registry {names} names a file this machine does not have (a token mounted only where "
        "the registry is used?), so its entries were not checked; to check from here only what "
        "changed: --base REF (e.g. --base origin/main), or name the entries to check: "
        "validate --online catalog/images/NAME/VERSION.yaml (or NAME@VERSION, NAME)"
    )


def unreached_hint(hosts: set[str], settings: ValidateSettings) -> str:
    """What to do when the only entries left unchecked are those of registries never reached
    from here (connection refused, no such host): an example registry, a private one."""
    text = (
        f"{', '.join(sorted(hosts))} could not be reached from here at all (connection refused "
        "or no such host), so its entries were not checked; "
    )
    if settings.entries or settings.base:
        return text + "check the entries of registries this machine can reach"
    return text + (
        "check only what changed with --base REF (e.g. --base origin/main), or name the entries "
        "to check: validate --online catalog/images/NAME/VERSION.yaml (or NAME@VERSION, NAME)"
    )


def check_changes_online(
    catalog: Catalog,
    changes: ChangeSet | None,
    *,
    workers: int = DEFAULT_WORKERS,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: Callable[[int, int], None] | None = None,
    only: set[str] | None = None,
) -> OnlineResult:
    """The online checks of every entry, or of the NAME@VERSION ids `only`, or with `changes` of
    the entries the change touched.

    A registry the change adds, or points at another host, TLS setting or credentials, is
    checked without credentials (a warning says so): a pull request must not be able to send the
    registry secrets to a host of its choosing.
    """
    from image_catalog.registry.client import RegistryClient
    from image_catalog.registry.online import check_online

    registries, warnings = trusted_registries(catalog, changes)
    with RegistryClient(registries, timeout=timeout, retries=retries) as client:
        result = check_online(
            catalog,
            client,
            only=only if only is not None else (changes.touched if changes else None),
            workers=workers,
            progress=progress,
        )
    result.problems[:0] = warnings
    return result


def trusted_registries(
    catalog: Catalog, changes: ChangeSet | None
) -> tuple[list[Registry], list[Problem]]:
    """The catalog's registries, those the change made untrusted without credentials, and a
    warning for each of those that had credentials."""
    registries: list[Registry] = []
    warnings: list[Problem] = []
    untrusted: Sequence[str] = changes.registries if changes else ()
    for loaded in catalog.registries:
        registry = loaded.model
        if registry.metadata.name in untrusted and not isinstance(registry.spec.auth, NoAuth):
            warnings.append(
                Problem(
                    str(catalog.root),
                    f"registry {registry.metadata.name} is new or changed since the base: its "
                    "entries are checked without credentials until the change is merged",
                    severity="warning",
                    code="untrusted_registry",
                )
            )
            spec = registry.spec.model_copy(update={"auth": NoAuth(method="none")})
            registry = registry.model_copy(update={"spec": spec})
        registries.append(registry)
    return registries, warnings
