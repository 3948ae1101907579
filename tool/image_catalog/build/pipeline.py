"""`index build` that reuses what did not change since the last build.

Each entry's rendered documents (its summary and version document) are kept in a cache next to the
facts of `validate` (`catalog/cache.py`), under the blob id of the file they were made from and the
entry's first-published commit, for one key: the tool's code, the vocabulary and the registries.
The catalog is validated as `validate` does (unchanged files' checks reused); only the files that
changed are parsed, and rendered while they are, in worker processes when there are many. The site
is then assembled from every entry, and the writer links each file whose bytes the previous site
already has instead of writing and compressing it again. The bytes are those of `build_index`.

A version document is cached as its sha256 and size only, not its bytes: the live site holds its
file (its SHA256SUMS says so, or the entry is rendered again), and the writer keeps or links that
file. Likewise each image file (every version of one image) is known by a digest of what it is made
of, and kept or linked while that is unchanged. Bytes such a file is made of are read from the live
site, checked against their sha256, only when a file next to them changed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from image_catalog.build.outlock import out_locked
from image_catalog.build.render import (
    BuildResult,
    Packed,
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
from image_catalog.build.signing import SigningKey, sums_header_for
from image_catalog.build.spare import can_update
from image_catalog.build.staging import Staging
from image_catalog.build.writer import SiteWriter, gzip_bytes
from image_catalog.catalog.blobs import blob_id
from image_catalog.catalog.cache import cache_file, code_fingerprint, read_cache, write_cache
from image_catalog.catalog.incremental import check_and_render
from image_catalog.catalog.loader import Catalog, Loaded, _accept, display_path
from image_catalog.catalog.validate import InvalidCatalog
from image_catalog.collector import paused
from image_catalog.errors import CatalogError
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.load import MAX_FILE_BYTES, LoadError, decode_text, parse_mapping
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.scratch import Scratch, make_scratch
from image_catalog.site.contract import StatusDoc, ViewBy, encode
from image_catalog.site.sums import read_sums


class _Cached(msgspec.Struct, frozen=True, array_like=True):
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

    def entry(self) -> _Entry:
        return _Entry(
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


# Per image file and view (by path): the digest of what it is made of, the file's sha256 and
# size, and the size of its .gz (0: none).
_FileSum = tuple[str, str, int, int]


_FIRST_PREFIX = ".image-catalog-first-"
T = TypeVar("T")


class _Payload(msgspec.Struct, frozen=True):
    key: str
    entries: dict[str, _Cached]
    files: dict[str, _FileSum] = {}


class _Changes(msgspec.Struct, frozen=True):
    """What changed since the payload was written, kept in a file of its own: after a small
    change, a few entries are written instead of all of them (tens of megabytes)."""

    key: str
    entries: dict[str, _Cached]  # added or changed
    removed: list[str]
    files: dict[str, _FileSum]  # all of them (a small share of the whole)


# The whole payload is written again once this share of its entries changed.
_CHANGES_SHARE = 0.1


@dataclass
class _Renderer:
    """Renders the entries whose cached documents are missing or stale (see `Renderer`)."""

    hosts: _Hosts
    vocabulary: Vocabulary
    first: dict[str, tuple[str, str]]
    cached: dict[str, _Cached] = field(default_factory=dict)
    # What the live site holds (its SHA256SUMS), and the entries with a health state.
    live: dict[str, str] = field(default_factory=dict)
    health: set[str] = field(default_factory=set)
    wanted_count: int = 0  # how many entries `wanted` asked for
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
        return {
            **self.__dict__, "cached": {}, "first": {}, "live": {}, "health": set(),
            "_scratch": None,
        }  # fmt: skip

    def close(self) -> None:
        """Remove the file made for the workers, once they are done."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch.path, ignore_errors=True)
            self._scratch.release()
            self._scratch = None

    def wanted(self, relative: str, blob: str | None) -> bool:
        if self._wanted(relative, blob):
            self.wanted_count += 1
            return True
        return False

    def _wanted(self, relative: str, blob: str | None) -> bool:
        found = self.cached.get(relative)
        if found is None or blob is None or found.blob != blob:
            return True
        name, version = found.name, found.version
        ident = f"{name}@{version}"
        if found.first != self.first.get(ident):
            return True
        if found.document is not None:
            return False
        # Known by its hash only: the live site must hold it, and a health state needs its bytes.
        held = self.live.get(f"images/{name}/{version}.json")
        return held != found.sha256 or (bool(self.health) and ident in self.health)

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
    return _Payload(payload.key, merged, changes.files), payload.entries


