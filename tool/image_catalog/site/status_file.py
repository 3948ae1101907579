"""status.json as it is written: the health check's history in a compact layout (schemaVersion 2).

A day of hourly checks over 10,000 entries took 12.7 MB in the layout of schemaVersion 1 (each
entry's record a list of `[TIME, STATE]` pairs, every field spelled out: `contract.StatusDoc`,
still the form the program works with). This layout holds the same information in about a tenth:

- the times of the checks are listed once, for the whole file (`checks`, oldest first, at most
  1,440: 24 hours of a check a minute);
- an entry's record is one letter per check (`RECORD_LETTERS`), aligned to the end of `checks`:
  its last letter is the newest check, `-` a check that did not cover the entry (a shard's);
- what can be computed is left out: an entry's `observed` state and `lastChecked` are its last
  recorded letter and that check's time, its `availability24h` the share of `a` in its record;
- a field with its usual value is left out: `state` available, `consecutiveFailures` 0,
  `lastAvailable` when it is the last check and that found the entry available, a variant's state
  and since when they are its entry's;
- each entry is named once, by its id NAME@VERSION; its variants are keyed by architecture.

`site.status` converts between this and `contract.StatusDoc` (`compact`, `expand`) and validates
it (`file_problems`) before anything is computed from it. This module imports msgspec and the
standard library only, like the rest of `site/`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from image_catalog.site.contract import (
    MovedTag,
    Observed,
    Part,
    State,
    StatusHeader,
    Time,
)

# The status's own format version: 2 since the compact layout (schemaVersion 1 is read and
# migrated); the site's other documents keep `contract.SCHEMA_VERSION`.
STATUS_SCHEMA_VERSION = 2
RECORD_LETTERS: dict[Observed, str] = {
    "available": "a",
    "missing": "m",
    "changed": "c",
    "unreachable": "u",
    "unauthorized": "n",
}
NOT_CHECKED = "-"
LETTER_STATES: dict[str, Observed] = {letter: state for state, letter in RECORD_LETTERS.items()}


def _doc(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


Record = Annotated[
    str,
    msgspec.Meta(
        pattern="^[amcun-]*$",
        description=(
            "One letter per check, aligned to the end of `checks` (the last letter is the newest "
            "check): a available, m missing, c changed, u unreachable, n unauthorized, - not "
            "checked then."
        ),
    ),
]


class VariantRow(Part, kw_only=True):
    """One architecture of an entry: only what differs from the entry."""

    state: Annotated[State | None, _doc("Absent: the entry's state.")] = None
    since: Annotated[Time | None, _doc("When `state` began; absent: the entry's since.")] = None
    detail: str | None = None
    tag_moved: list[MovedTag] = msgspec.field(default_factory=list)


class EntryRow(Part, kw_only=True):
    """One version: its state, since when, its record and its variants."""

    id: Annotated[str, _doc("NAME@VERSION.")]
    state: State = "available"
    since: Annotated[Time, _doc("When `state` began.")]
    observed: Annotated[
        Observed | None,
        _doc("What the last check saw; absent: the state of the record's last check."),
    ] = None
    consecutive_failures: int = 0
    last_available: Annotated[
        Time | None,
        _doc(
            "Absent: lastChecked when the last check found it available, else never available "
            "(as far as the history goes)."
        ),
    ] = None
    last_checked: Annotated[Time | None, _doc("Absent: the time of the record's last check.")] = (
        None
    )
    detail: str | None = None
    deprecated: bool = False
    variants: Annotated[dict[str, VariantRow], _doc("Architecture -> its variant.")] = (
        msgspec.field(default_factory=dict)
    )
    tag_moved: list[MovedTag] = msgspec.field(default_factory=list)
    record: Record = ""


class StatusFile(StatusHeader, tag="Status", kw_only=True):
    """`status.json`: the last health check, each entry's 24-hour record and the catalog's figures.

    The only file that changes at every check: the other files carry a state only, and change
    when a state does. An entry's availability over 24 hours is the share of `a` in its record.
    """

    format_version: ClassVar[int] = STATUS_SCHEMA_VERSION

    checks: Annotated[
        list[Time], _doc("The times of the checks of the last 24 hours, oldest first.")
    ] = msgspec.field(default_factory=list)
    entries: list[EntryRow]
