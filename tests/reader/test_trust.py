"""The record of signed sites seen: a damaged record counts as nothing seen, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from image_catalog.reader.trust import SeenSites, SignedSums
from image_catalog.site.sums import sums_header

LOCATION = "https://example.com/"


def _write(seen: SeenSites, text: str) -> None:
    """Replace the record of LOCATION (made by accepting a signed site first) with `text`."""
    header = sums_header("0" * 40, datetime(2026, 1, 1, tzinfo=UTC))
    seen.check(LOCATION, SignedSums.parse(header + "\n", "SHA256SUMS"))
    [record] = seen.root.iterdir()
    record.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "committed",
    [
        "2026-01-01T00:00:00",  # no offset: not comparable with a signed time
        "9999-12-31T23:00:00-23:59",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+23:59",
    ],
)
def test_a_record_with_an_unusable_time_is_as_good_as_none(tmp_path: Path, committed: str) -> None:
    seen = SeenSites(tmp_path)
    record = {"location": LOCATION, "commit": "0" * 40, "committed": committed}
    _write(seen, json.dumps(record))
    assert seen.newest(LOCATION) is None


def test_a_deep_record_is_as_good_as_none(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path)
    _write(seen, "[" * 100_000 + "]" * 100_000)
    assert seen.newest(LOCATION) is None


def test_a_good_record_is_read_back(tmp_path: Path) -> None:
    seen = SeenSites(tmp_path)
    record = {"location": LOCATION, "commit": "0" * 40, "committed": "2026-01-01T00:00:00Z"}
    _write(seen, json.dumps(record))
    newest = seen.newest(LOCATION)
    assert newest is not None
    assert newest[1].year == 2026
