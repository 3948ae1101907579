"""`index build` that reuses what did not change since the last build: the one way a site is built
from a catalog folder, with or without the operator's resources under crs/.

The catalog is validated as `validate` does (unchanged files' checks reused, `catalog/incremental`);
only the files that changed are parsed, and rendered while they are (`renderer.py`), in worker
processes when there are many. Every other entry comes from the cache of the last build
(`site_cache.py`), with its part of the export when the build writes one. The site is then
assembled from every entry, and the writer links each file whose bytes the previous site already
has instead of writing and compressing it again. The bytes are those of
`render.build_from_scratch`, and the crs/ files those of `export crs` for the same options.

A version document is cached as its sha256 and size only, not its bytes: the live site holds its
file (its SHA256SUMS says so, or the entry is rendered again), and the writer keeps or links that
file. Likewise each image file (every version of one image) is known by a digest of what it is made
of, and kept or linked while that is unchanged. Bytes such a file is made of are read from the live
site, checked against their sha256, only when a file next to them changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from image_catalog.build.content import FileSum, SiteContent, content_of_entries
from image_catalog.build.early import EarlyWriter, IndexAhead, assemble_entries
from image_catalog.build.entries import Hosts
from image_catalog.build.outlock import out_locked
from image_catalog.build.render import (
    BuildResult,
    catalog_commit,
    check_out,
    first_published_commits,
    normalize_base_url,
    uncommitted_catalog_files,
    write_content,
)
from image_catalog.build.renderer import DocumentLoader, SiteRenderer
from image_catalog.build.signing import SigningKey, sums_header_for
from image_catalog.build.site_cache import (
    CachedEntry,
    SitePayload,
    read_site_cache,
    site_cache_key,
    site_cache_path,
    write_site_cache,
)
from image_catalog.build.spare import can_update
from image_catalog.build.staging import Staging
from image_catalog.build.writer import SiteWriter
from image_catalog.catalog.incremental import CatalogCheck, check_and_render
from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.validate import InvalidCatalog
from image_catalog.collector import paused
from image_catalog.errors import CatalogError
from image_catalog.export.commits import entry_commits
from image_catalog.export.crs import SITE_FOLDER, ExportOptions, ExportRenderer, assemble_export
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.site.contract import StatusDoc
from image_catalog.site.sums import read_sums


def build_index_reusing(
    root: Path,
    out: Path,
    *,
    base_url: str | None = None,
    status: StatusDoc | None = None,
    sign_key: SigningKey | None = None,
    use_cache: bool = True,
    export: ExportOptions | None = None,
) -> BuildResult:
    """`build_index`, reusing the checks and the rendered entries of unchanged files.

    With `export`, the site holds the catalog's CatalogImage resources under crs/ (as `export
    crs` writes them with those options); an entry they cannot express is left out with a
    warning, since the index itself must not fail for it.

    Without `use_cache`, every file is checked and rendered afresh and no cache is read or
    written; the work is still spread over worker processes, which hand back bytes, so memory
    stays that of one entry per worker and the encoded documents.

    Another build into `out` is waited for (`outlock.py`): this one trusts the live site's
    SHA256SUMS from before validation until its site is swapped in.
    """
    normalize_base_url(base_url)  # a usage error does not wait
    with out_locked(out):
        run = _start(root, out, base_url, status, sign_key, use_cache, export)
        return _build(run, sign_key)


@dataclass
class _Run:
    """One build: what it knows before the catalog is checked, and what it learns while."""

    root: Path
    out: Path
    base: str | None
    status: StatusDoc | None
    use_cache: bool
    export: ExportOptions | None
    commit: str | None
    dirty: bool  # uncommitted changes to the files the build reads, on top of the commit
    header: str | None
    first: dict[str, tuple[str, str]]
    warnings: tuple[str, ...]  # about firstPublished
    cache: Path
    payload: SitePayload | None
    whole: dict[str, CachedEntry]  # the entries of the cache's whole file
    live: dict[str, str]  # read once: what may be reused, and what the writer links
    health: set[str]
    ahead: IndexAhead
    commits: dict[str, str] = field(default_factory=dict)  # of the entries, for the export
    export_warnings: list[str] = field(default_factory=list)
    key: str = ""  # the cache's, once the catalog's vocabulary and registries are read
    renderer: SiteRenderer | None = None

    @property
    def fits(self) -> bool:
        """Whether the cache was written for this catalog's vocabulary and registries."""
        return self.payload is not None and self.payload.key == self.key

    def known_files(self) -> dict[str, FileSum]:
        return self.payload.files if self.payload is not None and self.fits else {}

    def make_renderer(self, catalog: Catalog) -> SiteRenderer:
        """The renderer of this build, made once the vocabulary and registries are read."""
        self.key = site_cache_key(catalog)
        reusable = self.payload.entries if self.payload is not None and self.fits else {}
        hosts = Hosts({r.model.spec.host: r.model for r in catalog.registries})
        vocabulary = catalog.vocabulary or Vocabulary()
        exporter = None
        if self.export is not None:
            exporter = ExportRenderer(hosts.registries, self.export, self.commits, self.commit)
        made = SiteRenderer(hosts, vocabulary, self.first, reusable, self.live, self.health)
        made.exporter = exporter
        self.renderer = made
        if self.status is None:  # a state may need a document's bytes, which come later
            self.ahead.start(catalog, made, self.known_files())
        return made


def _start(
    root: Path,
    out: Path,
    base_url: str | None,
    status: StatusDoc | None,
    sign_key: SigningKey | None,
    use_cache: bool,
    export: ExportOptions | None,
) -> _Run:
    base = normalize_base_url(base_url)
    check_out(out)
    commit = catalog_commit(root)
    dirty = commit is not None and bool(uncommitted_catalog_files(root))
    header = sums_header_for(root, commit, sign_key, dirty=dirty)
    first, warnings = first_published_commits(root, commit, cached=use_cache)
    cache = site_cache_path(root)
    payload, whole = read_site_cache(cache) if use_cache else (None, {})
    run = _Run(
        root=root, out=out, base=base, status=status, use_cache=use_cache, export=export,
        commit=commit, dirty=dirty, header=header, first=first, warnings=warnings, cache=cache,
        payload=payload, whole=whole, live=read_sums(out),
        health={e.id for e in status.entries} if status is not None else set(),
        ahead=IndexAhead(commit, base, dirty),
    )  # fmt: skip
    if export is not None:
        run.commits, run.export_warnings = entry_commits(root)
    return run


@dataclass
class _Assembled:
    """The site to write, and what the cache keeps of this build."""

    content: SiteContent
    entries: dict[str, CachedEntry]  # for the cache
    where: dict[str, str]  # entry id -> its file, for entries known by hash only
    rendered: int  # how many entries were rendered (not taken from the cache)
    known: dict[str, FileSum]
    extra: dict[str, str] = field(default_factory=dict)  # crs/ files
    notes: list[str] = field(default_factory=list)  # warnings about them


def _build(run: _Run, sign_key: SigningKey | None) -> BuildResult:
    # Without an earlier site to update, the staging folder is made now and each entry's version
    # document written as soon as it is rendered, while the other files are still being checked;
    # an invalid catalog then drops it all. An earlier site is not claimed before the catalog is
    # known to be valid, so an invalid one never costs the next build its head start.
    staging = None if can_update(run.out) else Staging(run.out, run.live)
    try:
        early = EarlyWriter(staging, run.status) if staging is not None else None

        def on_rendered(relative: str, made: object) -> None:
            if early is not None:
                early(relative, made)
            run.ahead(relative, made)

        result = check_and_render(
            run.root, use_cache=run.use_cache, renderer=run.make_renderer, on_rendered=on_rendered
        )
        if not result.report.ok:
            raise InvalidCatalog(result.report, "build the index")
        # Tens of thousands of lasting objects, in no cycle: not for the collector to scan.
        with paused():
            assembled = _assemble(run, result)
            if staging is None:
                staging = Staging(run.out, run.live)
            assembled.content.load = DocumentLoader(
                run.root, run.out, staging.path, _renderer(run),
                _vocabulary(result.catalog), result.blobs, assembled.where,
            )  # fmt: skip
        return _write(run, assembled, staging, sign_key)
    finally:
        if staging is not None:
            staging.close()
        if run.renderer is not None:
            run.renderer.close()


def _renderer(run: _Run) -> SiteRenderer:
    assert run.renderer is not None  # made by the validation before any entry is read
    return run.renderer


def _vocabulary(catalog: Catalog) -> Vocabulary:
    if catalog.vocabulary is None or catalog.vocabulary_file is None:
        raise CatalogError(f"{catalog.root}: the catalog has no valid vocabulary.yaml")
    return catalog.vocabulary


def _assemble(run: _Run, result: CatalogCheck) -> _Assembled:
    """Every entry, rendered now or cached; the content made of them; the export's files."""
    catalog = result.catalog
    vocabulary = _vocabulary(catalog)
    assert catalog.vocabulary_file is not None  # checked by `_vocabulary`
    made = _renderer(run)
    entries: dict[str, CachedEntry] = {}
    where: dict[str, str] = {}
    rendered = {r: e for r, e in result.rendered.items() if isinstance(e, CachedEntry)}
    for relative in catalog.image_paths:
        blob = result.blobs.get(relative)
        fresh = rendered.get(relative)
        if fresh is None:
            cached = made.cached[relative]
            entries[relative] = cached
            if cached.document is None:
                where[cached.id] = relative
        elif blob is not None:  # else: content unknown, rendered again next time
            kept = fresh.document if fresh.id in run.health else None
            entries[relative] = msgspec.structs.replace(fresh, blob=blob, document=kept)
    known = run.known_files()
    content = run.ahead.content if run.ahead.rendered.keys() == rendered.keys() else None
    if content is None:
        content = content_of_entries(
            assemble_entries(catalog.image_paths, rendered, made.cached),
            vocabulary,
            catalog.vocabulary_file.model.spec,
            run.status,
            known=known,
        )
    content.dirty = run.dirty
    assembled = _Assembled(content, entries, where, len(result.rendered), known)
    if run.export is not None:
        _add_export(run, assembled, catalog.image_paths, rendered)
    return assembled


def _add_export(
    run: _Run, assembled: _Assembled, paths: list[str], rendered: dict[str, CachedEntry]
) -> None:
    """The crs/ files, from each entry's part of the export (rendered now or cached)."""
    cached = _renderer(run).cached
    parts = []
    for relative in paths:
        part = (rendered.get(relative) or cached[relative]).export
        assert part is not None  # an entry without one is rendered again
        parts.append((relative, part))
    export = assemble_export(parts, run.root, run.commit)
    assembled.extra = {f"{SITE_FOLDER}/{name}": text for name, text in export.files().items()}
    skipped = (f"not in {SITE_FOLDER}/: {problem}" for problem in export.skipped)
    assembled.notes = [*run.export_warnings, *skipped]


def _write(
    run: _Run, assembled: _Assembled, staging: Staging, sign_key: SigningKey | None
) -> BuildResult:
    saving: list[threading.Thread] = []

    def save(writer: SiteWriter) -> None:
        # Saved while the site is swapped in, from the hashes of the files just written.
        thread = _save_cache(run, assembled, writer)
        if thread is not None:
            saving.append(thread)

    try:
        done = write_content(
            assembled.content, run.out, run.commit, run.base, run.warnings, assembled.extra,
            header=run.header, sign_key=sign_key, staging=staging, on_finished=save,
        )  # fmt: skip
    finally:
        for thread in saving:
            thread.join()
    warnings = (*done.warnings, *assembled.notes)
    return replace(done, warnings=warnings, rendered=assembled.rendered)


def _save_cache(run: _Run, assembled: _Assembled, writer: SiteWriter) -> threading.Thread | None:
    """Start writing the cache in a thread, unless nothing in it would change."""
    files: dict[str, FileSum] = {}
    for file, digest in assembled.content.digests.items():
        if file in writer.sums:
            gz = writer.sizes.get(f"{file}.gz", 0)
            files[file] = (digest, writer.sums[file], writer.sizes[file], gz)
    if not run.use_cache:
        return None
    entries = assembled.entries
    unchanged = not assembled.rendered and len(entries) == len(_renderer(run).cached)
    if unchanged and files == assembled.known:
        return None
    thread = threading.Thread(
        target=write_site_cache,
        args=(run.cache, run.key, entries, run.whole, files),
        name="site-cache",
    )
    thread.start()
    return thread
