"""`index build` that reuses what did not change since the last build.

Each entry's rendered documents (its summary and version document) are kept in a cache next to the
facts of `validate` (`catalog/cache.py`), under the blob id of the file they were made from and the
entry's first-published commit, for one key: the tool's code, the vocabulary and the registries.
The catalog is validated as `validate` does (unchanged files' checks reused); only the files that
changed are parsed, and rendered while they are, in worker processes when there are many. The site
is then assembled from every entry, and the writer links each file whose bytes the previous site
already has instead of writing and compressing it again. The bytes are those of `build_index`.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec

from image_catalog.catalog.cache import cache_file, code_fingerprint, read_cache, write_cache
from image_catalog.catalog.incremental import check_and_render
from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.validate import InvalidCatalog
from image_catalog.errors import CatalogError
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.scratch import Scratch, make_scratch
from image_catalog.site.build import (
    BuildResult,
    _check_out,
    _Content,
    _Entry,
    _entry,
    _first_published,
    _Hosts,
    _path,
    catalog_commit,
    normalize_base_url,
    write_content,
)
from image_catalog.site.contract import StatusDoc, ViewBy, encode
from image_catalog.site.signing import SigningKey, sums_header_for
from image_catalog.site.spare import can_update
from image_catalog.site.staging import Staging


class _Cached(msgspec.Struct, frozen=True, array_like=True):
    blob: str
    first: tuple[str, str] | None
    name: str
    version: str
    published: datetime
    deprecated: bool
    keys: dict[ViewBy, list[str]]
    summary: bytes  # contract.encode of the Summary
    document: bytes  # and of the VersionDoc: copied into the site, not decoded nor encoded again
    sha256: str  # of the version document's file (document and a newline): not hashed again

    def entry(self) -> _Entry:
        return _Entry(
            name=self.name,
            version=self.version,
            published=self.published,
            deprecated=self.deprecated,
            keys=self.keys,  # decoded afresh by every build: nothing else holds it
            summary=msgspec.Raw(self.summary),
            document=msgspec.Raw(self.document),
            sha256=self.sha256,
        )


_FIRST_PREFIX = ".image-catalog-first-"


class _Payload(msgspec.Struct, frozen=True):
    key: str
    entries: dict[str, _Cached]


class _Changes(msgspec.Struct, frozen=True):
    """What changed since the payload was written, kept in a file of its own: after a small
    change, a few entries are written instead of all of them (tens of megabytes)."""

    key: str
    entries: dict[str, _Cached]  # added or changed
    removed: list[str]


# The whole payload is written again once this share of its entries changed.
_CHANGES_SHARE = 0.1


@dataclass
class _Renderer:
    """Renders the entries whose cached documents are missing or stale (see `Renderer`)."""

    hosts: _Hosts
    vocabulary: Vocabulary
    first: dict[str, tuple[str, str]]
    cached: dict[str, _Cached] = field(default_factory=dict)
    # `first` for the worker processes, in a file: a worker reads what it is sent while it
    # starts, and the main process, writing megabytes into a pipe, would wait for each in turn.
    first_file: str | None = None
    _scratch: Scratch | None = None

    def __getstate__(self) -> dict[str, object]:
        # The workers render; only the main process looks at the cache.
        if self.first and self.first_file is None:
            self._scratch = make_scratch(Path(tempfile.gettempdir()), _FIRST_PREFIX)
            self.first_file = str(self._scratch.path / "first.msgpack")
            with open(self.first_file, "wb") as stream:
                stream.write(msgspec.msgpack.encode(self.first))
        return {**self.__dict__, "cached": {}, "first": {}, "_scratch": None}

    def close(self) -> None:
        """Remove the file made for the workers, once they are done."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch.path, ignore_errors=True)
            self._scratch.release()
            self._scratch = None

    def wanted(self, relative: str, blob: str | None) -> bool:
        found = self.cached.get(relative)
        if found is None or blob is None or found.blob != blob:
            return True
        return found.first != self.first.get(f"{found.name}@{found.version}")

    def known(self, relative: str) -> bool:
        return relative in self.cached

    def __call__(self, loaded: Loaded[CatalogImage]) -> _Cached:
        """The entry rendered and encoded (in the worker: bytes travel back cheaper than
        structs); its blob id is filled in by the main process."""
        if self.first_file is not None and not self.first:
            with open(self.first_file, "rb") as stream:
                self.first = msgspec.msgpack.decode(stream.read(), type=dict[str, tuple[str, str]])
        first = self.first.get(loaded.model.id)
        return _cache_entry(_entry(loaded.model, self.hosts, self.vocabulary, first), "", first)


def _key(catalog: Catalog) -> str:
    """What every rendered entry depends on besides its file: code, vocabulary, registries."""
    digest = hashlib.sha256(code_fingerprint().encode())
    if catalog.vocabulary_file is not None:
        digest.update(catalog.vocabulary_file.model.model_dump_json().encode())
    for loaded in catalog.registries:
        digest.update(b"\0" + loaded.model.model_dump_json().encode())
    return digest.hexdigest()


def _site_cache(root: Path) -> Path:
    facts = cache_file(root)
    return facts.with_name(facts.name.replace("facts-", "site-", 1))


def _changes_file(path: Path) -> Path:
    return path.with_name(path.name.replace("site-", "site-changes-", 1))


def _read_site_cache(path: Path) -> tuple[_Payload | None, dict[str, _Cached]]:
    """The cached entries with the changes since applied, and those of the whole file alone.

    An entry is used only for a file of the same blob id, so changes from another payload could
    only cost renders, never give a wrong site; they are still ignored under another key.
    """
    payload, _ = read_cache(path, _Payload)
    if payload is None:
        return None, {}
    changes, _ = read_cache(_changes_file(path), _Changes)
    if changes is None or changes.key != payload.key:
        return payload, payload.entries
    merged = {**payload.entries, **changes.entries}
    for relative in changes.removed:
        merged.pop(relative, None)
    return _Payload(payload.key, merged), payload.entries


