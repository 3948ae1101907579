"""The reader's on-disk HTTP cache: each fetched file's body and validators, one pair per URL.

A body is stored beside metadata naming its URL, its ETag and Last-Modified, when the server last
confirmed it (`checkedAt`) and its sha256: a body torn by a crash, or another URL's file, is never
served, and damaged metadata counts as no cached copy. Files are written through a temporary file
renamed over them, and not synced: a copy lost in a crash costs one download.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from image_catalog.fsutil import atomic_write_bytes


class CachedCopy(msgspec.Struct, frozen=True):
    body: bytes
    etag: str | None
    last_modified: str | None
    checked_at: float
    sha256: str | None = None  # the body's, when known already (it is hashed once)


class Cache:
    """Bodies and validators of fetched files, one pair of files per URL.

    The metadata names the body's sha256, so a body torn by a crash is never served as valid.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self, url: str) -> tuple[Path, Path]:
        """The files that hold `url`'s copy: its body, and its metadata."""
        key = sha256_of(url.encode("utf-8"))[:40]
        return self.root / f"{key}.json", self.root / f"{key}.meta"

    def get(self, url: str) -> CachedCopy | None:
        body_path, meta_path = self.paths(url)
        try:
            meta = msgspec.json.decode(meta_path.read_bytes())
            body = body_path.read_bytes()
        except (OSError, msgspec.DecodeError, RecursionError):
            return None  # nested past the decoder's depth is as damaged as any other
        if not isinstance(meta, dict) or meta.get("url") != url:
            return None
        digest = sha256_of(body)
        if meta.get("sha256") != digest:
            return None
        checked = meta.get("checkedAt", 0)
        if not isinstance(checked, int | float):
            return None  # damaged metadata: as good as no cached copy
        return CachedCopy(body, meta.get("etag"), meta.get("lastModified"), float(checked), digest)

    def put(
        self, url: str, copy: CachedCopy, *, body: bool = True, sha256: str | None = None
    ) -> None:
        """Store a copy; body=False only records that the server confirmed it (after a 304).

        `sha256` is the body's, when the caller has it already.
        """
        body_path, meta_path = self.paths(url)
        meta = {
            "url": url,
            "etag": copy.etag,
            "lastModified": copy.last_modified,
            "checkedAt": copy.checked_at,
            "sha256": sha256 or copy.sha256 or sha256_of(copy.body),
        }
        # Not synced to disk: a copy lost in a crash costs one download, and a torn one is never
        # served (the metadata names the body's sha256).
        if body:
            _replace(body_path, copy.body)
        _replace(meta_path, msgspec.json.encode(meta, order="sorted") + b"\n")

    def drop(self, url: str) -> None:
        for path in self.paths(url):
            path.unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    """Write `path` anew through a temporary file renamed over it, not synced (a cache file).

    The temporary file is made where nothing has its name (a link there is never followed); one a
    killed writer of the same file left is removed first.
    """
    atomic_write_bytes(path, data, durable=False)


def sha256_of(data: bytes) -> str:
    """The hex sha256 of `data`: how the cache and the memo tell one body from another."""
    import hashlib  # only the HTTP cache needs it, and OpenSSL is slow to load

    return hashlib.sha256(data).hexdigest()
