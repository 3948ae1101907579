"""`status.json`: what the scheduled health check found.

`image-catalog check` writes it, `check merge` joins shard outputs, `index build --status` reads it
into the site, and the next check reads the published copy back as its history. Observed state is
not desired state: this file is the only place registry health lives besides the state (and the
time it began) in the index's summaries and version documents.

Every time is UTC. Each entry keeps a rolling 24-hour record of its checks, from which its
availability over 24 hours is computed; the catalog-wide figures are computed from the entries.

The format itself is `contract.StatusDoc`, one of the site's documents: this module holds what
is computed from it, how a status file is read and written, and `validate_status`: the bounds a
status read from outside (a previous check, a shard, the status an index is built with) must keep
before anything is carried from it. The check, `check merge` and `index build` all validate through
it, so a status one of them accepts, the others accept too; and what `check` writes always passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice

from image_catalog.errors import CatalogError
from image_catalog.site.contract import (
    Check,
    EntryHealth,
    Figures,
    State,
    StatusDoc,
)
from image_catalog.site.parse import parser
from image_catalog.text import printable

STATUS_FILE = "status.json"
# The most bytes a status may hold, read from a file or a server (about 1 MB a 1,000 entries).
MAX_STATUS_BYTES = 128 * 1024 * 1024
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
# The most checks an entry's record may hold: the 24-hour window at one check a minute, faster than
# any schedule runs (CI schedules run every five minutes at the fastest). The check keeps the
# newest of them only, so what it writes always fits; a longer record was not written by a check.
MAX_RECORD = 24 * 60
# The most shards a run may be split into: a CI matrix holds at most a few hundred jobs, and a
# merge enumerates every shard of the count it is given, so a forged count must stay small.
MAX_SHARDS = 1000
# Clocks of the machines that check, merge and build differ by this much at most (CI runners are
# synchronised); a time later than now by more than this was not written by a check.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The problems a refusal lists one by one; the rest are counted.
SHOWN_PROBLEMS = 20


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


def decode(data: bytes | str, where: str) -> StatusDoc:
    """Read a status document the way the reader reads every site document.

    Raises `CatalogError` naming `where` and what is wrong: JSON, schemaVersion, kind or a field.
    """
    return parser(StatusDoc)(data, where)


def validate_status(doc: StatusDoc, where: str, now: dt.datetime) -> None:
    """Refuse a status whose values decode but cannot be carried: times after `now`, a negative
    count, a record longer than `MAX_RECORD`, a shard beyond its count, an entry listed twice.

    Raises `CatalogError`, one line `WHERE: FIELD: what is wrong` per problem (the first
    `SHOWN_PROBLEMS` of them, then how many more).
    """
    found = status_problems(doc, now)
    shown = list(islice(found, SHOWN_PROBLEMS))
    if not shown:
        return
    lines = [f"{where}: {problem}" for problem in shown]
    more = sum(1 for _ in found)
    if more:
        lines.append(f"{where}: and {more} more problem{'s' if more > 1 else ''}")
    raise CatalogError("\n".join(lines))


def status_problems(doc: StatusDoc, now: dt.datetime) -> Iterator[str]:
    """`FIELD: what is wrong` for each value of `doc` that cannot be carried at time `now`."""
    latest = now + CLOCK_SKEW
    yield from _future("checkedAt", doc.checked_at, latest)
    if doc.fail_after < 1:
        yield f"failAfter: {doc.fail_after} is less than 1"
    if doc.catalog_entries < len(doc.entries):
        yield f"catalogEntries: {doc.catalog_entries} is fewer than the {len(doc.entries)} listed"
    if doc.shard is not None:
        if doc.shard.count > MAX_SHARDS:
            yield f"shard.count: {doc.shard.count} is more than {MAX_SHARDS} shards"
        if doc.shard.index > doc.shard.count:
            yield f"shard.index: {doc.shard.index} is more than shard.count ({doc.shard.count})"
    seen: set[str] = set()
    for number, entry in enumerate(doc.entries):
        at = f"entries[{number}]"
        if entry.id in seen:
            yield f"{at}: {printable(entry.id)} is listed twice"
        seen.add(entry.id)
        yield from _entry_problems(entry, at, latest)


def _entry_problems(entry: EntryHealth, at: str, latest: dt.datetime) -> Iterator[str]:
    if entry.consecutive_failures < 0:
        yield f"{at}.consecutiveFailures: {entry.consecutive_failures} is negative"
    yield from _future(f"{at}.since", entry.since, latest)
    yield from _future(f"{at}.lastAvailable", entry.last_available, latest)
    yield from _future(f"{at}.lastChecked", entry.last_checked, latest)
    for number, variant in enumerate(entry.variants):
        yield from _future(f"{at}.variants[{number}].since", variant.since, latest)
    if len(entry.record) > MAX_RECORD:
        yield (
            f"{at}.record: {len(entry.record)} checks, more than {MAX_RECORD} (24 hours of a "
            "check a minute)"
        )
        return
    before: dt.datetime | None = None
    for number, check in enumerate(entry.record):
        yield from _future(f"{at}.record[{number}].at", check.at, latest)
        if before is not None and check.at < before:
            yield f"{at}.record[{number}].at: {_time(check.at)} is before the check before it"
        before = check.at


def _future(field: str, value: dt.datetime | None, latest: dt.datetime) -> Iterator[str]:
    if value is not None and value > latest:
        yield f"{field}: {_time(value)} is in the future (now: {_time(latest - CLOCK_SKEW)})"


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
