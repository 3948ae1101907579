"""What a build starts before the catalog is known to be valid, dropped if it is not.

While the checks across entries still run, each rendered version document is written into the
staging folder as it comes (`EarlyWriter`), and index.json is made and its .gz started in a thread
as soon as every entry is at hand (`IndexAhead`): that compression, the longest job of the site's
writer, then overlaps the checks. An invalid catalog drops the staging folder and all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from image_catalog.build.content import FileSum, Packed, SiteContent, content_of_entries
from image_catalog.build.entries import RenderedEntry, site_path
from image_catalog.build.renderer import SiteRenderer
from image_catalog.build.site_cache import CachedEntry
from image_catalog.build.staging import Staging
from image_catalog.build.storing import gzip_bytes
from image_catalog.catalog.loader import Catalog
from image_catalog.collector import paused
from image_catalog.errors import CatalogError
from image_catalog.site.contract import StatusDoc

T = TypeVar("T")


def assemble_entries(
    paths: list[str], rendered: dict[str, CachedEntry], cached: dict[str, CachedEntry]
) -> list[RenderedEntry]:
    """Every entry: the rendered one (with its document's bytes), else the cached one."""
    return [(rendered.get(r) or cached[r]).entry() for r in paths]


@dataclass
class IndexAhead:
    """index.json made, and its .gz started in a thread, as soon as every entry the renderer
    wanted is rendered. Started only without a health status (a state may need a document's
    bytes, which come later)."""

    commit: str | None
    base_url: str | None
    dirty: bool = False  # built from uncommitted changes on top of the commit
    catalog: Catalog | None = None
    renderer: SiteRenderer | None = None
    known: dict[str, FileSum] = field(default_factory=dict)
    rendered: dict[str, CachedEntry] = field(default_factory=dict)
    content: SiteContent | None = None

    def start(self, catalog: Catalog, renderer: SiteRenderer, known: dict[str, FileSum]) -> None:
        self.catalog, self.renderer, self.known = catalog, renderer, known

    def __call__(self, relative: str, made: object) -> None:
        if self.renderer is None or not isinstance(made, CachedEntry):
            return
        self.rendered[relative] = made
        if len(self.rendered) == self.renderer.wanted_count:
            with paused():
                self._prepare(self.renderer)

    def _prepare(self, renderer: SiteRenderer) -> None:
        catalog = self.catalog
        if catalog is None or catalog.vocabulary is None or catalog.vocabulary_file is None:
            return
        paths = catalog.image_paths
        if any(r not in self.rendered and r not in renderer.cached for r in paths):
            return  # not every entry is there: made later, if the catalog is valid
        content = content_of_entries(
            assemble_entries(paths, self.rendered, renderer.cached),
            catalog.vocabulary,
            catalog.vocabulary_file.model.spec,
            known=self.known,
        )
        content.dirty = self.dirty
        file = content.index_file(self.commit, self.base_url)
        content.index = Packed(file, InBackground(gzip_bytes, file).result)
        self.content = content


class InBackground(Generic[T]):
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
class EarlyWriter:
    """Writes each rendered entry's version document into the staging folder as it comes."""

    staging: Staging
    status: StatusDoc | None

    def __post_init__(self) -> None:
        # A state from the health status changes the document: those are written later.
        self.later = {e.id for e in self.status.entries} if self.status is not None else set()

    def __call__(self, relative: str, made: object) -> None:
        if not isinstance(made, CachedEntry) or made.document is None or made.id in self.later:
            return
        try:
            path = site_path("images", made.name, f"{made.version}.json")
        except CatalogError:
            return  # refused when the site is assembled
        self.staging.write(path, made.document, made.sha256)
