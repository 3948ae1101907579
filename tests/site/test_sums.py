"""The SHA256SUMS format: its header lines (the commit, and the expiry), written and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from image_catalog.site.sums import format_sums, parse_expiry, parse_header, sums_header

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_a_header_reads_back_as_written() -> None:
    committed = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert parse_header(sums_header(COMMIT, committed)) == (COMMIT, committed)


def test_a_header_with_an_impossible_date_is_no_header() -> None:
    line = sums_header(COMMIT, datetime(2026, 1, 31, tzinfo=UTC)).replace(
        "2026-01-31", "2026-13-45"
    )
    assert parse_header(line) is None
    assert parse_header("# something else") is None


def test_the_file_lists_every_path_sorted_after_its_header() -> None:
    text = format_sums({"b.json": "2" * 64, "a.json": "1" * 64}, "# header").decode()
    assert text == f"# header\n{'1' * 64}  a.json\n{'2' * 64}  b.json\n"


def test_a_header_with_an_expiry_reads_back_as_written() -> None:
    committed = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    expires = datetime(2026, 2, 7, 12, 0, 59, 999, tzinfo=UTC)  # written to the second
    first, second = sums_header(COMMIT, committed, expires).split("\n")
    assert second == "# image-catalog index: expires 2026-02-07T12:00:59Z"
    assert parse_header(first) == (COMMIT, committed)
    assert parse_expiry(second) == expires.replace(microsecond=0)
    text = format_sums({"a.json": "1" * 64}, sums_header(COMMIT, committed, expires)).decode()
    assert text.splitlines()[1:] == [second, f"{'1' * 64}  a.json"]


@pytest.mark.parametrize(
    "line",
    [
        "# image-catalog index: expires 2026-13-45T12:00:00Z",  # no such day
        "# image-catalog index: expires 9999-12-31T23:59:59Z",  # past the years a site holds
        "# image-catalog index: expires 1969-12-31T23:59:59Z",
        "# image-catalog index: expires 2026-02-07T12:00:00+01:00",  # UTC only
        "# image-catalog index: expires 2026-02-07",
        "# image-catalog index: catalog commit",
    ],
)
def test_an_expiry_that_is_not_one(line: str) -> None:
    assert parse_expiry(line) is None


def test_a_commit_time_past_the_years_a_site_holds_is_no_header() -> None:
    line = sums_header(COMMIT, datetime(9999, 1, 1, tzinfo=UTC))
    assert parse_header(line) is None
