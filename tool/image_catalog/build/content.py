"""Every file of a site as the writer takes it, made from the rendered entries.

The files come in four kinds, each by its own path: index.json first (the largest: its hash and
.gz are made by the writer's threads while the rest is encoded), then the version documents to
encode, then those the sites may hold already (known by their file's sha256 and size), then every
other file. A file made of entries (a view, an image file) is known by a digest of what it is
made of; while that digest is the one an earlier build recorded (`known`), it is handed over by
its hash, and its bytes are made only if neither site holds it. Nothing here writes a file.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import msgspec

from image_catalog.build.entries import (
    Hosts,
    RenderedEntry,
    render_entry,
    site_path,
    version_path,
    with_health,
)
from image_catalog.catalog.loader import Catalog
from image_catalog.errors import CatalogError
from image_catalog.manifest.model import VocabularySpec
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.site import contract, kinds
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    VIEW_DIMENSIONS,
    Aliases,
    CatalogInfo,
    Counts,
    ImageDoc,
    IndexDoc,
    SiteDoc,
    StatusDoc,
    Summary,
    VersionDoc,
    Versions,
    ViewBy,
    ViewCount,
    ViewDoc,
    VocabularyDoc,
)
from image_catalog.site.status import STATUS_FILE, encode_status

SITE_FILE = "catalog.json"
# Views of every version exist only where they are much smaller than index.json: with a handful of
# architectures, each architecture's history is most of the index, and writing it would cost more
# build time than it saves any client (which then reads index.json).
ALL_VERSION_VIEWS: tuple[ViewBy, ...] = ("distro", "target")
# The digest of every schema file: what they are made of is the code, which `known` is for.
_SCHEMAS = "schemas"

# Per image file and view (by path): the digest of what it is made of, the file's sha256 and
# size, and the size of its .gz (0: none), as an earlier build recorded them.
FileSum = tuple[str, str, int, int]


class KeptFile(NamedTuple):
    """A file known by its hash: the sites (the live one, or the earlier one being updated) may
    hold it already, and its bytes are made only if they do not."""

    sha256: str  # of the file: the bytes and a final newline
    size: int  # of the file
    gz_size: int | None = None  # of the .gz beside it, if known


class SiteFile(NamedTuple):
    """A file other than index.json and the version documents: `make` gives its bytes, unless
    `kept` says which file the sites may hold already."""

    path: str
    make: Callable[[], bytes]
    kept: KeptFile | None = None


class Packed(NamedTuple):
    """A large file's bytes (final newline included) and what gives its .gz if it is made
    elsewhere (started before the site is written)."""

    file: bytes
    packed: Callable[[], bytes] | None


class ReferredVersions(NamedTuple):
    """The version documents known by their file's hash: (path, sha256, size) of each, for
    `Staging.keep_all`, and their entries by the same position."""

    files: list[tuple[str, str, int]]
    entries: list[RenderedEntry]


@dataclass
class SiteContent:
    """Every version ordered, plus what the views and image files need."""

    entries: list[RenderedEntry]
    by_name: dict[str, list[RenderedEntry]]
    heads: set[int]
    vocabulary: VocabularyDoc
    values: dict[ViewBy, list[str]]
    status: StatusDoc | None = None
    # The bytes of a version document left out of its entry (see `RenderedEntry`).
    load: Callable[[RenderedEntry], bytes] | None = None
    # Per image file and view (by path), from an earlier build (see `FileSum`, `_image_digest`,
    # `_view_digest`): such a file is handed over by its hash while its digest is the same.
    known: Mapping[str, FileSum] = field(default_factory=dict)
    # And the digest of each such file of this build (filled in while encoding).
    digests: dict[str, str] = field(default_factory=dict)
    # index.json, when made (and its .gz started) ahead of the other files: see `index_file`.
    index: Packed | None = None
    # Built from uncommitted changes on top of the commit: catalog.json and index.json say so.
    dirty: bool = False

    def index_packed(self, commit: str | None, base_url: str | None) -> Packed:
        """index.json: made ahead, or now (its .gz then made by the writer)."""
        if self.index is not None:
            return self.index
        return Packed(self.index_file(commit, base_url), None)

    def index_file(self, commit: str | None, base_url: str | None) -> bytes:
        """index.json's bytes, its final newline included."""
        index = IndexDoc(
            schema_version=SCHEMA_VERSION,
            catalog=CatalogInfo(commit=commit, dirty=self.dirty),
            base_url=base_url,
            vocabulary=self.vocabulary,
            images=[_summary(e) for e in self.entries],
        )
        return contract.encode(index) + b"\n"

    def encoded_versions(self) -> Iterator[tuple[str, bytes, str | None]]:
        """(path, JSON, sha256 of the file if known) of each version document that holds its
        document (or has no hash to be kept by): see `referred_versions` for the others."""
        load = self.load
        for entry in self.entries:
            if entry.document is None and entry.sha256 is not None and entry.size is not None:
                continue
            path = version_path(entry.name, entry.version)
            yield path, contract.encode(_loaded(entry, load)), entry.sha256

    def referred_versions(self) -> ReferredVersions:
        """The version documents left out of their entries, known by their file's hash."""
        referred = ReferredVersions([], [])
        for entry in self.entries:
            if entry.document is None and entry.sha256 is not None and entry.size is not None:
                path = version_path(entry.name, entry.version)
                referred.files.append((path, entry.sha256, entry.size))
                referred.entries.append(entry)
        return referred

    def version(self, entry: RenderedEntry) -> bytes:
        """A version document's bytes, when the sites lack its file."""
        return contract.encode(_loaded(entry, self.load))

    def other_files(self, commit: str | None, base_url: str | None) -> Iterator[SiteFile]:
        """The views, latest.json, the image files, status.json, catalog.json and the schemas.

        The views (large, few) come before the image files (many): their .gz are made by the
        writer's threads while the image files are encoded."""
        encode = contract.encode
        make = functools.partial
        counts: dict[ViewBy, dict[str, ViewCount]] = {by: {} for by in VIEW_DIMENSIONS}
        yield from self._views(counts)
        heads = sorted(self.heads)
        digest = self._view_digest("latest", heads)
        yield self._file("latest.json", digest, make(self._encoded_view, "latest", heads))
        for name, versions in self.by_name.items():
            path = site_path("images", f"{name}.json")
            digest = _image_digest(name, _latest(versions), versions)
            yield self._file(path, digest, make(self._encoded_image, name, versions))
        site = SiteDoc(
            schema_version=SCHEMA_VERSION,
            catalog=CatalogInfo(commit=commit, dirty=self.dirty),
            base_url=base_url,
            counts=Counts(images=len(self.by_name), versions=len(self.entries)),
            vocabulary=self.vocabulary,
            views=counts,
            status=STATUS_FILE if self.status is not None else None,
        )
        if self.status is not None:
            yield SiteFile(STATUS_FILE, make(encode_status, self.status))
        yield SiteFile(SITE_FILE, make(encode, site))
        yield from _schema_files(self.known, self.digests)

    def _views(self, counts: dict[ViewBy, dict[str, ViewCount]]) -> Iterator[SiteFile]:
        """The files under views/, counting their rows into `counts` for catalog.json.

        A latest.json holds both head rows (see `_heads`) of every image with a head that has the
        value, so that the client picks the right head first and filters it second, exactly as
        it does on the root latest.json.
        """
        heads_of, every, named = _view_rows(self.entries, self.heads)
        for by in VIEW_DIMENSIONS:
            for value in self.values[by]:
                latest = sorted(i for name in named[by, value] for i in heads_of[name])
                folder = site_path("views", by, value)
                digest = self._view_digest("latest", latest, by, value)
                make = functools.partial(self._encoded_view, "latest", latest, by, value)
                yield self._file(f"{folder}/latest.json", digest, make)
                rows = None
                if by in ALL_VERSION_VIEWS:
                    rows = every[by, value]
                    digest = self._view_digest("all", rows, by, value)
                    make = functools.partial(self._encoded_view, "all", rows, by, value)
                    yield self._file(f"{folder}/all.json", digest, make)
                counts[by][value] = ViewCount(
                    latest=len(latest), all=len(rows) if rows is not None else None
                )

    def _file(self, path: str, digest: str | None, make: Callable[[], bytes]) -> SiteFile:
        """A file made of entries: known by its hash while its digest is the one known."""
        if digest is not None:
            self.digests[path] = digest
            known = self.known.get(path)
            if known is not None and known[0] == digest:
                return SiteFile(path, make, KeptFile(known[1], known[2], known[3] or None))
        return SiteFile(path, make)

    def _view_digest(
        self,
        versions: Versions,
        rows: list[int],
        by: ViewBy | None = None,
        value: str | None = None,
    ) -> str | None:
        """What a view is made of, when every summary's hash is known: which view, and the
        summaries of its rows in order."""
        shas = self._summary_sha256s
        if shas is None:
            return None
        digest = hashlib.sha256(f"{versions}\0{by or ''}\0{value or ''}\0".encode())
        digest.update(b"".join([shas[i] for i in rows]))
        return digest.hexdigest()

    @functools.cached_property
    def _summary_sha256s(self) -> list[bytes] | None:
        shas = [e.summary_sha256 for e in self.entries]
        return None if None in shas else cast(list[bytes], shas)

    def _encoded_view(
        self,
        versions: Versions,
        rows: list[int],
        by: ViewBy | None = None,
        value: str | None = None,
    ) -> bytes:
        summaries = self._summaries
        return contract.encode(
            ViewDoc(
                schema_version=SCHEMA_VERSION,
                by=by,
                value=value,
                versions=versions,
                images=[summaries[i] for i in rows],
            )
        )

    def _encoded_image(self, name: str, versions: list[RenderedEntry]) -> bytes:
        """An image file's bytes, when the sites lack it."""
        return contract.encode(
            ImageDoc(
                schema_version=SCHEMA_VERSION,
                name=name,
                latest=_latest(versions),
                # See _summary: structs or their bytes.
                versions=[cast(VersionDoc, _loaded(e, self.load)) for e in versions],
            )
        )

    @functools.cached_property
    def _summaries(self) -> list[Summary]:
        """Each entry's summary, by its position (see `_summary`)."""
        return [_summary(e) for e in self.entries]


