"""The times a site document may hold: found wherever the contract puts one, named by its path."""

from __future__ import annotations

import msgspec
from image_catalog.site.contract import StatusDoc
from image_catalog.site.times import out_of_range

STATUS = (
    '{"kind":"Status","schemaVersion":1,"checkedAt":"2026-01-01T00:00:00Z","failAfter":3,'
    '"catalogEntries":2,"figures":{"entries":2,"states":{}},"entries":[ENTRY,ENTRY]}'
)
ENTRY = (
    '{"name":"a","version":"1","state":"available","since":"2026-01-01T00:00:00Z",'
    '"observed":"available","consecutiveFailures":0,"lastAvailable":null,'
    '"variants":[{"architecture":"x86_64","state":"available","since":"SINCE"}]}'
)


def _status(first: str, second: str) -> StatusDoc:
    text = STATUS.replace("ENTRY", ENTRY.replace("SINCE", first), 1)
    text = text.replace("ENTRY", ENTRY.replace("SINCE", second), 1)
    return msgspec.json.decode(text, type=StatusDoc)  # decoded without the parser's check


def test_every_time_in_range_is_none_found() -> None:
    assert out_of_range(_status("1970-01-01T00:00:00Z", "9998-12-31T23:59:59-23:59")) is None


def test_a_time_deep_in_a_list_is_found_by_its_path() -> None:
    found = out_of_range(_status("2026-01-01T00:00:00Z", "9999-12-31T23:00:00-23:59"))
    assert found is not None
    path, moment = found
    assert (path, moment.isoformat()) == (
        "entries[1].variants[0].since",
        "9999-12-31T23:00:00-23:59",
    )


def test_an_optional_time_left_out_is_in_range() -> None:
    doc = _status("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert doc.entries[0].last_available is None
    assert doc.entries[0].last_checked is None
    assert out_of_range(doc) is None
