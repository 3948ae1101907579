"""Times in the form catalog files write are read in one step; the result, and every refusal,
is that of the full checks (`CheckedTime`), on the edges of each field. And times are written
back as strftime would write them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from image_catalog.catalog.rules import rfc3339
from image_catalog.manifest.model import CheckedTime, UtcTime
from pydantic import TypeAdapter, ValidationError

SHORT = TypeAdapter(UtcTime)
FULL = TypeAdapter(CheckedTime)


def _outcome(adapter: TypeAdapter[datetime], value: Any) -> object:
    try:
        moment = adapter.validate_python(value)
    except ValidationError as exc:
        return [(e["type"], e["msg"], e["loc"]) for e in exc.errors(include_url=False)]
    return (moment, moment.tzinfo is UTC, moment.utcoffset())


def test_every_edge_of_the_written_form_gives_what_the_full_checks_give() -> None:
    years = ["0000", "1969", "1970", "2024", "2026", "2100", "9998", "9999"]
    months = ["00", "01", "02", "12", "13"]
    days = ["00", "01", "28", "29", "30", "31", "32"]
    clocks = ["00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99"]
    zones = ["Z", "z", "+00:00", ""]
    tried = 0
    for year, month, day, clock, zone in itertools.product(years, months, days, clocks, zones):
        text = f"{year}-{month}-{day}T{clock}{zone}"
        assert _outcome(SHORT, text) == _outcome(FULL, text), text
        tried += 1
    assert tried == 8 * 5 * 7 * 6 * 4


def test_other_forms_and_types_go_through_the_full_checks() -> None:
    for value in [
        "2026-01-01 12:00:00Z",
        "2026-01-01t12:00:00Z",
        "2026-01-01T12:00:00.5Z",
        "2026-01-01T12:00:00Z\n",
        " 2026-01-01T12:00:00Z",
        "\uff12\uff10\uff12\uff16-01-01T12:00:00Z",  # fullwidth digits
        "9998-12-31T23:59:59-01:00",
        "1970-01-01T00:00:00+01:00",
        1767225600,
        None,
        datetime(2026, 1, 1, tzinfo=UTC),
    ]:
        assert _outcome(SHORT, value) == _outcome(FULL, value), value


def test_rfc3339_writes_what_strftime_writes() -> None:
    zones = [timezone(timedelta(minutes=m)) for m in (-1439, -60, 0, 90, 1439)]
    years = [1, 999, 1000, 1969, 1970, 2026, 9998, 9999]
    for year, zone in itertools.product(years, zones):
        moment = datetime(year, 6, 15, 23, 59, 59, 999999, tzinfo=zone)
        expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert rfc3339(moment) == expected
