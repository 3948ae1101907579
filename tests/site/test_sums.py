"""The SHA256SUMS format: its header line, written and read back."""

from __future__ import annotations

from datetime import UTC, datetime

from image_catalog.site.sums import format_sums, parse_header, sums_header

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
