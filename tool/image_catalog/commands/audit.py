"""The whole of `audit` as one call: the publication history of the catalog's entries, from git.

`audit(AuditSettings(...))` returns the `AuditLog` (oldest first); the command line builds the same
settings from its arguments and only renders the log. An entry that is not NAME or NAME@VERSION is
refused when the settings are made, before git is opened.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from image_catalog.catalog.audit import AuditLog, audit_history
from image_catalog.errors import UsageError

_ENTRY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[0-9A-Za-z][0-9A-Za-z._-]*)?$")


@dataclass(frozen=True, kw_only=True)
class AuditSettings:
    """Whose history `audit` reads, from which revision and since when."""

    catalog: Path
    ref: str = "HEAD"  # the branch or commit whose first-parent history is read
    entry: str | None = None  # NAME or NAME@VERSION: only this image, or this version
    since: datetime | None = None  # only the changes that landed at or after this time

    def __post_init__(self) -> None:
        if self.entry is not None and not _ENTRY.fullmatch(self.entry):
            raise UsageError(f"{self.entry!r} is not NAME or NAME@VERSION")

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "entry", nargs="?", metavar="NAME[@VERSION]", help="only this image, or this version"
        )
        parser.add_argument(
            "--since",
            type=since_argument,
            metavar="DATE",
            help="only the changes that landed at or after DATE (YYYY-MM-DD or an ISO 8601 time; "
            "UTC unless it names a zone)",
        )
        parser.add_argument(
            "--ref",
            default="HEAD",
            help="the branch or commit whose history to read (default: HEAD)",
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> AuditSettings:
        return cls(catalog=args.catalog, ref=args.ref, entry=args.entry, since=args.since)


def since_argument(text: str) -> datetime:
    """A day (YYYY-MM-DD, its start in UTC) or an ISO 8601 time (UTC unless it names a zone)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def audit(settings: AuditSettings) -> AuditLog:
    """Every event of every entry (or of the one named) on the first-parent line of the ref."""
    return audit_history(settings.catalog, settings.ref, entry=settings.entry, since=settings.since)
