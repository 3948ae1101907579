"""The reader's on-disk HTTP cache: a stored copy comes back only whole, and only for its URL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from image_catalog.reader.cache import Cache, CachedCopy, sha256_of

URL = "https://images.example.com/catalog.json"


def test_a_stored_copy_comes_back_with_its_validators(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")  # made with the first write
    assert cache.get(URL) is None
    cache.put(URL, CachedCopy(b'{"a": 1}', '"etag"', "Mon, 05 Jan 2026 10:00:00 GMT", 12.5))
    copy = cache.get(URL)
    assert copy == CachedCopy(
        b'{"a": 1}',
        '"etag"',
        "Mon, 05 Jan 2026 10:00:00 GMT",
        12.5,
        hashlib.sha256(b'{"a": 1}').hexdigest(),
    )
    assert cache.get(URL + "?other") is None
    body, meta = cache.paths(URL)
    assert body.read_bytes() == b'{"a": 1}'
    assert meta.parent == body.parent == tmp_path / "cache"
    assert not [p for p in body.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_confirmation_rewrites_only_the_metadata(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put(URL, CachedCopy(b"{}", None, None, 1.0))
    body, _ = cache.paths(URL)
    written = body.stat().st_mtime_ns
    cache.put(URL, CachedCopy(b"{}", None, None, 99.0), body=False, sha256=sha256_of(b"{}"))
    assert body.stat().st_mtime_ns == written
    copy = cache.get(URL)
    assert copy is not None
    assert copy.checked_at == 99.0


def test_a_torn_body_or_damaged_metadata_is_no_copy(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put(URL, CachedCopy(b'{"whole": true}', None, None, 1.0))
    body, meta = cache.paths(URL)
    body.write_bytes(b'{"whole": tr')
    assert cache.get(URL) is None
    cache.put(URL, CachedCopy(b"{}", None, None, 1.0))
    damaged = {"url": URL, "checkedAt": "soon", "sha256": sha256_of(b"{}")}
    meta.write_text(json.dumps(damaged))
    assert cache.get(URL) is None
    meta.write_text("not json")
    assert cache.get(URL) is None
    cache.drop(URL)
    assert not body.exists()
    assert not meta.exists()


def test_metadata_nested_past_the_decoder_is_no_cached_copy(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.put(URL, CachedCopy(b"{}", None, None, 1.0))
    _, meta = cache.paths(URL)
    meta.write_text('{"url":' + "[" * 100_000 + "]" * 100_000 + "}")
    assert cache.get(URL) is None
