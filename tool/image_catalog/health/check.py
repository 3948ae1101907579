"""The scheduled health check's history: what the registries say now, carried onto the past.

`record` puts a check's observations (`health.observe`) onto the previous status: when each state
began, failures in a row (after `fail_after` of them an entry is `failed`, and still listed), when
it was last available, and a rolling 24-hour record of at most `MAX_RECORD` checks. Shards split
the catalog by a hash of each entry's name, the same on every run; `merge` joins the outputs of
the shards of one run and refuses a gap, an overlap, shards of different runs and a catalog digest
that is not the digest of the entries the shards hold; the times each shard's check set become
the run's time (the latest shard's), so that a run is one check time in the status. A status is
read from a file or the published site, validated (`site.status.validate_status`) before anything
is carried from it, and written in one step. The use case that runs all this is `commands.check`.

Nothing here writes a manifest or drops an entry: the status is observed state, kept apart from
the catalog (desired state). Time comes from a clock the caller may replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from image_catalog.errors import CatalogError, ExitCode, RegistryUnavailable, UsageError
from image_catalog.fsutil import NotAFile, atomic_write_bytes, read_regular_file
from image_catalog.health.observe import (
    EntryObservation,
    Observation,
    TagNote,
    VariantObservation,
)
from image_catalog.registry.arguments import DEFAULT_TIMEOUT
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    Check,
    EntryHealth,
    MovedTag,
    Shard,
    State,
    StatusDoc,
    VariantHealth,
)
from image_catalog.site.status import (
    INVALID_STATES,
    MAX_RECORD,
    MAX_STATUS_BYTES,
    SHOWN_PROBLEMS,
    UNAVAILABLE_STATES,
    WINDOW,
    availability,
    decode,
    encode_status,
    figures,
)
from image_catalog.text import printable
from image_catalog.web.errors import redact

Clock = Callable[[], dt.datetime]
DEFAULT_FAIL_AFTER = 5


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class PreviousUnavailable(RegistryUnavailable):
    """The previous status could not be fetched: the history would be lost, so retry later."""


def exit_code(status: StatusDoc) -> ExitCode:
    """1 when the catalog is wrong about an entry, 4 when an entry could not be seen, else 0.

    A deprecated version is reported like any other but never fails the check: a deprecated
    image that leaves its registry is what deprecation is for.
    """
    states = {e.state for e in status.entries if not e.deprecated}
    if states & INVALID_STATES:
        return ExitCode.INVALID
    if states & UNAVAILABLE_STATES:
        return ExitCode.UNAVAILABLE
    return ExitCode.OK


# --- shards --------------------------------------------------------------------------------------


def parse_shard(text: str) -> Shard:
    """`I/N`, 1 <= I <= N; raises ValueError."""
    index, slash, count = text.partition("/")
    if not slash or not index.isdigit() or not count.isdigit():
        raise ValueError(f"{text!r} is not a shard I/N (e.g. 2/4)")
    shard = Shard(index=int(index), count=int(count))
    if not 1 <= shard.index <= shard.count:
        raise ValueError(f"shard {text}: I must be from 1 to N")
    return shard


def in_shard(entry_id: str, shard: Shard) -> bool:
    """Whether NAME@VERSION belongs to the shard: by a hash of the name, the same on every run."""
    number = int.from_bytes(hashlib.sha256(entry_id.encode()).digest()[:8], "big")
    return number % shard.count == shard.index - 1


def catalog_digest(ids: Sequence[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


# --- history -------------------------------------------------------------------------------------


def record(
    observation: Observation,
    previous: StatusDoc | None,
    *,
    now: dt.datetime,
    fail_after: int,
    shard: Shard | None,
    catalog_ids: Sequence[str],
) -> StatusDoc:
    """The new status: this check's observations on top of the previous status's history."""
    before = {e.id: e for e in previous.entries} if previous is not None else {}
    entries = [_carry(o, before.get(o.id), now, fail_after) for o in observation.entries]
    return StatusDoc(
        schema_version=SCHEMA_VERSION,
        checked_at=now,
        fail_after=fail_after,
        catalog_entries=len(catalog_ids),
        catalog_digest=catalog_digest(catalog_ids),
        shard=shard,
        figures=figures(entries),
        entries=entries,
    )


def _carry(
    now_seen: EntryObservation, before: EntryHealth | None, now: dt.datetime, fail_after: int
) -> EntryHealth:
    ok = now_seen.state == "available"
    failures = 0 if ok else (before.consecutive_failures if before else 0) + 1
    state: State = "failed" if failures >= fail_after else now_seen.state
    start = now - WINDOW
    history = [c for c in before.record if start < c.at < now] if before else []
    # The newest checks only: a record of a check run more often than once a minute stays within
    # what a status may hold, so the next check reads it back.
    history = history[-(MAX_RECORD - 1) :]
    checks = [*history, Check(now, now_seen.state)]
    previous_variants = {v.architecture: v for v in before.variants} if before else {}
    return EntryHealth(
        name=now_seen.name,
        version=now_seen.version,
        state=state,
        since=before.since if before is not None and before.state == state else now,
        observed=now_seen.state,
        consecutive_failures=failures,
        last_available=now if ok else (before.last_available if before else None),
        last_checked=now,
        availability_24h=availability(checks),
        detail=now_seen.detail,
        deprecated=now_seen.deprecated,
        variants=[
            _variant(v, previous_variants.get(v.architecture), now, failed=state == "failed")
            for v in now_seen.variants
        ],
        tag_moved=_moved(now_seen.moved_tags),
        record=checks,
    )


def _variant(
    now_seen: VariantObservation, before: VariantHealth | None, now: dt.datetime, *, failed: bool
) -> VariantHealth:
    state: State = "failed" if failed and now_seen.state != "available" else now_seen.state
    return VariantHealth(
        architecture=now_seen.architecture,
        state=state,
        since=before.since if before is not None and before.state == state else now,
        detail=now_seen.detail,
        tag_moved=_moved(now_seen.moved_tags),
    )


def _moved(notes: Sequence[TagNote]) -> list[MovedTag]:
    return [MovedTag(field=n.field, tag=n.tag, digest=n.digest) for n in notes]


# --- merging shards ------------------------------------------------------------------------------


def merge(docs: Sequence[tuple[str, StatusDoc]]) -> StatusDoc:
    """One status from the outputs of every shard of one run.

    Refused unless the shards are of one run (one count, one failure threshold, one catalog)
    and cover every entry exactly once. Each shard is validated already (`load`), so its count
    is small. The catalog's identity is recomputed from the entries merged, never taken from a
    shard's word: a renamed entry or a forged digest does not match it.
    """
    if not docs:
        raise UsageError("check merge needs at least one status file")
    seen: dict[str, str] = {}  # id -> the file it came from
    problems = [*_run_problems(docs), *_cover_problems(docs, seen)]
    if not problems:
        problems = _catalog_problems(docs, seen)
    if problems:
        # Listed up to a screenful: a forged shard may put every entry out of place.
        more = len(problems) - SHOWN_PROBLEMS
        shown = problems[:SHOWN_PROBLEMS] + ([f"and {more} more"] if more > 0 else [])
        raise CatalogError(
            "refusing to merge: the shards must cover every entry exactly once:\n"
            + "\n".join(f"  {p}" for p in shown)
        )
    _, first = docs[0]
    run = max(doc.checked_at for _, doc in docs)
    entries = sorted(
        (_at_run_time(entry, doc.checked_at, run) for _, doc in docs for entry in doc.entries),
        key=lambda e: (e.name, e.version),
    )
    return StatusDoc(
        schema_version=SCHEMA_VERSION,
        checked_at=run,
        fail_after=first.fail_after,
        catalog_entries=len(entries),
        catalog_digest=catalog_digest([e.id for e in entries]),
        figures=figures(entries),
        entries=entries,
    )


def _at_run_time(entry: EntryHealth, shard_time: dt.datetime, run: dt.datetime) -> EntryHealth:
    """The entry with the times its shard's check set (`shard_time`) moved to the run's time.

    The shards of one run start minutes apart; recorded at one time, the run is one check time
    in the status (`checks`) rather than one per shard, so the records stay one letter a run.
    """
    if shard_time == run:
        return entry

    def moved(at: dt.datetime) -> dt.datetime:
        return run if at == shard_time else at

    return msgspec.structs.replace(
        entry,
        since=moved(entry.since),
        last_available=entry.last_available and moved(entry.last_available),
        last_checked=entry.last_checked and moved(entry.last_checked),
        variants=[msgspec.structs.replace(v, since=moved(v.since)) for v in entry.variants],
        record=[Check(moved(c.at), c.state) for c in entry.record],
    )


def _run_problems(docs: Sequence[tuple[str, StatusDoc]]) -> list[str]:
    """Shards of other runs, another catalog or count, and shards given twice or missing."""
    first_file, first = docs[0]
    count = first.shard.count if first.shard else 1
    by_index: dict[int, str] = {}
    problems: list[str] = []
    for file, doc in docs:
        shard = doc.shard or Shard(index=1, count=1)
        if shard.count != count:
            problems.append(f"{file}: shard.count: {shard.count}, where {first_file} has {count}")
            continue
        if (doc.catalog_digest, doc.catalog_entries) != (
            first.catalog_digest,
            first.catalog_entries,
        ):
            problems.append(f"{file} checked another catalog than {first_file}")
        if doc.fail_after != first.fail_after:
            problems.append(
                f"{file}: failAfter: {doc.fail_after}, where {first_file} has {first.fail_after}"
            )
        if shard.index in by_index:
            problems.append(
                f"shard {shard.index}/{count} is given twice: {by_index[shard.index]} and {file}"
            )
        by_index.setdefault(shard.index, file)
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in by_index]
    if missing:
        problems.append(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing")
    return problems


def _cover_problems(docs: Sequence[tuple[str, StatusDoc]], seen: dict[str, str]) -> list[str]:
    """Entries outside their shard or in two shards; `seen` gets every id and its file."""
    problems: list[str] = []
    for file, doc in docs:
        shard = doc.shard or Shard(index=1, count=1)
        for number, entry in enumerate(doc.entries):
            shown = printable(entry.id)
            if not in_shard(entry.id, shard):
                problems.append(
                    f"{file}: entries[{number}]: {shown} is not of shard {shard.index}/"
                    f"{shard.count}"
                )
            if entry.id in seen and seen[entry.id] != file:  # the same file twice is said once
                problems.append(f"{shown} is in both {seen[entry.id]} and {file}")
            seen.setdefault(entry.id, file)
    return problems


def _catalog_problems(docs: Sequence[tuple[str, StatusDoc]], seen: dict[str, str]) -> list[str]:
    """The catalog the shards claim to have checked, against the entries they hold."""
    first_file, first = docs[0]
    if len(seen) != first.catalog_entries:
        return [
            f"{first_file}: catalogEntries: {first.catalog_entries}, but the shards hold "
            f"{len(seen)} entries"
        ]
    digest = catalog_digest(list(seen))
    return [
        f"{file}: catalogDigest: {printable(doc.catalog_digest)} is not the digest of the "
        f"entries the shards hold ({digest})"
        for file, doc in docs
        if doc.catalog_digest != digest
    ]


# --- reading and writing -------------------------------------------------------------------------


def load(
    source: str, *, now: dt.datetime, timeout: float = DEFAULT_TIMEOUT
) -> tuple[StatusDoc | None, list[str]]:
    """A status from a file or an http(s) URL, validated as of `now`, and warnings.

    A URL that answers 404 gives no status (the first check of a new site) and a warning; one
    that cannot be reached within `timeout` seconds in all is an error, so that no history is
    lost by a hiccup. Either is read no further than a status can be (`MAX_STATUS_BYTES`), and a
    file must be a regular file (no FIFO or device is waited on). A status whose values cannot
    be carried (`site.status.validate_status`: times after `now`, negative counts, an endless
    record, a shard beyond its count) is refused, naming the field.
    """
    shown = printable(redact(source))
    if source.startswith(("http://", "https://")):
        data = _fetch(source, timeout)
        if data is None:
            return None, [f"{shown} has no status yet (404): starting without history"]
    else:
        try:
            data = read_regular_file(Path(source), MAX_STATUS_BYTES, follow_links=True)
        except NotAFile as exc:
            raise CatalogError(f"{shown}: not a status file: {exc.message}") from exc
        except OSError as exc:
            raise UsageError(f"{shown}: cannot read the status file: {exc.strerror}") from exc
    return decode(data, shown, now), []


def _fetch(url: str, timeout: float) -> bytes | None:
    from image_catalog.web.errors import FetchError, ServerUnreachable
    from image_catalog.web.fetch import FetchLimits, get

    shown = printable(redact(url))
    headers = {"Accept": "application/json", "Accept-Encoding": "gzip"}
    limits = FetchLimits(MAX_STATUS_BYTES, MAX_STATUS_BYTES, deadline=timeout, timeout=timeout)
    try:
        reply = get(url, headers, limits, what=shown)
    except ServerUnreachable as exc:
        raise PreviousUnavailable(
            f"{shown} could not be reached ({printable(str(exc))}): the previous status is "
            "needed for the history; retry later"
        ) from exc
    except FetchError as exc:
        raise CatalogError(printable(str(exc))) from exc
    if reply.status == 404:
        return None
    if not 200 <= reply.status < 300:
        raise PreviousUnavailable(
            f"{shown} answered {reply.status} {printable(reply.reason)}: the previous status is "
            "needed for the history; retry later"
        )
    return reply.body


def read(path: Path, *, now: dt.datetime) -> StatusDoc:
    """A status file given on the command line (a shard's, for check merge), as of `now`."""
    doc, _ = load(str(path), now=now)
    assert doc is not None
    return doc


def write(path: Path, status: StatusDoc) -> None:
    """Write the status in one step: a reader sees the old file or the new one."""
    try:
        atomic_write_bytes(path, encode_status(status))
    except OSError as exc:
        raise CatalogError(f"cannot write the status to {path}: {exc.strerror or exc}") from exc