def content_of(
    catalog: Catalog,
    vocabulary: Vocabulary,
    spec: VocabularySpec,
    first: dict[str, tuple[str, str]],
    status: StatusDoc | None = None,
) -> SiteContent:
    """The content of a catalog whose image models are loaded, rendering every entry."""
    hosts = Hosts({r.model.spec.host: r.model for r in catalog.registries})
    entries = (
        render_entry(loaded.model, hosts, vocabulary, first.get(loaded.model.id))
        for loaded in catalog.images
    )
    return content_of_entries(entries, vocabulary, spec, status)


def content_of_entries(
    rendered: Iterable[RenderedEntry],
    vocabulary: Vocabulary,
    spec: VocabularySpec,
    status: StatusDoc | None = None,
    *,
    load: Callable[[RenderedEntry], bytes] | None = None,
    known: Mapping[str, FileSum] | None = None,
) -> SiteContent:
    """The content of entries already rendered by `render_entry` (fresh objects: health is set).

    `load` gives the bytes of a document left out of its entry; `known`, see `SiteContent`."""
    health = {e.id: e for e in status.entries} if status is not None else {}

    def with_state(entry: RenderedEntry) -> RenderedEntry:
        found = health.get(f"{entry.name}@{entry.version}")
        if found is not None and entry.document is None:
            entry.document = _loaded(entry, load)
        return with_health(entry, found)

    entries = sorted(
        (with_state(e) for e in rendered) if health else rendered, key=lambda e: e.order
    )
    by_name: dict[str, list[RenderedEntry]] = defaultdict(list)
    for entry in entries:
        by_name[entry.name].append(entry)
    return SiteContent(
        status=status,
        entries=entries,
        by_name=dict(sorted(by_name.items())),
        heads=_heads(entries),
        vocabulary=_vocabulary(vocabulary, spec),
        values={
            "architecture": [a.name for a in spec.architectures],
            "distro": [d.name for d in spec.distros],
            "target": [t.name for t in spec.targets],
        },
        load=load,
        known=known or {},
    )


