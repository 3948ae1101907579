"""`status.json`: what the scheduled health check found, the one definition of its format.

`image-catalog check` writes it, `check merge` joins shard outputs, `index build --status` reads it
into the site, and the next check reads the published copy back as its history. Observed state is
not desired state: this file is the only place registry health lives besides the state (and the
time it began) in the index's summaries and version documents.

Every time is UTC. Each entry keeps a rolling 24-hour record of its checks, from which its
availability over 24 hours is computed; the catalog-wide figures are computed from the entries.

Compatibility follows the index: unknown fields are ignored; removing or renaming one bumps
`STATUS_SCHEMA_VERSION`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

STATUS_SCHEMA_VERSION = 1
STATUS_FILE = "status.json"

State = Literal["available", "missing", "changed", "unreachable", "unauthorized", "failed"]
# What one check can see; `failed` only comes from history (too many failures in a row).
Observed = Literal["available", "missing", "changed", "unreachable", "unauthorized"]
STATES: tuple[State, ...] = (
    "available",
    "missing",
    "changed",
    "failed",
    "unreachable",
    "unauthorized",
)
# The catalog is wrong about these: exit 1.
INVALID_STATES: frozenset[State] = frozenset({"missing", "changed", "failed"})
# The check could not see these: exit 4, a retry may pass.
UNAVAILABLE_STATES: frozenset[State] = frozenset({"unreachable", "unauthorized"})
WINDOW = dt.timedelta(hours=24)

Time = Annotated[dt.datetime, msgspec.Meta(tz=True)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class _Doc(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True):
    """Unknown fields are ignored, so adding one is no breaking change."""


class Check(msgspec.Struct, array_like=True, frozen=True):
    """One check in an entry's 24-hour record: `[TIME, OBSERVED STATE]`."""

    at: Time
    state: Observed


class MovedTag(_Doc, frozen=True):
    """A recorded tag hint that now names other content; information, not a failure."""

    field: str  # the pinned manifest: spec.index, spec.variants[0].container, ...
    tag: str
    digest: str | None = None  # what the tag names now; absent when the tag is gone


class VariantHealth(_Doc, frozen=True):
    architecture: str
    state: State
    since: Time
    detail: str | None = None
    tag_moved: list[MovedTag] = []


class EntryHealth(_Doc, frozen=True):
    """One catalog entry (NAME@VERSION) and its variants."""

    name: str
    version: str
    state: State
    since: Time  # when `state` began
    observed: Observed  # what the last check saw; `state` says `failed` after too many failures
    consecutive_failures: int
    last_available: Time | None = None
    last_checked: Time | None = None
    availability_24h: Share | None = msgspec.field(default=None, name="availability24h")
    detail: str | None = None
    deprecated: bool = False
    variants: list[VariantHealth] = []
    tag_moved: list[MovedTag] = []
    record: list[Check] = []

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


class Shard(_Doc, frozen=True):
    index: int  # 1-based
    count: int


class Figures(_Doc, frozen=True):
    """Catalog-wide: entries per state, the share available now and over 24 hours."""

    entries: int
    states: dict[str, int]
    available_now: Share | None = None
    availability_24h: Share | None = msgspec.field(default=None, name="availability24h")


class StatusDoc(_Doc, frozen=True):
    schema_version: int
    kind: Literal["Status"]
    checked_at: Time
    fail_after: int
    catalog_entries: int  # in the whole catalog, not only this shard
    figures: Figures
    catalog_digest: str = ""  # sha256 of the sorted NAME@VERSION ids: shards of one catalog agree
    shard: Shard | None = None  # absent once merged, or when run unsharded
    entries: list[EntryHealth] = []

    def entry(self, name: str, version: str) -> EntryHealth | None:
        for entry in self.entries:
            if (entry.name, entry.version) == (name, version):
                return entry
        return None


def availability(record: list[Check]) -> float | None:
    """The share of the checks in `record` that found the entry available."""
    if not record:
        return None
    return sum(check.state == "available" for check in record) / len(record)


def figures(entries: list[EntryHealth]) -> Figures:
    """Entries per state; available now; the mean of the entries' 24-hour availability."""
    states: dict[str, int] = dict.fromkeys(STATES, 0)
    for entry in entries:
        states[entry.state] += 1
    shares = [e.availability_24h for e in entries if e.availability_24h is not None]
    return Figures(
        entries=len(entries),
        states=states,
        available_now=states["available"] / len(entries) if entries else None,
        availability_24h=sum(shares) / len(shares) if shares else None,
    )


def encode(doc: StatusDoc) -> bytes:
    """The file's bytes: compact JSON, one line, ending in a newline."""
    return msgspec.json.encode(doc) + b"\n"


def decode(data: bytes | str, where: str) -> StatusDoc:
    """Read a status document; raises `ValueError` naming `where` and the field at fault."""
    try:
        doc = msgspec.json.decode(data, type=StatusDoc)
    except msgspec.ValidationError as exc:
        version = _schema_version(data)
        if version is not None and version != STATUS_SCHEMA_VERSION:
            raise ValueError(
                f"{where}: status schema version {version}; this tool reads version "
                f"{STATUS_SCHEMA_VERSION}"
            ) from exc
        raise ValueError(f"{where}: not a status document: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"{where}: not JSON: {exc}") from exc
    if doc.schema_version != STATUS_SCHEMA_VERSION:
        raise ValueError(
            f"{where}: status schema version {doc.schema_version}; this tool reads version "
            f"{STATUS_SCHEMA_VERSION}"
        )
    return doc


def _schema_version(data: bytes | str) -> object:
    try:
        head = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    return head.get("schemaVersion") if isinstance(head, dict) else None
