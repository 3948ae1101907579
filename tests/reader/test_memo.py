"""Documents decoded over HTTP are held in memory and shared; every read still asks the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from image_catalog.reader import memo
from image_catalog.reader.cache import Cache
from image_catalog.reader.client import IndexClient, Query
from image_catalog.site.contract import SiteDoc
from support.site import SiteServer, add_image, new_catalog, serve_copy

pytestmark = pytest.mark.usefixtures("isolated_reader")


@pytest.fixture
def server(shipped_site: Path, tmp_path: Path) -> Iterator[SiteServer]:
    with serve_copy(shipped_site, tmp_path / "served") as running:
        yield running


def test_a_304_answers_with_the_document_already_decoded(
    server: SiteServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = IndexClient(server.url, cache_dir=cache).site()
    # Another client of the same cache folder, as a thread of a service would make.
    second = IndexClient(server.url, cache_dir=cache, max_age=0).site()
    assert second.doc is first.doc
    assert second.body == first.body
    assert server.count("catalog.json", 200) == 1
    assert server.count("catalog.json", 304) == 1  # the server was asked again
    assert server.requests[-1]["If-None-Match"].startswith('"')


def test_another_cache_folder_shares_nothing(server: SiteServer, tmp_path: Path) -> None:
    first = IndexClient(server.url, cache_dir=tmp_path / "one").site()
    second = IndexClient(server.url, cache_dir=tmp_path / "two").site()
    assert second.doc is not first.doc
    assert second.doc == first.doc
    assert server.count("catalog.json", 200) == 2
    # Each folder holds its own copy, for when the server is down.
    assert Cache(tmp_path / "two").get(server.url + "catalog.json") is not None


def test_a_changed_file_is_never_answered_from_memory(server: SiteServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = IndexClient(server.url, cache_dir=cache).query(Query())
    assert "only" not in [s.name for s in before.images]
    catalog = new_catalog(tmp_path / "catalog2")
    add_image(catalog, "only", "1", "2026-05-01T00:00:00Z")
    build_from_scratch(catalog, server.root)
    after = IndexClient(server.url, cache_dir=cache, max_age=0).query(Query())
    assert [s.name for s in after.images] == ["only"]
    assert server.paths().count("latest.json") == 2  # one request each, the second a 200
    assert server.count("latest.json", 200) == 2
    # The new copy is the one held and the one on disk.
    again = IndexClient(server.url, cache_dir=cache, max_age=0).query(Query())
    assert [s.name for s in again.images] == ["only"]
    assert server.count("latest.json", 304) == 1
    cached = Cache(cache).get(server.url + "latest.json")
    assert cached is not None
    assert cached.body == after.published


def test_a_caller_changing_its_answer_changes_no_other(server: SiteServer, tmp_path: Path) -> None:
    client = IndexClient(server.url, cache_dir=tmp_path / "cache")
    first = client.query(Query(target="rpi4"))
    expected = [(s.name, s.version) for s in first.images]
    assert expected
    first.images.clear()
    first.positions.clear()
    second = client.query(Query(target="rpi4"))
    assert [(s.name, s.version) for s in second.images] == expected
    assert len(second.encoded_images()) == len(expected)


def test_the_disk_hears_of_a_confirmation_at_most_every_few_seconds(
    server: SiteServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    now = time.time()
    clock = [now]
    client = IndexClient(server.url, cache_dir=cache, clock=lambda: clock[0])
    url = server.url + "catalog.json"

    def checked_at() -> float:
        copy = Cache(cache).get(url)
        assert copy is not None
        return copy.checked_at

    client.site()
    assert checked_at() == now
    clock[0] = now + memo.RECORD_EVERY / 2
    client.site()
    assert server.count("catalog.json", 304) == 1
    assert checked_at() == now  # older than the truth, never newer
    clock[0] = now + memo.RECORD_EVERY + 1
    client.site()
    assert checked_at() == now + memo.RECORD_EVERY + 1
    # When the server is down the age comes from the disk.
    server.stop()
    clock[0] = now + memo.RECORD_EVERY + 1 + 120
    answer = client.site()
    assert answer.warning is not None
    assert answer.warning.endswith("using the copy cached 2 min ago")


def _held(body: bytes) -> tuple[bytes, str | None, str | None, str]:
    return body, '"e"', None, body.hex()


def test_memo_keeps_the_most_recently_used_within_its_budget() -> None:
    held = memo.DocumentMemo(budget=10, largest=8)
    held.put("a", *_held(b"aaaaa"), SiteDoc, "doc a")
    held.put("b", *_held(b"bbbbb"), SiteDoc, "doc b")
    assert held.get("a") is not None  # a is now the most recently used
    held.put("c", *_held(b"ccccc"), SiteDoc, "doc c")
    assert held.get("b") is None
    a, c = held.get("a"), held.get("c")
    assert a is not None
    assert c is not None
    assert held.doc("a", a, SiteDoc) == "doc a"
    held.put("big", *_held(b"123456789"), SiteDoc, "too big")  # over `largest`: not held
    assert held.get("big") is None
    assert held.get("a") is not None


def test_memo_drops_the_documents_of_a_replaced_body() -> None:
    held = memo.DocumentMemo()
    held.put("u", *_held(b"one"), SiteDoc, "site one")
    old = held.get("u")
    assert old is not None
    held.put("u", *_held(b"one"), str, "other type of one")
    assert held.doc("u", old, SiteDoc) == "site one"  # same body: both types kept
    held.put("u", *_held(b"two"), str, "other type of two")
    assert held.doc("u", old, SiteDoc) is None  # asked for the old body: nothing
    new = held.get("u")
    assert new is not None
    assert held.doc("u", new, SiteDoc) is None
    assert held.doc("u", new, str) == "other type of two"
