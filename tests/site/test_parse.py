"""Parsing a site document: what cannot be used is refused, naming the file (and the field)."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.errors import CatalogError
from image_catalog.site.contract import SiteDoc, StatusDoc, VersionDoc
from image_catalog.site.parse import parser

STATUS = (
    '{"kind":"Status","schemaVersion":1,"checkedAt":"CHECKED","failAfter":3,"catalogEntries":1,'
    '"figures":{"entries":1,"states":{}},"entries":[{"name":"a","version":"1",'
    '"state":"available","since":"2026-01-01T00:00:00Z","observed":"available",'
    '"consecutiveFailures":0,"record":[["RECORDED","available"]]}]}'
)


def _status(checked: str = "2026-01-01T00:00:00Z", recorded: str = "2026-01-01T00:00:00Z") -> str:
    return STATUS.replace("CHECKED", checked).replace("RECORDED", recorded)


@pytest.mark.parametrize(
    ("document", "model"),
    [
        ('{"schemaVersion":1,"kind":"Site","x":' + "[" * 3000 + "]" * 3000 + "}", SiteDoc),
        # Of another kind: refused as deep, not read again for its header.
        ('{"schemaVersion":1,"kind":"Index","x":' + "[" * 3000 + "]" * 3000 + "}", SiteDoc),
        ('{"kind":"Status","x":' + '{"a":' * 3000 + "1" + "}" * 3000 + "}", StatusDoc),
    ],
)
def test_nesting_deeper_than_a_document_is_refused(document: str, model: type) -> None:
    with pytest.raises(CatalogError) as caught:
        parser(model)(document.encode(), "site/catalog.json")
    assert str(caught.value) == "site/catalog.json: nested deeper than a site document can be"


def test_a_document_of_usual_depth_still_parses() -> None:
    doc = parser(StatusDoc)(_status(), "status.json")
    assert doc.entries[0].record[0].state == "available"


EDGE = "9999-12-31T23:00:00-23:59"
OK = "2026-01-01T00:00:00Z"
RECORD = "entries[0].record[0].at"


@pytest.mark.parametrize(
    ("checked", "recorded", "path", "shown"),
    [
        (EDGE, OK, "checkedAt", EDGE),
        (OK, "0001-01-01T00:00:00+23:59", RECORD, "0001-01-01T00:00:00+23:59"),
        (OK, "1969-12-31T23:59:59Z", RECORD, "1969-12-31T23:59:59+00:00"),
    ],
)
def test_a_time_outside_the_years_1970_to_9998_is_refused_naming_its_field(
    checked: str, recorded: str, path: str, shown: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parser(StatusDoc)(_status(checked, recorded), "status.json")
    assert str(caught.value) == (
        f"status.json: not a valid Status document: {path}: {shown} is out of range (a site's "
        "times fall within the years 1970 to 9998)"
    )


def test_the_edges_of_the_range_are_times_a_document_may_hold() -> None:
    doc = parser(StatusDoc)(
        _status("1970-01-01T00:00:00Z", "9998-12-31T23:59:59-23:59"), "status.json"
    )
    assert doc.entries[0].record[0].at.year == 9998


def test_a_date_is_held_to_the_same_years(shipped_site: Path) -> None:
    text = next((shipped_site / "images").glob("*/*.json")).read_text(encoding="utf-8")
    deprecated = text.replace('"deprecated":false', '"deprecated":true').replace(
        '"description"', '"deprecation":{"reason":"r","date":"9999-01-01"},"description"', 1
    )
    with pytest.raises(CatalogError, match=r"deprecation\.date: 9999-01-01 is out of range"):
        parser(VersionDoc)(deprecated, "v.json")