def _write_site_cache(
    path: Path, key: str, entries: dict[str, _Cached], base: dict[str, _Cached]
) -> None:
    """Write what differs from `base` (the entries of the whole file) into the changes file,
    or everything into the whole file once that is a large share."""
    changed = {r: e for r, e in entries.items() if base.get(r) is not e}
    removed = [r for r in base if r not in entries]
    changes = _changes_file(path)
    if base and len(changed) + len(removed) <= _CHANGES_SHARE * len(entries):
        write_cache(changes, _Changes(key, dict(sorted(changed.items())), removed))
        return
    if write_cache(path, _Payload(key, dict(sorted(entries.items())))):
        changes.unlink(missing_ok=True)


def build_index_reusing(
    root: Path,
    out: Path,
    base_url: str | None = None,
    status: StatusDoc | None = None,
    sign_key: SigningKey | None = None,
    *,
    use_cache: bool = True,
) -> BuildResult:
    """`build_index`, reusing the checks and the rendered entries of unchanged files.

    Without `use_cache`, every file is checked and rendered afresh and no cache is read or
    written; the work is still spread over worker processes, which hand back bytes, so memory
    stays that of one entry per worker and the encoded documents.
    """
    base = normalize_base_url(base_url)
    _check_out(out)
    commit = catalog_commit(root)
    header = sums_header_for(root, commit, sign_key)
    first, warnings = _first_published(root, commit, cached=use_cache)
    path = _site_cache(root)
    payload, whole = _read_site_cache(path) if use_cache else (None, {})
    state: dict[str, object] = {}

    def renderer(catalog: Catalog) -> _Renderer:
        key = _key(catalog)
        reusable = payload.entries if payload is not None and payload.key == key else {}
        hosts = _Hosts({r.model.spec.host: r.model for r in catalog.registries})
        vocabulary = catalog.vocabulary or Vocabulary()
        state["key"] = key
        made = _Renderer(hosts, vocabulary, first, reusable)
        state["renderer"] = made
        return made

    # Without an earlier site to update, the staging folder is made now and each entry's version
    # document written as soon as it is rendered, while the other files are still being checked;
    # an invalid catalog then drops it all. An earlier site is not claimed before the catalog is
    # known to be valid, so an invalid one never costs the next build its head start.
    staging = None if can_update(out) else Staging(out)
    try:
        early = _EarlyWriter(staging, status) if staging is not None else None
        result = check_and_render(root, use_cache=use_cache, renderer=renderer, on_rendered=early)
        if not result.report.ok:
            raise InvalidCatalog(result.report, "build the index")
        catalog = result.catalog
        if catalog.vocabulary is None or catalog.vocabulary_file is None:
            raise CatalogError(f"{catalog.root}: the catalog has no valid vocabulary.yaml")
        made = state["renderer"]
        assert isinstance(made, _Renderer)
        entries: dict[str, _Cached] = {}
        fresh: list[_Entry] = []
        changed = bool(result.rendered)
        for relative in catalog.image_paths:
            blob = result.blobs.get(relative)
            rendered = result.rendered.pop(relative, None)
            if not isinstance(rendered, _Cached):
                entries[relative] = made.cached[relative]
            elif blob is None:
                fresh.append(rendered.entry())  # content unknown: rendered again next time
            else:
                entries[relative] = msgspec.structs.replace(rendered, blob=blob)
        content = _Content.of_entries(
            [*fresh, *(e.entry() for e in entries.values())],
            catalog.vocabulary,
            catalog.vocabulary_file.model.spec,
            status,
        )
        saving = None
        if use_cache and (changed or len(entries) != len(made.cached)):
            # Saved while the site is written: encoding it, hashing and writing it overlap the
            # site's own encoding, compressing and writing.
            saving = threading.Thread(
                target=_write_site_cache,
                args=(path, str(state["key"]), entries, whole),
                name="site-cache",
            )
            saving.start()
        try:
            built = write_content(
                content, out, commit, base, warnings, header=header, sign_key=sign_key,
                staging=staging,
            )  # fmt: skip
        finally:
            if saving is not None:
                saving.join()
    finally:
        if staging is not None:
            staging.close()
        used = state.get("renderer")
        if isinstance(used, _Renderer):
            used.close()
    return built


@dataclass
class _EarlyWriter:
    """Writes each rendered entry's version document into the staging folder as it comes."""

    staging: Staging
    status: StatusDoc | None

    def __post_init__(self) -> None:
        # A state from the health status changes the document: those are written later.
        self.later = {e.id for e in self.status.entries} if self.status is not None else set()

    def __call__(self, relative: str, made: object) -> None:
        if not isinstance(made, _Cached) or f"{made.name}@{made.version}" in self.later:
            return
        try:
            path = _path("images", made.name, f"{made.version}.json")
        except CatalogError:
            return  # refused when the site is assembled
        self.staging.write(path, made.document, made.sha256)


def _cache_entry(entry: _Entry, blob: str, first: tuple[str, str] | None) -> _Cached:
    document = encode(entry.document)
    return _Cached(
        blob=blob,
        first=first,
        name=entry.name,
        version=entry.version,
        published=entry.published,
        deprecated=entry.deprecated,
        keys=entry.keys,
        summary=encode(entry.summary),
        document=document,
        sha256=hashlib.sha256(document + b"\n").hexdigest(),
    )
