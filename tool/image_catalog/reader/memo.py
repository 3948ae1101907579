"""Decoded documents kept in memory beside the reader's on-disk cache, shared by threads.

A read over HTTP asks the server (a conditional request) unless the server confirmed the file
very recently (`confirmed`, the client's max_age); what this saves is the work around a 304
answer: reading the cached body from disk, hashing it, and decoding it again. A held copy is
keyed by its URL and its validators (ETag, Last-Modified, the body's sha256), so a changed file
is never answered from it, and the decoded document is kept per document type.

Only a body that parsed (and, with a trust file, passed its hash check) is ever held. The
documents are shared by every answer and thread that reads the same unchanged file: treat them
as read-only. The memory is bounded by the size of the bodies held (least recently used first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import msgspec

# Bodies held per cache folder (a decoded document takes a few times its body's size), and the
# largest body held: a larger one (the index.json of a big catalog) is decoded on every read.
MEMO_BYTES = 32 * 1024 * 1024
MEMO_LARGEST = 8 * 1024 * 1024
# How often the on-disk cache is told that the server confirmed a held copy again (its
# `checkedAt`, the age a warning gives when the server is unreachable): at most once in this many
# seconds per file, so a warning may call a copy up to this much older than it is, never newer.
RECORD_EVERY = 10.0


class Held(msgspec.Struct, frozen=True):
    """One file as last confirmed by the server, with what was decoded from it."""

    body: bytes
    etag: str | None
    last_modified: str | None
    sha256: str
    docs: dict[type, Any]  # document type -> the document decoded from `body`


class DocumentMemo:
    """Held copies by URL, least recently used first; safe to use from many threads."""

    def __init__(self, budget: int = MEMO_BYTES, largest: int = MEMO_LARGEST) -> None:
        self.budget = budget
        self.largest = largest
        self._held: OrderedDict[str, Held] = OrderedDict()
        self._size = 0
        self._recorded: dict[str, float] = {}  # URL -> when its confirmation was last recorded
        self._confirmed: dict[str, float] = {}  # URL -> when the server last confirmed it
        self._lock = threading.Lock()

    def get(self, url: str) -> Held | None:
        with self._lock:
            held = self._held.get(url)
            if held is not None:
                self._held.move_to_end(url)
            return held

    def doc(self, url: str, held: Held, model: type) -> Any:
        """The document of type `model` decoded from `held`, or None when not decoded yet."""
        with self._lock:
            current = self._held.get(url)
            if current is None or current.sha256 != held.sha256:
                return None
            return current.docs.get(model)

    def put(
        self,
        url: str,
        body: bytes,
        etag: str | None,
        last_modified: str | None,
        sha256: str,
        model: type,
        doc: Any,
    ) -> None:
        """Hold `doc`, decoded (and checked) from `body`; other types' documents of the same
        body are kept, those of another body dropped."""
        if len(body) > self.largest:
            self.drop(url)
            return
        with self._lock:
            current = self._held.pop(url, None)
            docs: dict[type, Any] = {}
            if current is not None:
                self._size -= len(current.body)
                if current.sha256 == sha256:
                    docs.update(current.docs)
                else:
                    self._confirmed.pop(url, None)  # that confirmation was of the other body
            docs[model] = doc
            self._held[url] = Held(body, etag, last_modified, sha256, docs)
            self._size += len(body)
            while self._size > self.budget and self._held:
                oldest_url, oldest = self._held.popitem(last=False)
                self._recorded.pop(oldest_url, None)
                self._confirmed.pop(oldest_url, None)
                self._size -= len(oldest.body)

    def record_due(self, url: str, now: float, every: float = RECORD_EVERY) -> bool:
        """Whether a confirmation of `url` at `now` is to be written to disk; if so, noted."""
        with self._lock:
            last = self._recorded.get(url)
            if last is not None and 0 <= now - last < every:
                return False
            self._recorded[url] = now
            return True

    def confirm(self, url: str, when: float) -> None:
        """Note that the server confirmed (or sent) the copy of `url` held at `when`."""
        with self._lock:
            if url in self._held:
                self._confirmed[url] = max(when, self._confirmed.get(url, when))

    def confirmed(self, url: str) -> float | None:
        """When the server last confirmed the copy of `url` held, if it is held."""
        with self._lock:
            return self._confirmed.get(url)

    def drop(self, url: str) -> None:
        with self._lock:
            self._recorded.pop(url, None)
            self._confirmed.pop(url, None)
            current = self._held.pop(url, None)
            if current is not None:
                self._size -= len(current.body)


_SHARED: dict[Path, DocumentMemo] = {}
_SHARED_LOCK = threading.Lock()


def shared(cache_root: Path) -> DocumentMemo:
    """The memo of one cache folder, shared by every client of this process that uses it."""
    with _SHARED_LOCK:
        memo = _SHARED.get(cache_root)
        if memo is None:
            memo = _SHARED[cache_root] = DocumentMemo()
        return memo
