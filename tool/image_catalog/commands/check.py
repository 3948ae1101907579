"""The whole of `check` and `check merge`, each as one call that returns the status it made.

`check(CheckSettings(...))` validates the catalog offline (an invalid catalog is refused), picks
the entries of its shard, asks the registries (`health.observe`), records the answers onto the
previous status (`health.check.record`) and, when asked, writes the new status in one step.
`merge_shards(MergeSettings(...))` joins the statuses the shards of one run wrote and writes the
result. Nothing here writes a manifest, drops an entry, prints or exits; time comes from a clock
the caller may replace.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_catalog.catalog.loader import Loaded
from image_catalog.catalog.validate import valid_catalog
from image_catalog.errors import ExitCode, UsageError
from image_catalog.health.check import (
    DEFAULT_FAIL_AFTER,
    Clock,
    exit_code,
    in_shard,
    load,
    merge,
    parse_shard,
    read,
    record,
    utc_now,
    write,
)
from image_catalog.health.observe import Observation, observe
from image_catalog.manifest.model import CatalogImage
from image_catalog.registry.arguments import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_WORKERS,
    add_registry_arguments,
    positive,
)
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.online import Progress
from image_catalog.site.contract import Shard, StatusDoc
from image_catalog.text import printable


@dataclass(frozen=True, kw_only=True)
class CheckSettings:
    """What one `check` run does; `from_argparse` builds it from the command's arguments."""

    catalog: Path
    previous: str | None = None  # a file, or the published site's status URL
    shard: Shard | None = None
    fail_after: int = DEFAULT_FAIL_AFTER
    workers: int = DEFAULT_WORKERS
    timeout: float = DEFAULT_TIMEOUT  # per registry call, in seconds
    retries: int = DEFAULT_RETRIES
    out: Path | None = None  # where to write the new status
    progress: Progress | None = None  # called with (done, total) as entries are checked

    def __post_init__(self) -> None:
        if self.fail_after < 1:
            raise UsageError("--fail-after must be at least 1")

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--previous",
            metavar="FILE|URL",
            help="the previous status, a file or the published site's status.json URL (a URL "
            "that answers 404 starts the history afresh)",
        )
        parser.add_argument(
            "--shard",
            type=shard_argument,
            metavar="I/N",
            help="check only the I-th of N parts of the catalog (split by entry name, the same "
            "on every run); join the parts with `check merge`",
        )
        parser.add_argument(
            "--fail-after",
            type=positive,
            default=DEFAULT_FAIL_AFTER,
            metavar="N",
            help="failed checks in a row after which an entry is failed (default: "
            f"{DEFAULT_FAIL_AFTER})",
        )
        add_registry_arguments(parser)

    @classmethod
    def from_argparse(
        cls, args: argparse.Namespace, progress: Progress | None = None
    ) -> CheckSettings:
        return cls(
            catalog=args.catalog,
            previous=args.previous,
            shard=args.shard,
            fail_after=args.fail_after,
            workers=args.workers,
            timeout=args.timeout,
            retries=args.retries,
            out=args.out,
            progress=progress,
        )


def shard_argument(text: str) -> Shard:
    """`--shard I/N` as argparse reads it: a wrong value is a usage error naming the option."""
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass
class CheckResult:
    status: StatusDoc
    observation: Observation
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.status)


def check(settings: CheckSettings, *, clock: Clock = utc_now) -> CheckResult:
    """Check the catalog's entries (or one shard of them) and record the result on the history."""
    catalog = valid_catalog(settings.catalog, "check")
    # The check's time: the previous status is refused when it says it was written later.
    now = clock()
    previous, warnings = (
        (None, [])
        if settings.previous is None
        else load(settings.previous, now=now, timeout=settings.timeout)
    )
    ids = sorted(loaded.model.id for loaded in catalog.images)
    chosen = sorted(
        (
            e
            for e in catalog.images
            if settings.shard is None or in_shard(e.model.id, settings.shard)
        ),
        key=_order,
    )
    with RegistryClient(
        [loaded.model for loaded in catalog.registries],
        timeout=settings.timeout,
        retries=settings.retries,
    ) as client:
        observation = observe(
            chosen, client, catalog.vocabulary, workers=settings.workers, progress=settings.progress
        )
    status = record(
        observation,
        previous,
        now=now,
        fail_after=settings.fail_after,
        shard=settings.shard,
        catalog_ids=ids,
    )
    if settings.out is not None:
        write(settings.out, status)
    return CheckResult(status, observation, warnings)


def _order(loaded: Loaded[CatalogImage]) -> tuple[str, str]:
    return loaded.model.metadata.name, loaded.model.metadata.version


@dataclass(frozen=True, kw_only=True)
class MergeSettings:
    """What `check merge` joins and where it writes the result."""

    files: Sequence[Path]  # the status files of the shards of one run
    out: Path

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the status")

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> MergeSettings:
        return cls(files=tuple(args.files), out=args.out)


def merge_shards(settings: MergeSettings, *, clock: Clock = utc_now) -> StatusDoc:
    """One status from the shards' files, written to `settings.out`; a gap or overlap is refused,
    and nothing is written then."""
    now = clock()
    status = merge([(printable(str(path)), read(path, now=now)) for path in settings.files])
    write(settings.out, status)
    return status