def _schema_files(known: Mapping[str, FileSum], digests: dict[str, str]) -> Iterator[SiteFile]:
    """The JSON Schemas: the code's alone, so the files an earlier build of the same code
    (which `known` comes from) wrote are handed over by their hash."""
    texts = functools.cache(kinds.schemas)
    schemas = {p: k for p, k in known.items() if p.startswith("schemas/")}
    if schemas and all(k[0] == _SCHEMAS for k in schemas.values()):
        for path, (_, sha256, size, gz_size) in sorted(schemas.items()):
            digests[path] = _SCHEMAS
            make = functools.partial(_schema_text, texts, path)
            yield SiteFile(path, make, KeptFile(sha256, size, gz_size or None))
        return
    for name, text in texts().items():
        path = site_path("schemas", name)
        digests[path] = _SCHEMAS
        yield SiteFile(path, functools.partial(str.encode, text, "utf-8"))


def _schema_text(texts: Callable[[], dict[str, str]], path: str) -> bytes:
    return texts()[path.removeprefix("schemas/")].encode("utf-8")


def _view_rows(
    entries: list[RenderedEntry], heads: set[int]
) -> tuple[
    dict[str, list[int]], dict[tuple[ViewBy, str], list[int]], dict[tuple[ViewBy, str], set[str]]
]:
    """Per image its head rows; per view value every row with it, and the images with a head
    among those rows."""
    heads_of: dict[str, list[int]] = defaultdict(list)
    for i in sorted(heads):
        heads_of[entries[i].name].append(i)
    every: dict[tuple[ViewBy, str], list[int]] = defaultdict(list)
    named: dict[tuple[ViewBy, str], set[str]] = defaultdict(set)
    for i, entry in enumerate(entries):
        for by, values in entry.keys.items():
            for value in values:
                every[by, value].append(i)
                if i in heads:
                    named[by, value].add(entry.name)
    return heads_of, every, named


