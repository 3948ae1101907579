"""Offline validation that reuses the checks of unchanged files.

Each image file is known by its git blob id. The id comes, cheapest first: from the cache, while
the file's status (size, mtime, ctime and inode, read while listing the folder) is the one it had
when the id was found; from git's index, for files git knows unchanged since HEAD (asked only when
many statuses are new, as in a fresh clone with a restored cache); else from the file's bytes. A
file whose id is in the cache (`cache.py`) is not read again; the others are parsed and checked,
in worker processes when there are many. The checks across entries then run over the facts of
every file, so the report is the same with or without a cache.

This is the one validation pipeline: `validate.py` gives the commands their validated catalog
through it (`check_keeping_entries`, then `with_entries` for the models), and the build renders
the site's documents on the way (`check_and_render`).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from image_catalog.catalog.blobs import blob_id
from image_catalog.catalog.cache import FactsCache, cache_file, code_fingerprint
from image_catalog.catalog.declarations import check_registries, check_vocabulary
from image_catalog.catalog.facts import EntryFacts, check_entries, entry_facts
from image_catalog.catalog.loader import (
    VOCABULARY_FILE,
    Catalog,
    FileStatus,
    Loaded,
    accept,
    display_path,
    load_catalog_files,
)
from image_catalog.catalog.report import ValidationReport, finish
from image_catalog.collector import paused
from image_catalog.errors import CatalogError
from image_catalog.fsutil import RACY_NS, NotAFile, read_regular_file
from image_catalog.manifest.load import MAX_FILE_BYTES, LoadError, decode_text, parse_mapping
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.manifest.workers import start_worker

# Below this many files to check, starting worker processes costs more than it saves.
PARALLEL_FROM = 1000


@dataclass(frozen=True)
class CheckStats:
    """How much of the catalog was checked afresh."""

    files: int
    checked: int
    reused: int
    cache: Path | None
    discarded: str | None


class Renderer(Protocol):
    """Turns valid entries into something more (the site's documents) while they are loaded.

    Made from the catalog's vocabulary and registries before any entry is read; sent to the
    worker processes, so it must pickle.
    """

    def wanted(self, relative: str, blob: str | None) -> bool:
        """True when the entry at `relative` with this content must be rendered (not cached)."""
        ...

    def known(self, relative: str) -> bool:
        """True when a blob id of `relative` may spare rendering it (so it is worth finding)."""
        ...

    def __call__(self, loaded: Loaded[CatalogImage]) -> object: ...


@dataclass
class CatalogCheck:
    """What one run of the pipeline found, and what it kept."""

    catalog: Catalog  # the vocabulary and registries; image models only from `with_entries`
    report: ValidationReport
    stats: CheckStats
    blobs: dict[str, str | None]  # per image file, the blob id checked (None: unreadable)
    rendered: dict[str, object]  # what the renderer made of each entry it wanted
    facts: dict[str, EntryFacts]  # per image file, what its checks found


def check_catalog(root: Path, *, use_cache: bool = True) -> tuple[ValidationReport, CheckStats]:
    """Validate the catalog offline, reusing cached checks of unchanged files when allowed."""
    result = check_and_render(root, use_cache=use_cache)
    return result.report, result.stats


def check_and_render(
    root: Path,
    *,
    use_cache: bool = True,
    renderer: Callable[[Catalog], Renderer] | None = None,
    on_rendered: Callable[[str, object], None] | None = None,
) -> CatalogCheck:
    """`check_catalog`, rendering on the way the entries the renderer wants.

    Each file is read at most once: a file whose facts are cached is still parsed when the
    renderer wants it, and its facts are checked afresh then. `on_rendered` is called with each
    rendered entry as soon as it is made, before the checks across entries (so that the caller
    can start using it while other files are still being checked).
    """
    with paused():  # the facts and entries of every file, kept until the command ends
        return _check_and_render(root, use_cache, renderer, on_rendered)


def cache_key(root: Path) -> str:
    """What the cached checks of the catalog folder `root` hold for: this code, this vocabulary."""
    return f"{code_fingerprint()} vocabulary {file_blob_id(root / VOCABULARY_FILE) or 'none'}"


def _check_and_render(
    root: Path,
    use_cache: bool,
    renderer: Callable[[Catalog], Renderer] | None,
    on_rendered: Callable[[str, object], None] | None,
    *,
    render_read: bool = False,
) -> CatalogCheck:
    """`check_and_render`; with `render_read`, every file read is rendered, wanted or not."""
    started = time.time_ns()
    catalog = load_catalog_files(root)
    relatives = catalog.image_paths
    cache = None
    if use_cache:
        cache = FactsCache.open(cache_file(root), cache_key(root))
    render = renderer(catalog) if renderer is not None else None
    facts: dict[str, EntryFacts] = {}
    blobs: dict[str, str | None] = {}  # a file left out is read: its id comes from its bytes
    if cache is not None or render is not None:
        blobs = _blob_ids(root, relatives, catalog.file_stats, cache, render)
    pending: list[tuple[str, bool]] = []
    for relative in relatives:
        found = None
        blob = blobs.get(relative)
        if cache is not None:
            found = cache.get(relative, blob)
        wanted = render is not None and render.wanted(relative, blob)
        if found is None or wanted:
            pending.append((relative, wanted or render_read))
        else:
            facts[relative] = found
            if cache is not None:  # found by its bytes: known by its status from now on
                cache.seen(relative, _trusted(catalog.file_stats.get(relative), started))
    rendered: dict[str, object] = {}
    for relative, blob, checked, made in _check_files(root, pending, catalog.vocabulary, render):
        facts[relative] = checked
        blobs[relative] = blob
        if made is not None:
            rendered[relative] = made
            if on_rendered is not None:
                on_rendered(relative, made)
        if cache is not None:
            cache.put(relative, blob, checked, _trusted(catalog.file_stats.get(relative), started))
    catalog.files_read += len(relatives)
    problems = list(catalog.problems)
    problems += check_vocabulary(catalog)
    problems += check_registries(catalog.registries)
    prefix = display_path(root, "")
    entries = [(prefix + relative, facts[relative]) for relative in relatives]
    hosts = {r.model.spec.host for r in catalog.registries}
    problems += check_entries(entries, hosts, catalog.ids_on_disk())
    report = finish(catalog, problems)
    report.images = sum(1 for _, f in entries if f.id is not None)
    discarded = None
    if cache is not None:
        discarded = cache.discarded
        cache.keep_only(set(relatives))
        cache.save()
    stats = CheckStats(
        files=len(relatives),
        checked=len(pending),
        reused=len(relatives) - len(pending),
        cache=cache.path if cache is not None else None,
        discarded=discarded,
    )
    return CatalogCheck(catalog, report, stats, blobs, rendered, facts)


# Above this many files not known by their status, git's status of the work tree (which compares
# each file with git's index) is cheaper than reading them: a fresh clone with a restored cache.
ASK_GIT_FROM = 500


def _blob_ids(
    root: Path,
    relatives: Sequence[str],
    stats: dict[str, FileStatus],
    cache: FactsCache | None,
    render: Renderer | None,
) -> dict[str, str | None]:
    """The blob id of the image files it can save reading: from the cache while a file's status
    is unchanged, from git's index for files git knows unchanged since HEAD, else from its bytes.

    A file neither the cache nor the renderer knows is left out: it is read and checked anyway,
    and its id comes from the bytes checked.
    """
    blobs: dict[str, str | None] = {}
    unknown: list[str] = []
    for relative in relatives:
        if cache is not None and (blob := cache.blob(relative, stats.get(relative))) is not None:
            blobs[relative] = blob
        elif (cache is not None and cache.knows(relative)) or (
            render is not None and render.known(relative)
        ):
            unknown.append(relative)
    known: dict[str, str] = {}
    if len(unknown) >= ASK_GIT_FROM:
        from image_catalog.catalog.git import worktree_blobs  # loads git: only when it saves

        known = worktree_blobs(root)
    for relative in unknown:
        blobs[relative] = known.get(relative) or file_blob_id(root / relative)
    return blobs


def _trusted(status: FileStatus | None, started: int) -> FileStatus | None:
    """`status` when it is old enough to tell a later change (see RACY_NS), else None."""
    if status is None or max(status[1], status[2]) >= started - RACY_NS:
        return None
    return status


def file_blob_id(path: Path) -> str | None:
    """The blob id of a file git does not know as it is (untracked, changed, or no git at all)."""
    try:
        return blob_id(read_regular_file(path, MAX_FILE_BYTES))
    except (OSError, NotAFile):
        return None  # checked again, and reported, when it is read


_Checked = tuple[str, str | None, EntryFacts, object | None]


def _check_files(
    root: Path,
    work: Sequence[tuple[str, bool]],
    vocabulary: Vocabulary | None,
    renderer: Renderer | None,
) -> Iterator[_Checked]:
    """(path, blob id of the bytes checked, facts, rendered or None) of each file, in order."""
    workers = min(os.cpu_count() or 1, 8)
    if len(work) < PARALLEL_FROM or workers < 2:
        checker = _Checker(root, vocabulary, renderer)
        yield from (checker.check(*item) for item in work)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    chunks = max(32, len(work) // workers // 16)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(), gc.get_threshold(), root, vocabulary, renderer),
    )
    try:
        # The workers are started with Ctrl-C held back (they inherit the mask, and ignore it
        # once started); one pressed meanwhile reaches this process as soon as they are.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = [
                pool.submit(_check_in_worker, work[start : start + chunks])
                for start in range(0, len(work), chunks)
            ]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for future in futures:
            yield from future.result()
    except BaseException:
        # Ctrl-C (or an error): the workers are stopped now rather than left to finish what they
        # hold, since nothing of it will be used; what is queued never runs. No future is
        # cancelled here: the pool's own thread settles them all (cancelling them meanwhile
        # races with it in Python 3.11).
        for worker in multiprocessing.active_children():
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Checker:
    """Reads, parses and checks one image file at a time into its facts (and renders it)."""

    def __init__(
        self, root: Path, vocabulary: Vocabulary | None, renderer: Renderer | None
    ) -> None:
        self.root = root
        self.vocabulary = vocabulary
        self.renderer = renderer
        self.context: dict[str, Any] = {"vocabulary": vocabulary}

    def check(self, relative: str, render: bool) -> _Checked:
        shown = display_path(self.root, relative)
        blob, data = _read(self.root / relative, shown)
        scratch = Catalog(root=self.root)
        loaded: Loaded[CatalogImage] | None = accept(
            scratch, relative, data, CatalogImage, "CatalogImage", self.context
        )
        facts = entry_facts(loaded, scratch.problems, self.vocabulary)
        made = None
        if render and loaded is not None and self.renderer is not None:
            made = self.renderer(loaded)
        return relative, blob, facts, made


def _read(path: Path, shown: str) -> tuple[str | None, dict[str, Any] | LoadError]:
    """The blob id of the file's bytes and the mapping they hold (or why they hold none)."""
    try:
        # Not a read that follows a link or blocks: a FIFO or /dev/zero would never end.
        data = read_regular_file(path, MAX_FILE_BYTES)
    except NotAFile as exc:
        return None, LoadError(shown, exc.message)
    except OSError as exc:
        return None, LoadError(shown, f"cannot read file: {exc.strerror or exc}")
    try:
        return blob_id(data), parse_mapping(decode_text(data, shown), shown)
    except LoadError as exc:
        return blob_id(data), exc


_worker: _Checker | None = None


def _start_worker(
    parent: int,
    threshold: tuple[int, int, int],
    root: Path,
    vocabulary: Vocabulary | None,
    renderer: Renderer | None,
) -> None:
    global _worker  # one checker per worker process
    _worker = _Checker(root, vocabulary, renderer)
    start_worker(parent, threshold)  # after the checker is made: it is frozen with the rest


def _check_in_worker(items: Sequence[tuple[str, bool]]) -> list[_Checked]:
    assert _worker is not None
    return [_worker.check(*item) for item in items]


@dataclass
class _ChangedSince:
    """Keeps the loaded entries whose file differs from a base revision's (for the review)."""

    base: dict[str, str]  # path -> blob id at the base

    def __getstate__(self) -> dict[str, object]:
        return {"base": {}}  # only the main process decides what is wanted

    def wanted(self, relative: str, blob: str | None) -> bool:
        return blob is None or self.base.get(relative) != blob

    def known(self, relative: str) -> bool:
        return relative in self.base

    def __call__(self, loaded: Loaded[CatalogImage]) -> Loaded[CatalogImage]:
        return loaded


def check_keeping_changes(
    root: Path, base: dict[str, str], *, use_cache: bool = True
) -> tuple[Catalog, ValidationReport]:
    """`check_catalog`, and the catalog with the models of the entries changed since `base`.

    `base` maps each file of the catalog folder at the base revision to its blob id. The review
    against the base (`review.compare_with_base`) reads models only of files whose content
    differs from the base, so those are all the returned catalog's `images` hold.
    """
    result = check_and_render(root, use_cache=use_cache, renderer=lambda _: _ChangedSince(base))
    catalog = result.catalog
    catalog.images = [made for made in result.rendered.values() if isinstance(made, Loaded)]
    return catalog, result.report


class _KeepEntries:
    """Keeps the entry of every file the checks read; wants none read for it alone."""

    def wanted(self, relative: str, blob: str | None) -> bool:
        return False

    def known(self, relative: str) -> bool:
        return False

    def __call__(self, loaded: Loaded[CatalogImage]) -> Loaded[CatalogImage]:
        return loaded


def check_keeping_entries(root: Path, *, use_cache: bool = True) -> CatalogCheck:
    """`check_catalog`, keeping in `rendered` the entry of every valid file it had to read.

    `with_entries` then reads the others, once the checks are done: a command that refuses an
    invalid catalog reads no file whose checks were cached.
    """
    with paused():
        return _check_and_render(root, use_cache, lambda _: _KeepEntries(), None, render_read=True)


def with_entries(checked: CatalogCheck) -> Catalog:
    """The checked catalog with the model of every valid entry in `images`, in catalog order.

    The entries the checks did not read (their facts came from the cache) are read now; each must
    still hold the content whose facts were reused, or the catalog changed while it was checked.
    """
    catalog = checked.catalog
    entries = {r: e for r, e in checked.rendered.items() if isinstance(e, Loaded)}
    unread = [
        (r, True)
        for r in catalog.image_paths
        if r not in checked.rendered and checked.facts[r].id is not None  # a valid entry
    ]
    with paused():
        for relative, blob, _, made in _check_files(
            catalog.root, unread, catalog.vocabulary, _KeepEntries()
        ):
            if blob is None or blob != checked.blobs.get(relative):
                shown = display_path(catalog.root, relative)
                raise CatalogError(f"{shown} changed while the catalog was checked; run again")
            if isinstance(made, Loaded):
                entries[relative] = made
    catalog.images = [entries[r] for r in catalog.image_paths if r in entries]
    return catalog
