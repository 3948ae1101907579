"""Rendering the entries a build cannot take from its cache, while the catalog is checked.

`SiteRenderer` is handed to the catalog's validation (`catalog.incremental.Renderer`): it says
which entries must be rendered again (a changed file, another first-published commit, a version
document the live site lacks, an export part made otherwise) and renders them, in the worker
processes when there are many. Workers hand back bytes, which travel cheaper than structs.
`DocumentLoader` gives the bytes of a version document the cache knows by its hash only: the
live site's file, checked against that hash, or the entry rendered again from its unchanged file.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from image_catalog.build.entries import Hosts, RenderedEntry, render_entry
from image_catalog.build.site_cache import CachedEntry, cache_entry
from image_catalog.catalog.blobs import blob_id
from image_catalog.catalog.loader import Catalog, Loaded, accept, display_path
from image_catalog.errors import CatalogError
from image_catalog.export.crs import ExportRenderer
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.load import MAX_FILE_BYTES, LoadError, decode_text, parse_mapping
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.scratch import Scratch, make_scratch

_FIRST_PREFIX = ".image-catalog-first-"
# What the workers read from the file made for them: `first` and the export's commits.
_Sent = tuple[dict[str, tuple[str, str]], dict[str, str]]


@dataclass
class SiteRenderer:
    """Renders the entries whose cached documents are missing or stale (see `Renderer`)."""

    hosts: Hosts
    vocabulary: Vocabulary
    first: dict[str, tuple[str, str]]
    cached: dict[str, CachedEntry] = field(default_factory=dict)
    # What the live site holds (its SHA256SUMS), and the entries with a health state.
    live: dict[str, str] = field(default_factory=dict)
    health: set[str] = field(default_factory=set)
    exporter: ExportRenderer | None = None  # with the export: each entry's part of it too
    wanted_count: int = 0  # how many entries `wanted` asked for
    # `first` (and the export's commits) for the worker processes, in a file: a worker reads
    # what it is sent while it starts, and the main process, writing megabytes into a pipe,
    # would wait for each in turn.
    first_file: str | None = None
    _unread: bool = False  # in a worker: `first_file` is still to be read
    _scratch: Scratch | None = None

    def __getstate__(self) -> dict[str, object]:
        # The workers render; only the main process looks at the cache.
        exporter = self.exporter
        commits = exporter.commits if exporter is not None else {}
        if (self.first or commits) and self.first_file is None:
            self._scratch = make_scratch(Path(tempfile.gettempdir()), _FIRST_PREFIX)
            self.first_file = str(self._scratch.path / "first.msgpack")
            with open(self.first_file, "wb") as stream:
                stream.write(msgspec.msgpack.encode((self.first, commits)))
        if exporter is not None and self.first_file is not None:
            exporter = replace(exporter, commits={})
        return {
            **self.__dict__, "cached": {}, "first": {}, "live": {}, "health": set(),
            "exporter": exporter, "_unread": self.first_file is not None, "_scratch": None,
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
        if self.exporter is not None and not self.exporter.made_alike(found.export):
            return True
        if found.document is not None:
            return False
        # Known by its hash only: the live site must hold it, and a health state needs its bytes.
        held = self.live.get(f"images/{name}/{version}.json")
        return held != found.sha256 or (bool(self.health) and ident in self.health)

    def known(self, relative: str) -> bool:
        return relative in self.cached

    def __call__(self, loaded: Loaded[CatalogImage]) -> CachedEntry:
        """The entry rendered and encoded (in the worker: bytes travel back cheaper than
        structs); its blob id is filled in by the main process."""
        if self._unread and self.first_file is not None:
            with open(self.first_file, "rb") as stream:
                self.first, commits = msgspec.msgpack.decode(stream.read(), type=_Sent)
            if self.exporter is not None:
                self.exporter.commits = commits
            self._unread = False
        first = self.first.get(loaded.model.id)
        entry = render_entry(loaded.model, self.hosts, self.vocabulary, first)
        export = self.exporter(loaded) if self.exporter is not None else None
        return cache_entry(entry, "", first, export)


@dataclass
class DocumentLoader:
    """The bytes of a version document known by its hash only (see `RenderedEntry`): the live
    site's file, or the earlier site's being updated, if it has that hash; else the entry
    rendered again from its file, which must still be the content that was checked."""

    root: Path
    out: Path
    staging: Path
    renderer: SiteRenderer
    vocabulary: Vocabulary
    blobs: dict[str, str | None]
    where: dict[str, str]  # entry id -> its file, for entries known by hash only

    def __call__(self, entry: RenderedEntry) -> bytes:
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

    def _render(self, relative: str) -> CachedEntry:
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
        loaded = accept(scratch, relative, mapping, CatalogImage, "CatalogImage", context)
        if loaded is None:
            raise changed
        return self.renderer(loaded)
