"""The scheduled health check's history: what the registries say now, carried onto the past.

`record` puts a check's observations (`health.observe`) onto the previous status: when each state
began, failures in a row (after `fail_after` of them an entry is `failed`, and still listed), when
it was last available, and a rolling 24-hour record. Shards split the catalog by a hash of each
entry's name, the same on every run; `merge` joins the outputs of the shards of one run and
refuses a gap or an overlap. A status is read from a file or the published site and written in one
step. The use case that runs all this is `commands.check`.

Nothing here writes a manifest or drops an entry: the status is observed state, kept apart from
the catalog (desired state). Time comes from a clock the caller may replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from image_catalog.errors import CatalogError, ExitCode, RegistryUnavailable, UsageError
from image_catalog.fsutil import NotAFile, atomic_write_bytes, read_regular_file
from image_catalog.health.observe import (
    EntryObservation,
    Observation,
    TagNote,
    VariantObservation,
)
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    Check,
    EntryHealth,
    MovedTag,
    Shard,
    State,
    StatusDoc,
    VariantHealth,
    encode,
)
from image_catalog.site.status import (
    INVALID_STATES,
    MAX_STATUS_BYTES,
    UNAVAILABLE_STATES,
    WINDOW,
    availability,
    decode,
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
    """One status from the outputs of every shard of one run; a gap or an overlap is refused."""
    if not docs:
        raise UsageError("check merge needs at least one status file")
    first_file, first = docs[0]
    count = first.shard.count if first.shard else 1
    by_index: dict[int, str] = {}
    problems: list[str] = []
    for file, doc in docs:
        shard = doc.shard or Shard(index=1, count=1)
        if shard.count != count:
            problems.append(
                f"{file} is shard {shard.index}/{shard.count}, {first_file} one of {count}"
            )
            continue
        if (doc.catalog_digest, doc.catalog_entries) != (
            first.catalog_digest,
            first.catalog_entries,
        ):
            problems.append(f"{file} checked another catalog than {first_file}")
        if doc.fail_after != first.fail_after:
            problems.append(
                f"{file} fails after {doc.fail_after} checks, {first_file} after {first.fail_after}"
            )
        if shard.index in by_index:
            problems.append(
                f"shard {shard.index}/{count} is given twice: {by_index[shard.index]} and {file}"
            )
        by_index.setdefault(shard.index, file)
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in by_index]
    if missing:
        problems.append(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing")
    seen: dict[str, str] = {}
    for file, doc in docs:
        for entry in doc.entries:
            if entry.id in seen and seen[entry.id] != file:
                problems.append(f"{entry.id} is in both {seen[entry.id]} and {file}")
            seen.setdefault(entry.id, file)
    if not problems and len(seen) != first.catalog_entries:
        problems.append(f"the shards hold {len(seen)} entries, the catalog {first.catalog_entries}")
    if problems:
        raise CatalogError(
            "refusing to merge: the shards must cover every entry exactly once:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    entries = sorted(
        (entry for _, doc in docs for entry in doc.entries), key=lambda e: (e.name, e.version)
    )
    return StatusDoc(
        schema_version=SCHEMA_VERSION,
        checked_at=max(doc.checked_at for _, doc in docs),
        fail_after=first.fail_after,
        catalog_entries=first.catalog_entries,
        catalog_digest=first.catalog_digest,
        figures=figures(entries),
        entries=entries,
    )


# --- reading and writing -------------------------------------------------------------------------


def load(source: str, *, timeout: float = 30.0) -> tuple[StatusDoc | None, list[str]]:
    """A status from a file or an http(s) URL, and warnings.

    A URL that answers 404 gives no status (the first check of a new site) and a warning; one
    that cannot be reached within `timeout` seconds in all is an error, so that no history is
    lost by a hiccup. Either is read no further than a status can be (`MAX_STATUS_BYTES`), and a
    file must be a regular file (no FIFO or device is waited on).
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
    return decode(data, shown), []


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


def read(path: Path) -> StatusDoc:
    """A status file given on the command line (check merge, index build --status)."""
    doc, _ = load(str(path))
    assert doc is not None
    return doc


def write(path: Path, status: StatusDoc) -> None:
    """Write the status in one step: a reader sees the old file or the new one."""
    try:
        atomic_write_bytes(path, encode(status))
    except OSError as exc:
        raise CatalogError(f"cannot write the status to {path}: {exc.strerror or exc}") from exc
