"""The cache of rendered entries a build keeps for the next one (`pipeline.py`).

Each entry's rendered documents (its summary and version document) are kept next to the facts of
`validate` (`catalog/cache.py`), under the blob id of the file they were made from and the entry's
first-published commit, for one key (`site_cache_key`): the tool's code, the vocabulary and the
registries. An entry is used only for a file of the same blob id, so a stale entry could only cost
a render, never give a wrong site.

A version document is kept as its sha256 and size only, not its bytes: the live site holds its
file. Each image file and view is kept as a digest of what it is made of (`content.FileSum`).
After a small change only what changed is written, into a file of its own beside the whole one,
until that is a large share of it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import msgspec

from image_catalog.build.content import FileSum
from image_catalog.build.entries import RenderedEntry
from image_catalog.catalog.cache import cache_file, code_fingerprint, read_cache, write_cache
from image_catalog.catalog.loader import Catalog
from image_catalog.export.crs import EntryExport
from image_catalog.site.contract import ViewBy, encode


class CachedEntry(msgspec.Struct, frozen=True, array_like=True):
    """One entry as rendered and encoded, and the file it was made from."""

    blob: str
    first: tuple[str, str] | None
    name: str
    version: str
    published: datetime
    deprecated: bool
    keys: dict[ViewBy, list[str]]
    summary: bytes  # contract.encode of the Summary
    # And of the VersionDoc: copied into the site, not decoded nor encoded again. Kept only for
    # an entry with a health state (which changes the document); the site holds the others.
    document: bytes | None
    sha256: str  # of the version document's file (document and a newline): not hashed again
    size: int  # of that file
    summary_sha256: bytes  # of `summary`: the views are known by those of their rows
    export: EntryExport | None = None  # its CatalogImage resources, when a build wrote them

    def entry(self) -> RenderedEntry:
        return RenderedEntry(
            name=self.name,
            version=self.version,
            published=self.published,
            deprecated=self.deprecated,
            keys=self.keys,  # decoded afresh by every build: nothing else holds it
            summary=msgspec.Raw(self.summary),
            document=msgspec.Raw(self.document) if self.document is not None else None,
            sha256=self.sha256,
            size=self.size,
            summary_sha256=self.summary_sha256,
        )

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


def cache_entry(
    entry: RenderedEntry,
    blob: str,
    first: tuple[str, str] | None,
    export: EntryExport | None = None,
) -> CachedEntry:
    """The entry rendered by `render_entry`, encoded for the cache."""
    document = encode(entry.document)
    summary = encode(entry.summary)
    return CachedEntry(
        blob=blob,
        first=first,
        name=entry.name,
        version=entry.version,
        published=entry.published,
        deprecated=entry.deprecated,
        keys=entry.keys,
        summary=summary,
        document=document,
        sha256=hashlib.sha256(document + b"\n").hexdigest(),
        size=len(document) + 1,
        summary_sha256=hashlib.sha256(summary).digest(),
        export=export,
    )


class SitePayload(msgspec.Struct, frozen=True):
    """The whole cache: every entry by its file's relative path, and what each image file and
    view is made of."""

    key: str
    entries: dict[str, CachedEntry]
    files: dict[str, FileSum] = {}


class CacheChanges(msgspec.Struct, frozen=True):
    """What changed since the payload was written, kept in a file of its own: after a small
    change, a few entries are written instead of all of them (tens of megabytes)."""

    key: str
    entries: dict[str, CachedEntry]  # added or changed
    removed: list[str]
    files: dict[str, FileSum]  # all of them (a small share of the whole)


# The whole payload is written again once this share of its entries changed.
CHANGES_SHARE = 0.1


def site_cache_key(catalog: Catalog) -> str:
    """What every rendered entry depends on besides its file: code, vocabulary, registries."""
    digest = hashlib.sha256(code_fingerprint().encode())
    if catalog.vocabulary_file is not None:
        digest.update(catalog.vocabulary_file.model.model_dump_json().encode())
    for loaded in catalog.registries:
        digest.update(b"\0" + loaded.model.model_dump_json().encode())
    return digest.hexdigest()


def site_cache_path(root: Path) -> Path:
    """The whole cache file of builds of the catalog at `root`, beside `validate`'s."""
    facts = cache_file(root)
    return facts.with_name(facts.name.replace("facts-", "site-", 1))


def changes_path(path: Path) -> Path:
    """The changes file beside the whole cache file at `path`."""
    return path.with_name(path.name.replace("site-", "site-changes-", 1))


def read_site_cache(path: Path) -> tuple[SitePayload | None, dict[str, CachedEntry]]:
    """The cached entries with the changes since applied, and those of the whole file alone.

    Changes from another payload are ignored (under another key): they could only cost renders.
    """
    payload, _ = read_cache(path, SitePayload)
    if payload is None:
        return None, {}
    changes, _ = read_cache(changes_path(path), CacheChanges)
    if changes is None or changes.key != payload.key:
        return payload, payload.entries
    merged = {**payload.entries, **changes.entries}
    for relative in changes.removed:
        merged.pop(relative, None)
    return SitePayload(payload.key, merged, changes.files), payload.entries


def write_site_cache(
    path: Path,
    key: str,
    entries: dict[str, CachedEntry],
    base: dict[str, CachedEntry],
    files: dict[str, FileSum],
) -> None:
    """Write what differs from `base` (the entries of the whole file) into the changes file,
    or everything into the whole file once that is a large share."""
    changed = {r: e for r, e in entries.items() if base.get(r) is not e}
    removed = [r for r in base if r not in entries]
    changes = changes_path(path)
    files = dict(sorted(files.items()))
    if base and len(changed) + len(removed) <= CHANGES_SHARE * len(entries):
        write_cache(changes, CacheChanges(key, dict(sorted(changed.items())), removed, files))
        return
    if write_cache(path, SitePayload(key, dict(sorted(entries.items())), files)):
        changes.unlink(missing_ok=True)