def _write_site_cache(
    path: Path,
    key: str,
    entries: dict[str, _Cached],
    base: dict[str, _Cached],
    files: dict[str, _FileSum],
) -> None:
    """Write what differs from `base` (the entries of the whole file) into the changes file,
    or everything into the whole file once that is a large share."""
    changed = {r: e for r, e in entries.items() if base.get(r) is not e}
    removed = [r for r in base if r not in entries]
    changes = _changes_file(path)
    files = dict(sorted(files.items()))
    if base and len(changed) + len(removed) <= _CHANGES_SHARE * len(entries):
        write_cache(changes, _Changes(key, dict(sorted(changed.items())), removed, files))
        return
    if write_cache(path, _Payload(key, dict(sorted(entries.items())), files)):
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

    Another build into `out` is waited for (`outlock.py`): this one trusts the live site's
    SHA256SUMS from before validation until its site is swapped in.
    """
    normalize_base_url(base_url)  # a usage error does not wait
    with out_locked(out):
        return _build_index_reusing(root, out, base_url, status, sign_key, use_cache=use_cache)


def _build_index_reusing(
    root: Path,
    out: Path,
    base_url: str | None,
    status: StatusDoc | None,
    sign_key: SigningKey | None,
    *,
    use_cache: bool,
) -> BuildResult:
    base = normalize_base_url(base_url)
    _check_out(out)
    commit = catalog_commit(root)
    header = sums_header_for(root, commit, sign_key)
    first, warnings = _first_published(root, commit, cached=use_cache)
    path = _site_cache(root)
    payload, whole = _read_site_cache(path) if use_cache else (None, {})
    live = read_sums(out)  # read once: what may be reused, and what the writer links
    health = {e.id for e in status.entries} if status is not None else set()
    state: dict[str, object] = {}
    ahead = _Ahead(commit, base)

    def renderer(catalog: Catalog) -> _Renderer:
        key = _key(catalog)
        fits = payload is not None and payload.key == key
        reusable = payload.entries if payload is not None and fits else {}
        hosts = _Hosts({r.model.spec.host: r.model for r in catalog.registries})
        vocabulary = catalog.vocabulary or Vocabulary()
        state["key"] = key
        made = _Renderer(hosts, vocabulary, first, reusable, live, health)
        state["renderer"] = made
        if status is None:  # a state may need a document's bytes, which come later
            ahead.start(catalog, made, payload.files if payload is not None and fits else {})
        return made

    # Without an earlier site to update, the staging folder is made now and each entry's version
    # document written as soon as it is rendered, while the other files are still being checked;
    # an invalid catalog then drops it all. An earlier site is not claimed before the catalog is
    # known to be valid, so an invalid one never costs the next build its head start.
    staging = None if can_update(out) else Staging(out, live)
    try:
        early = _EarlyWriter(staging, status) if staging is not None else None

        def on_rendered(relative: str, made: object) -> None:
            if early is not None:
                early(relative, made)
            ahead(relative, made)

        result = check_and_render(
            root, use_cache=use_cache, renderer=renderer, on_rendered=on_rendered
        )
        if not result.report.ok:
            raise InvalidCatalog(result.report, "build the index")
        catalog = result.catalog
        if catalog.vocabulary is None or catalog.vocabulary_file is None:
            raise CatalogError(f"{catalog.root}: the catalog has no valid vocabulary.yaml")
        made = state["renderer"]
        assert isinstance(made, _Renderer)
        key = str(state["key"])
        # Tens of thousands of lasting objects, in no cycle: not for the collector to scan.
        with paused():
            entries: dict[str, _Cached] = {}
            where: dict[str, str] = {}  # entry id -> its file, for entries known by hash only
            rendered = {r: e for r, e in result.rendered.items() if isinstance(e, _Cached)}
            changed = bool(result.rendered)
            for relative in catalog.image_paths:
                blob = result.blobs.get(relative)
                fresh = rendered.get(relative)
                if fresh is None:
                    cached = made.cached[relative]
                    entries[relative] = cached
                    if cached.document is None:
                        where[cached.id] = relative
                elif blob is not None:  # else: content unknown, rendered again next time
                    kept = fresh.document if fresh.id in health else None
                    entries[relative] = msgspec.structs.replace(fresh, blob=blob, document=kept)
            known = payload.files if payload is not None and payload.key == key else {}
            content = ahead.content if ahead.rendered.keys() == rendered.keys() else None
            if content is None:
                content = _Content.of_entries(
                    _assemble(catalog.image_paths, rendered, made.cached),
                    catalog.vocabulary,
                    catalog.vocabulary_file.model.spec,
                    status,
                    known=known,
                )
            if staging is None:
                staging = Staging(out, live)
            content.load = _Load(
                root, out, staging.path, made, catalog.vocabulary, result.blobs, where
            )
        saving: list[threading.Thread] = []

        def save(writer: SiteWriter) -> None:
            # Saved while the site is swapped in, from the hashes of the files just written.
            files: dict[str, _FileSum] = {}
            for file, digest in content.digests.items():
                if file in writer.sums:
                    gz = writer.sizes.get(f"{file}.gz", 0)
                    files[file] = (digest, writer.sums[file], writer.sizes[file], gz)
            if not use_cache:
                return
            if not changed and len(entries) == len(made.cached) and files == known:
                return
            thread = threading.Thread(
                target=_write_site_cache,
                args=(path, key, entries, whole, files),
                name="site-cache",
            )
            thread.start()
            saving.append(thread)

        try:
            done = write_content(
                content, out, commit, base, warnings, header=header, sign_key=sign_key,
                staging=staging, on_finished=save,
            )  # fmt: skip
        finally:
            for thread in saving:
                thread.join()
    finally:
        if staging is not None:
            staging.close()
        used = state.get("renderer")
        if isinstance(used, _Renderer):
            used.close()
    return done


def _assemble(
    paths: list[str], rendered: dict[str, _Cached], cached: dict[str, _Cached]
) -> list[_Entry]:
    """Every entry: the rendered one (with its document's bytes), else the cached one."""
    return [(rendered.get(r) or cached[r]).entry() for r in paths]


@dataclass
class _Ahead:
    """index.json made, and its .gz started in a thread, as soon as every entry the renderer
    wanted is rendered: its compression, the longest job of the site's writer, then runs while
    the catalog's checks across entries end. Dropped if the catalog turns out invalid."""

    commit: str | None
    base_url: str | None
    catalog: Catalog | None = None
    renderer: _Renderer | None = None
    known: dict[str, _FileSum] = field(default_factory=dict)
    rendered: dict[str, _Cached] = field(default_factory=dict)
    content: _Content | None = None

    def start(self, catalog: Catalog, renderer: _Renderer, known: dict[str, _FileSum]) -> None:
        self.catalog, self.renderer, self.known = catalog, renderer, known

    def __call__(self, relative: str, made: object) -> None:
        if self.renderer is None or not isinstance(made, _Cached):
            return
        self.rendered[relative] = made
        if len(self.rendered) == self.renderer.wanted_count:
            with paused():
                self._prepare(self.renderer)

    def _prepare(self, renderer: _Renderer) -> None:
        catalog = self.catalog
        if catalog is None or catalog.vocabulary is None or catalog.vocabulary_file is None:
            return
        paths = catalog.image_paths
        if any(r not in self.rendered and r not in renderer.cached for r in paths):
            return  # not every entry is there: made later, if the catalog is valid
        content = _Content.of_entries(
            _assemble(paths, self.rendered, renderer.cached),
            catalog.vocabulary,
            catalog.vocabulary_file.model.spec,
            known=self.known,
        )
        file = content.index_file(self.commit, self.base_url)
        content.index = Packed(file, _InBackground(gzip_bytes, file).result)
        self.content = content


class _InBackground(Generic[T]):
    """`work(*args)` run in a thread from now on; `result` waits for it."""

    def __init__(self, work: Callable[..., T], *args: object) -> None:
        self._outcome: tuple[T] | BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(work, args), name="site-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[..., T], args: tuple[object, ...]) -> None:
        try:
            self._outcome = (work(*args),)
        except BaseException as exc:  # handed to the thread that waits for it
            self._outcome = exc

    def result(self) -> T:
        self._thread.join()
        outcome = self._outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome[0]


@dataclass
class _Load:
    """The bytes of a version document known by its hash only (see `_Entry`): the live site's
    file, or the earlier site's being updated, if it has that hash; else the entry rendered
    again from its file, which must still be the content that was checked."""

    root: Path
    out: Path
    staging: Path
    renderer: _Renderer
    vocabulary: Vocabulary
    blobs: dict[str, str | None]
    where: dict[str, str]

    def __call__(self, entry: _Entry) -> bytes:
        relative = f"images/{entry.name}/{entry.version}.json"
        size = entry.size if entry.size is not None else MAX_FILE_BYTES
        for folder in (self.out, self.staging):
            # Whatever is there now, which anyone who can write the site may have replaced: no
            # link followed, no FIFO waited on, nothing longer than the file it should be read.
            try:
                data = read_regular_file(folder / relative, size)
            except (OSError, NotAFile):
                continue
            if (
                len(data) == size
                and data.endswith(b"\n")
                and hashlib.sha256(data).hexdigest() == entry.sha256
            ):
                return data[:-1]
        source = self.where.get(f"{entry.name}@{entry.version}")
        if source is None:
            raise CatalogError(f"{relative}: its document is unknown; build again")
        made = self._render(source)
        assert made.document is not None
        return made.document

    def _render(self, relative: str) -> _Cached:
        shown = display_path(self.root, relative)
        changed = CatalogError(f"{shown} changed while the index was built; build it again")
        try:
            data = read_regular_file(self.root / relative, MAX_FILE_BYTES)
            mapping = parse_mapping(decode_text(data, shown), shown)
        except (OSError, NotAFile, LoadError) as exc:
            raise changed from exc
        if blob_id(data) != self.blobs.get(relative):
            raise changed
        scratch = Catalog(root=self.root)
        context = {"vocabulary": self.vocabulary}
        loaded = _accept(scratch, relative, mapping, CatalogImage, "CatalogImage", context)
        if loaded is None:
            raise changed
        return self.renderer(loaded)


@dataclass
class _EarlyWriter:
    """Writes each rendered entry's version document into the staging folder as it comes."""

    staging: Staging
    status: StatusDoc | None

    def __post_init__(self) -> None:
        # A state from the health status changes the document: those are written later.
        self.later = {e.id for e in self.status.entries} if self.status is not None else set()

    def __call__(self, relative: str, made: object) -> None:
        if not isinstance(made, _Cached) or made.document is None or made.id in self.later:
            return
        try:
            path = _path("images", made.name, f"{made.version}.json")
        except CatalogError:
            return  # refused when the site is assembled
        self.staging.write(path, made.document, made.sha256)


def _cache_entry(entry: _Entry, blob: str, first: tuple[str, str] | None) -> _Cached:
    document = encode(entry.document)
    summary = encode(entry.summary)
    return _Cached(
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
    )
