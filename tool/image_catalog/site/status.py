"""`status.json`: what the scheduled health check found.

`image-catalog check` writes it, `check merge` joins shard outputs, `index build --status` reads it
into the site, and the next check reads the published copy back as its history. Observed state is
not desired state: this file is the only place registry health lives besides the state (and the
time it began) in the index's summaries and version documents.

Every time is UTC. Each entry keeps a rolling 24-hour record of its checks, from which its
availability over 24 hours is computed; the catalog-wide figures are computed from the entries.

The format itself is `contract.StatusDoc`, one of the site's documents: this module holds what
is computed from it, and how a status file is read and written.
"""

from __future__ import annotations

import datetime as dt

from image_catalog.site.contract import (
    Check,
    EntryHealth,
    Figures,
    State,
    StatusDoc,
)
from image_catalog.site.parse import parser

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
