"""The compact layout of status.json (`site.status_file`, schemaVersion 2): what a check makes comes
back as it was, a schemaVersion 1 file is read and written back compact, and the bounds of
`validate_status` hold on it, each naming the field as the file spells it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from image_catalog.errors import CatalogError
from image_catalog.health import check as health
from image_catalog.health.observe import EntryObservation, Observation, VariantObservation
from image_catalog.site import kinds
from image_catalog.site.contract import Check, StatusDoc, encode
from image_catalog.site.parse import parser
from image_catalog.site.status import (
    CLOCK_SKEW,
    MAX_RECORD,
    MAX_SHARDS,
    compact,
    decode,
    encode_status,
    expand,
    file_problems,
    validate_status,
)
from image_catalog.site.status_file import STATUS_SCHEMA_VERSION, StatusFile
from support.health import T0, status_json

LEGACY = Path(__file__).parent.parent / "fixtures/status/v1.json"  # written by the check before
IDS = ["a@1", "b@1"]
NOW = T0 + dt.timedelta(hours=1)
LATER = "2026-03-01T12:00:00Z"  # after NOW by more than the clock skew
HOUR = dt.timedelta(hours=1)


def _day(entries: int, checks: int) -> StatusDoc:
    """The status after `checks` hourly checks of `entries` entries, one of them failing."""
    ids = [f"image-{n}@1.{n}" for n in range(entries)]
    status = None
    for hour in range(checks):
        seen = [
            EntryObservation(
                name=f"image-{n}",
                version=f"1.{n}",
                state="missing" if (n, hour % 3) == (1, 0) else "available",
                deprecated=False,
                variants=(
                    VariantObservation("x86_64", "available"),
                    VariantObservation(
                        "aarch64", "missing" if (n, hour % 3) == (1, 0) else "available"
                    ),
                ),
            )
            for n in range(entries)
        ]
        status = health.record(
            Observation(entries=seen),
            status,
            now=T0 + hour * HOUR,
            fail_after=health.DEFAULT_FAIL_AFTER,
            shard=None,
            catalog_ids=ids,
        )
    assert status is not None
    return status


def _file(**changes: object) -> StatusFile:
    """The compact status of IDS checked at T0; top-level fields changed, entry 0's given as
    `entry_NAME`; decoded without being validated."""
    document: dict[str, Any] = status_json(IDS)
    for key, value in changes.items():
        if key.startswith("entry_"):
            document["entries"][0][key.removeprefix("entry_")] = value
        else:
            document[key] = value
    return parser(StatusFile)(json.dumps(document), "status.json")


def problems(file: StatusFile, now: dt.datetime | None = NOW) -> list[str]:
    return list(file_problems(file, now))


# --- the layout ----------------------------------------------------------------------------------


def test_a_day_of_checks_comes_back_as_it_was_and_takes_a_fraction_of_the_expanded_layout() -> None:
    day = _day(entries=50, checks=24)
    written = encode_status(day)
    assert decode(written, "status.json", T0 + 24 * HOUR) == day
    assert expand(compact(day)) == day
    # The expanded layout (schemaVersion 1) spelled out every check of every entry.
    assert len(written) * 5 < len(encode(day))


def test_the_file_passes_the_json_schema_the_site_publishes() -> None:
    schema = json.loads(kinds.schemas()["status.schema.json"])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(encode_status(_day(entries=3, checks=4))))
    validator.validate(json.loads(encode_status(decode(LEGACY.read_bytes(), "legacy"))))
    assert list(validator.iter_errors(json.loads(LEGACY.read_bytes())))  # the layout before


def test_the_file_lists_the_check_times_once_and_a_letter_per_check() -> None:
    written = json.loads(encode_status(_day(entries=2, checks=4)))
    assert (written["kind"], written["schemaVersion"]) == ("Status", STATUS_SCHEMA_VERSION)
    assert written["checks"] == [
        (T0 + hour * HOUR).strftime("%Y-%m-%dT%H:%M:%SZ") for hour in range(4)
    ]
    healthy, failing = written["entries"]
    # Usual values are left out: state available, no failures, variants as their entry.
    assert healthy == {
        "id": "image-0@1.0",
        "since": "2026-03-01T10:00:00Z",
        "variants": {"x86_64": {}, "aarch64": {}},
        "record": "aaaa",
    }
    assert (failing["id"], failing["state"], failing["record"]) == (
        "image-1@1.1",
        "missing",
        "maam",
    )
    assert failing["consecutiveFailures"] == 1
    assert failing["lastAvailable"] == "2026-03-01T12:00:00Z"
    assert failing["variants"] == {
        "x86_64": {"state": "available", "since": "2026-03-01T10:00:00Z"},
        "aarch64": {},
    }


def test_a_record_starts_where_the_entry_was_first_checked() -> None:
    first = _day(entries=1, checks=3)
    seen = [
        EntryObservation(name=n, version="1", state="available", deprecated=False)
        for n in ("image-0", "new")
    ]
    later = health.record(
        Observation(entries=seen),
        first,
        now=T0 + 3 * HOUR,
        fail_after=5,
        shard=None,
        catalog_ids=["image-0@1", "new@1"],
    )
    written = json.loads(encode_status(later))
    assert [(e["id"], e["record"]) for e in written["entries"]] == [
        ("image-0@1", "a"),  # another version than the three checks before
        ("new@1", "a"),
    ]
    assert len(written["checks"]) == 1
    assert decode(encode_status(later), "s") == later


def test_the_newest_check_times_are_kept_so_that_what_is_written_is_read_back() -> None:
    # Two shards checking a minute apart for a day hold more times than a record may.
    day = _day(entries=2, checks=1)
    minutes = [T0 + dt.timedelta(minutes=m) for m in range(MAX_RECORD + 1)]
    day.entries[0].record = [Check(at, "available") for at in minutes[0::2]]
    day.entries[1].record = [Check(at, "missing") for at in minutes[1::2]]
    written = encode_status(day)
    now = minutes[-1]
    read = decode(written, "status.json", now)
    assert len(json.loads(written)["checks"]) == MAX_RECORD
    assert read.entries[0].record == day.entries[0].record[1:]  # the oldest time made room
    assert read.entries[1].record == day.entries[1].record


# --- migration from schemaVersion 1 ------------------------------------------------------------


def test_a_schema_version_1_status_is_read_and_written_back_compact() -> None:
    now = T0 + 3 * HOUR
    legacy = LEGACY.read_bytes()
    assert json.loads(legacy)["schemaVersion"] == 1
    read = decode(legacy, str(LEGACY), now)
    # Exactly what the check that wrote it knew: states, since, failures, history, availability.
    failing = read.entry("app", "2.0")
    assert failing is not None
    assert (failing.state, failing.observed, failing.consecutive_failures) == (
        "failed",
        "missing",
        2,
    )
    assert (failing.since, failing.last_available) == (T0 + 2 * HOUR, T0)
    assert [c.state for c in failing.record] == ["available", "missing", "missing"]
    assert failing.availability_24h == pytest.approx(1 / 3)
    assert [(v.architecture, v.state) for v in failing.variants] == [
        ("x86_64", "available"),
        ("aarch64", "failed"),
    ]
    assert read.figures.states["failed"] == 1
    migrated = encode_status(read)
    assert json.loads(migrated)["schemaVersion"] == STATUS_SCHEMA_VERSION
    assert [e["record"] for e in json.loads(migrated)["entries"]] == ["aaa", "amm", "aau"]
    assert decode(migrated, "status.json", now) == read
    assert len(migrated) < len(legacy)


# --- the bounds of validate_status ------------------------------------------------------------


def test_what_a_check_writes_passes() -> None:
    assert problems(_file()) == []
    validate_status(_file(), "status.json", NOW)


def test_times_after_now_are_refused_within_the_clock_skew() -> None:
    assert problems(_file(checkedAt=LATER)) == [
        "checkedAt: 2026-03-01T12:00:00Z is in the future (now: 2026-03-01T11:00:00Z)"
    ]
    assert problems(_file(), T0 - CLOCK_SKEW) == []
    fields = {
        "checks": ["2026-03-01T10:00:00Z", LATER],
        "entry_since": LATER,
        "entry_lastAvailable": LATER,
        "entry_lastChecked": LATER,
        "entry_variants": {"x86_64": {"since": LATER}},
    }
    assert [p.split(":")[0] for p in problems(_file(**fields))] == [
        "checks[1]",
        "entries[0].since",
        "entries[0].lastAvailable",
        "entries[0].lastChecked",
        "entries[0].variants.x86_64.since",
    ]
    # The reader has no clock to hold them to: without a time, only the rest is checked.
    assert problems(_file(**fields), None) == []


def test_counts_the_shard_and_ids_must_make_sense() -> None:
    assert problems(_file(entry_consecutiveFailures=-1)) == [
        "entries[0].consecutiveFailures: -1 is negative"
    ]
    assert problems(_file(failAfter=0)) == ["failAfter: 0 is less than 1"]
    assert problems(_file(catalogEntries=1)) == ["catalogEntries: 1 is fewer than the 2 listed"]
    assert problems(_file(shard={"index": 5, "count": 4})) == [
        "shard.index: 5 is more than shard.count (4)"
    ]
    assert problems(_file(shard={"index": 1, "count": MAX_SHARDS + 1})) == [
        f"shard.count: {MAX_SHARDS + 1} is more than {MAX_SHARDS} shards"
    ]
    assert problems(_file(entry_id="a\x1b[2J")) == ["entries[0].id: a\\x1b[2J is not NAME@VERSION"]


def test_an_entry_is_listed_once() -> None:
    twice = status_json(IDS)
    twice["entries"].append(dict(twice["entries"][0]))
    twice["catalogEntries"] = 3
    with pytest.raises(CatalogError) as refused:
        decode(json.dumps(twice), "status.json")  # the reader refuses it too
    assert str(refused.value) == "status.json: entries[2].id: a@1 is listed twice"


def test_check_times_are_bounded_and_in_time_order() -> None:
    minutes = [(T0 - dt.timedelta(minutes=m)).isoformat() for m in range(MAX_RECORD + 1)][::-1]
    assert problems(_file(checks=minutes[1:])) == []
    assert problems(_file(checks=minutes)) == [
        f"checks: {MAX_RECORD + 1} times, more than {MAX_RECORD} (24 hours of a check a minute)"
    ]
    assert problems(_file(checks=["2026-03-01T10:00:00Z", "2026-03-01T09:00:00Z"])) == [
        "checks[1]: 2026-03-01T09:00:00Z is not after the check before it"
    ]
    assert problems(_file(checks=[LATER, LATER]), T0 + 3 * HOUR) == [
        f"checks[1]: {LATER} is not after the check before it"
    ]


def test_a_record_fits_the_check_times_and_holds_known_letters() -> None:
    assert problems(_file(entry_record="aa")) == [
        "entries[0].record: 2 checks, more than the 1 times in checks"
    ]
    assert problems(_file(entry_record="")) == [
        "entries[0].observed: absent, and the record holds no check to take it from"
    ]
    assert problems(_file(entry_record="", entry_observed="missing")) == []
    with pytest.raises(CatalogError) as refused:
        _file(entry_record="ax")
    assert "entries[0].record: Expected `str` matching regex" in str(refused.value)
    with pytest.raises(CatalogError) as refused:
        decode(json.dumps(dict(status_json(IDS), checks=[])), "status.json")
    assert str(refused.value) == (
        "status.json: entries[0].record: 1 checks, more than the 0 times in checks\n"
        "status.json: entries[1].record: 1 checks, more than the 0 times in checks"
    )


def test_another_schema_version_is_refused_with_the_one_read() -> None:
    with pytest.raises(CatalogError) as refused:
        decode(json.dumps(dict(status_json(IDS), schemaVersion=3)), "status.json")
    assert str(refused.value) == (
        "status.json: schemaVersion 3 is not supported (this image-catalog reads schemaVersion "
        "2): upgrade image-catalog"
    )
