"""`status.json`: what the scheduled health check found.

`image-catalog check` writes it, `check merge` joins shard outputs, `index build --status` reads it
into the site, and the next check reads the published copy back as its history. Observed state is
not desired state: this file is the only place registry health lives besides the state (and the
time it began) in the index's summaries and version documents.

Every time is UTC. Each entry keeps a rolling 24-hour record of its checks, from which its
availability over 24 hours is computed; the catalog-wide figures are computed from the entries.

The program works with `contract.StatusDoc`; the file holds it in the compact layout of
`site.status_file` (schemaVersion 2): `encode_status` writes it (`compact`), `decode` reads it back
(`expand`), and reads a schemaVersion 1 file (the expanded layout) as it is, so that the next
write migrates it. `compact` keeps the newest `MAX_RECORD` check times, so what it writes is
always read back; `expand(compact(doc))` gives back a status the check made, entry for entry.

`validate_status` holds the bounds a status read from outside (a previous check, a shard, the
status an index is built with) must keep before anything is carried from it, in either layout,
naming the field as the file spells it. The check, `check merge` and `index build` all validate
through it (`decode` with a time), so a status one of them accepts, the others accept too; and
what `check` writes always passes. The reader decodes without a time: a compact status is checked
for everything but times in the future (the reader has no clock to hold them to).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import msgspec

from image_catalog.errors import CatalogError
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    Check,
    EntryHealth,
    Figures,
    State,
    StatusDoc,
    VariantHealth,
)
from image_catalog.site.parse import parser, too_deep
from image_catalog.site.status_file import (
    LETTER_STATES,
    NOT_CHECKED,
    RECORD_LETTERS,
    STATUS_SCHEMA_VERSION,
    EntryRow,
    StatusFile,
    VariantRow,
)
from image_catalog.text import printable

STATUS_FILE = "status.json"
# The most bytes a status may hold, read from a file or a server. A compact status takes about
# 130 kB a 1,000 entries with a day of hourly checks; a schemaVersion 1 file, read once to be
# migrated, took ten times that.
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
# The most checks a record may hold: the 24-hour window at one check a minute, faster than any
# schedule runs (CI schedules run every five minutes at the fastest). A status keeps the newest of
# them only, so what is written always fits; a longer record was not written by a check.
MAX_RECORD = 24 * 60
# The most shards a run may be split into: a CI matrix holds at most a few hundred jobs, and a
# merge enumerates every shard of the count it is given, so a forged count must stay small.
MAX_SHARDS = 1000
# Clocks of the machines that check, merge and build differ by this much at most (CI runners are
# synchronised); a time later than now by more than this was not written by a check.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The problems a refusal lists one by one; the rest are counted.
SHOWN_PROBLEMS = 20


def availability(record: Sequence[Check]) -> float | None:
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


# --- reading and writing -------------------------------------------------------------------------


class _Version(msgspec.Struct, rename="camel"):
    schema_version: Any = None


def decode(data: bytes | str, where: str, now: dt.datetime | None = None) -> StatusDoc:
    """Read a status document, in either layout, the way the reader reads every site document.

    With `now`, the status is also validated as of then (`validate_status`); without, a compact
    one is checked for everything but times in the future, and one of schemaVersion 1 is taken
    as it decodes (as the reader always took it). Raises `CatalogError` naming `where` and what
    is wrong: JSON, schemaVersion, kind or a field.
    """
    try:
        version = msgspec.json.decode(data, type=_Version).schema_version
    except (msgspec.DecodeError, msgspec.ValidationError):
        version = None  # the parser below says what is wrong
    except RecursionError as exc:
        raise too_deep(where) from exc
    if version == SCHEMA_VERSION and not isinstance(version, bool):
        doc = parser(StatusDoc)(data, where)
        if now is not None:
            validate_status(doc, where, now)
        return doc
    file = parser(StatusFile)(data, where)
    _refuse(where, file_problems(file, now))
    return expand(file)


# Fields in the order the format defines them (the header first, each entry's id first) and each
# entry's variants in the entry's order: the same status always gives the same bytes.
_ENCODER = msgspec.json.Encoder()


def encode_status(status: StatusDoc) -> bytes:
    """The bytes of status.json: `status` in the compact layout."""
    return _ENCODER.encode(compact(status))


def compact(status: StatusDoc) -> StatusFile:
    """`status` in the layout of `site.status_file`, with the newest `MAX_RECORD` check times."""
    times = sorted({check.at for entry in status.entries for check in entry.record})
    times = times[-MAX_RECORD:]
    position = {at: number for number, at in enumerate(times)}
    return StatusFile(
        schema_version=STATUS_SCHEMA_VERSION,
        checked_at=status.checked_at,
        fail_after=status.fail_after,
        catalog_entries=status.catalog_entries,
        catalog_digest=status.catalog_digest,
        shard=status.shard,
        figures=status.figures,
        checks=times,
        entries=[_row(entry, position, len(times)) for entry in status.entries],
    )


def _row(entry: EntryHealth, position: dict[dt.datetime, int], count: int) -> EntryRow:
    letters = [NOT_CHECKED] * count
    first = count
    last: Check | None = None
    for check in entry.record:
        number = position.get(check.at)
        if number is not None:  # a check older than the times kept is dropped
            letters[number] = RECORD_LETTERS[check.state]
            first = min(first, number)
            last = check
    last_checked = last.at if last is not None else None
    usual_available = entry.last_checked if entry.observed == "available" else None
    return EntryRow(
        id=entry.id,
        state=entry.state,
        since=entry.since,
        observed=None if last is not None and last.state == entry.observed else entry.observed,
        consecutive_failures=entry.consecutive_failures,
        last_available=None if entry.last_available == usual_available else entry.last_available,
        last_checked=None if entry.last_checked == last_checked else entry.last_checked,
        detail=entry.detail,
        deprecated=entry.deprecated,
        variants={
            v.architecture: VariantRow(
                state=None if v.state == entry.state else v.state,
                since=None if v.since == entry.since else v.since,
                detail=v.detail,
                tag_moved=v.tag_moved,
            )
            for v in entry.variants
        },
        tag_moved=entry.tag_moved,
        record="".join(letters[first:]),
    )


def expand(file: StatusFile) -> StatusDoc:
    """The status a compact file holds, as the program uses it; `file` passed `file_problems`."""
    return StatusDoc(
        schema_version=SCHEMA_VERSION,  # the version of this expanded layout, not the file's
        checked_at=file.checked_at,
        fail_after=file.fail_after,
        catalog_entries=file.catalog_entries,
        catalog_digest=file.catalog_digest,
        shard=file.shard,
        figures=file.figures,
        entries=[_entry(row, file.checks) for row in file.entries],
    )


def _entry(row: EntryRow, times: list[dt.datetime]) -> EntryHealth:
    start = len(times) - len(row.record)
    record = [
        Check(times[start + number], LETTER_STATES[letter])
        for number, letter in enumerate(row.record)
        if letter != NOT_CHECKED
    ]
    last = record[-1] if record else None
    observed = row.observed or (last.state if last is not None else "available")
    last_checked = row.last_checked or (last.at if last is not None else None)
    name, _, version = row.id.partition("@")
    return EntryHealth(
        name=name,
        version=version,
        state=row.state,
        since=row.since,
        observed=observed,
        consecutive_failures=row.consecutive_failures,
        last_available=row.last_available or (last_checked if observed == "available" else None),
        last_checked=last_checked,
        availability_24h=availability(record),
        detail=row.detail,
        deprecated=row.deprecated,
        variants=[
            VariantHealth(
                architecture=architecture,
                state=variant.state or row.state,
                since=variant.since or row.since,
                detail=variant.detail,
                tag_moved=variant.tag_moved,
            )
            for architecture, variant in row.variants.items()
        ],
        tag_moved=row.tag_moved,
        record=record,
    )


# --- validation ----------------------------------------------------------------------------------


def validate_status(doc: StatusDoc | StatusFile, where: str, now: dt.datetime) -> None:
    """Refuse a status whose values decode but cannot be carried: times after `now`, a negative
    count, a record longer than `MAX_RECORD`, times out of order, a shard beyond its count, an
    entry listed twice.

    Raises `CatalogError`, one line `WHERE: FIELD: what is wrong` per problem (the first
    `SHOWN_PROBLEMS` of them, then how many more).
    """
    found = file_problems(doc, now) if isinstance(doc, StatusFile) else status_problems(doc, now)
    _refuse(where, found)


def _refuse(where: str, found: Iterator[str]) -> None:
    shown = list(islice(found, SHOWN_PROBLEMS))
    if not shown:
        return
    lines = [f"{where}: {problem}" for problem in shown]
    more = sum(1 for _ in found)
    if more:
        lines.append(f"{where}: and {more} more problem{'s' if more > 1 else ''}")
    raise CatalogError("\n".join(lines))


def _header_problems(doc: StatusDoc | StatusFile, latest: dt.datetime | None) -> Iterator[str]:
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


def file_problems(file: StatusFile, now: dt.datetime | None) -> Iterator[str]:
    """`FIELD: what is wrong` for each value of a compact status that cannot be carried at time
    `now`; without `now`, every problem but times in the future (`expand` reads what passes)."""
    latest = now + CLOCK_SKEW if now is not None else None
    yield from _header_problems(file, latest)
    count = len(file.checks)
    if count > MAX_RECORD:
        yield f"checks: {count} times, more than {MAX_RECORD} (24 hours of a check a minute)"
        return
    before: dt.datetime | None = None
    for number, time in enumerate(file.checks):
        yield from _future(f"checks[{number}]", time, latest)
        if before is not None and time <= before:
            yield f"checks[{number}]: {_time(time)} is not after the check before it"
        before = time
    seen: set[str] = set()
    for number, row in enumerate(file.entries):
        at = f"entries[{number}]"
        if row.id in seen:
            yield f"{at}.id: {printable(row.id)} is listed twice"
        seen.add(row.id)
        yield from _row_problems(row, at, count, latest)


def _row_problems(row: EntryRow, at: str, count: int, latest: dt.datetime | None) -> Iterator[str]:
    name, _, version = row.id.partition("@")
    if not name or not version:
        yield f"{at}.id: {printable(row.id)} is not NAME@VERSION"
    if row.consecutive_failures < 0:
        yield f"{at}.consecutiveFailures: {row.consecutive_failures} is negative"
    yield from _future(f"{at}.since", row.since, latest)
    yield from _future(f"{at}.lastAvailable", row.last_available, latest)
    yield from _future(f"{at}.lastChecked", row.last_checked, latest)
    for architecture, variant in row.variants.items():
        yield from _future(f"{at}.variants.{printable(architecture)}.since", variant.since, latest)
    if len(row.record) > count:
        yield f"{at}.record: {len(row.record)} checks, more than the {count} times in checks"
    elif row.observed is None and not row.record.strip(NOT_CHECKED):
        yield f"{at}.observed: absent, and the record holds no check to take it from"


def status_problems(doc: StatusDoc, now: dt.datetime) -> Iterator[str]:
    """`FIELD: what is wrong` for each value of a schemaVersion 1 status (the layout of
    `contract.StatusDoc`) that cannot be carried at time `now`."""
    latest = now + CLOCK_SKEW
    yield from _header_problems(doc, latest)
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


def _future(field: str, value: dt.datetime | None, latest: dt.datetime | None) -> Iterator[str]:
    if value is not None and latest is not None and value > latest:
        yield f"{field}: {_time(value)} is in the future (now: {_time(latest - CLOCK_SKEW)})"


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
