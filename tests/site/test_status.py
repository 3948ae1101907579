"""`site.status.validate_status`: the bounds a status from outside keeps before it is carried, here
in the layout of schemaVersion 1 (still read, to be migrated); the compact layout's own are in
test_status_file.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from image_catalog.errors import CatalogError
from image_catalog.site.contract import StatusDoc
from image_catalog.site.status import (
    CLOCK_SKEW,
    MAX_RECORD,
    MAX_SHARDS,
    SHOWN_PROBLEMS,
    decode,
    status_problems,
    validate_status,
)
from support.health import T0
from support.health import legacy_status_json as status_json

IDS = ["a@1", "b@1"]
NOW = T0 + dt.timedelta(hours=1)
LATER = "2026-03-01T12:00:00Z"  # after NOW by more than the clock skew


def status(**changes: object) -> StatusDoc:
    """A status of IDS checked at T0; top-level fields changed, entry 0's given as `entry_NAME`."""
    document = status_json(IDS)
    for key, value in changes.items():
        if key.startswith("entry_"):
            document["entries"][0][key.removeprefix("entry_")] = value
        else:
            document[key] = value
    return decode(json.dumps(document), "status.json")


def problems(doc: StatusDoc, now: dt.datetime = NOW) -> list[str]:
    return list(status_problems(doc, now))


def test_what_a_check_writes_passes() -> None:
    assert problems(status()) == []
    validate_status(status(), "status.json", NOW)


def test_times_after_now_are_refused_within_the_clock_skew() -> None:
    assert problems(status(checkedAt=LATER)) == [
        "checkedAt: 2026-03-01T12:00:00Z is in the future (now: 2026-03-01T11:00:00Z)"
    ]
    # A runner's clock a little ahead of another's is not a forgery.
    assert problems(status(), T0 - CLOCK_SKEW) == []
    fields = {
        "entry_since": LATER,
        "entry_lastAvailable": LATER,
        "entry_lastChecked": LATER,
        "entry_variants": [{"architecture": "x86_64", "state": "available", "since": LATER}],
        "entry_record": [[LATER, "available"]],
    }
    assert [p.split(":")[0] for p in problems(status(**fields))] == [
        "entries[0].since",
        "entries[0].lastAvailable",
        "entries[0].lastChecked",
        "entries[0].variants[0].since",
        "entries[0].record[0].at",
    ]


def test_counts_and_the_shard_must_make_sense() -> None:
    assert problems(status(entry_consecutiveFailures=-1)) == [
        "entries[0].consecutiveFailures: -1 is negative"
    ]
    assert problems(status(failAfter=0)) == ["failAfter: 0 is less than 1"]
    assert problems(status(catalogEntries=1)) == ["catalogEntries: 1 is fewer than the 2 listed"]
    assert problems(status(shard={"index": 5, "count": 4})) == [
        "shard.index: 5 is more than shard.count (4)"
    ]
    assert problems(status(shard={"index": 1, "count": MAX_SHARDS + 1})) == [
        f"shard.count: {MAX_SHARDS + 1} is more than {MAX_SHARDS} shards"
    ]
    twice = status_json(IDS)
    twice["entries"][1] = dict(twice["entries"][0], name="a\x1b[2J")
    twice["entries"].append(twice["entries"][1])
    twice["catalogEntries"] = 3
    assert problems(decode(json.dumps(twice), "s")) == ["entries[2]: a\\x1b[2J@1 is listed twice"]


def test_a_record_is_bounded_and_in_time_order() -> None:
    check = ["2026-03-01T09:00:00Z", "available"]
    assert problems(status(entry_record=[check] * MAX_RECORD)) == []
    assert problems(status(entry_record=[check] * (MAX_RECORD + 1))) == [
        f"entries[0].record: {MAX_RECORD + 1} checks, more than {MAX_RECORD} (24 hours of a "
        "check a minute)"
    ]
    assert problems(status(entry_record=[check, ["2026-03-01T08:00:00Z", "missing"]])) == [
        "entries[0].record[1].at: 2026-03-01T08:00:00Z is before the check before it"
    ]


def test_a_refusal_names_the_file_and_lists_a_screenful() -> None:
    with pytest.raises(CatalogError) as refused:
        validate_status(status(entry_consecutiveFailures=-2), "prev.json", NOW)
    assert str(refused.value) == "prev.json: entries[0].consecutiveFailures: -2 is negative"
    future = [[LATER, "available"]] * (SHOWN_PROBLEMS + 5)
    with pytest.raises(CatalogError) as refused:
        validate_status(status(entry_record=future), "prev.json", NOW)
    lines = str(refused.value).splitlines()
    assert len(lines) == SHOWN_PROBLEMS + 1
    assert lines[-1] == "prev.json: and 5 more problems"