def _latest(versions: list[RenderedEntry]) -> str | None:
    return next((e.version for e in versions if not e.deprecated), None)


def _image_digest(name: str, latest: str | None, versions: list[RenderedEntry]) -> str | None:
    """What an image file is made of, when each version document's hash is known: its name,
    latest version and versions' documents in order (the rest is the code's, which the cache
    holding the digest is keyed by)."""
    parts = [name, latest or ""]
    for entry in versions:
        if entry.sha256 is None:
            return None
        parts.append(entry.sha256)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _loaded(
    entry: RenderedEntry, load: Callable[[RenderedEntry], bytes] | None
) -> VersionDoc | msgspec.Raw:
    """The entry's document, its bytes loaded (once) when it was left out."""
    if entry.document is None:
        if load is None:
            raise CatalogError(f"{entry.name}@{entry.version}: no document to write")
        entry.document = msgspec.Raw(load(entry))
    return entry.document


def _summary(entry: RenderedEntry) -> Summary:
    """The entry's summary for a document's list: a struct or its encoded bytes, which the
    encoder copies as they are (the same bytes either way)."""
    return cast(Summary, entry.summary)


def _heads(entries: list[RenderedEntry]) -> set[int]:
    """Per image, its newest version that is not deprecated and its newest of all, if newer.

    The first is what `query` lists by default, the second what it lists with
    --include-deprecated: the image's head is chosen first, then the filters apply to it.
    """
    heads: set[int] = set()
    newest: set[str] = set()
    current: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.name not in newest:
            newest.add(entry.name)
            heads.add(i)
        if not entry.deprecated and entry.name not in current:
            current.add(entry.name)
            heads.add(i)
    return heads


def _vocabulary(vocabulary: Vocabulary, spec: VocabularySpec) -> VocabularyDoc:
    def aliases(table: dict[str, str]) -> dict[str, str]:
        return {alias: name for alias, name in sorted(table.items()) if alias != name}

    return VocabularyDoc(
        architectures=[a.name for a in spec.architectures],
        distros=[d.name for d in spec.distros],
        targets={
            t.name: [vocabulary.architecture(a) or a for a in t.architectures] for t in spec.targets
        },
        aliases=Aliases(
            architectures=aliases(vocabulary.architectures),
            distros=aliases(vocabulary.distros),
        ),
    )
