"""Query planning: which file of a site answers a query, and which of its rows are the answer.

A query's filters combine with AND and name canonical values (`resolve` turns aliases into them,
and refuses an unknown value naming the known ones). `catalog.json` says how many rows every view
has, so `choose_file` picks the smallest file that holds the answer; `positions` then picks the
rows, in index order: each image's head first (its newest version not passed over), then the
filters. These functions read documents and never fetch: `reader.client` does the reading.

Names and versions become paths and URLs: `check_name` refuses what the catalog would refuse
before either is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from image_catalog.errors import UsageError
from image_catalog.naming import closest, is_name, is_version, schedule_tag
from image_catalog.site import contract
from image_catalog.site.contract import VIEW_DIMENSIONS, SiteDoc, Summary, VersionDoc, ViewBy
from image_catalog.site.parse import decode_without_gc
from image_catalog.text import printable


class Query(msgspec.Struct, frozen=True):
    """Filters combine with AND; every tag must be present."""

    architecture: str | None = None
    distro: str | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    all_versions: bool = False
    include_deprecated: bool = False
    available: bool = False  # only versions the last health check found available
    schedule: str | None = None  # only builds of this ScheduledImageBuild (their schedule tag)

    def __post_init__(self) -> None:
        if self.schedule is not None and schedule_tag(self.schedule) is None:
            raise UsageError(
                f"--schedule {self.schedule!r} is not a ScheduledImageBuild name the catalog "
                "tags (lower-case letters, digits, '.', '-', at most 54 characters)"
            )

    @property
    def every_version(self) -> bool:
        """Whether the answer needs every version: --available may pass over newer versions."""
        return self.all_versions or self.available or self.schedule is not None

    def dimensions(self) -> dict[ViewBy, str]:
        given = {"architecture": self.architecture, "distro": self.distro, "target": self.target}
        return {by: value for by in VIEW_DIMENSIONS if (value := given[by]) is not None}


class _Rows(msgspec.Struct):
    """A view or index.json with each row kept as the JSON text the site publishes."""

    images: list[msgspec.Raw]


_ROWS = msgspec.json.Decoder(_Rows)


class QueryResult(msgspec.Struct):
    images: list[Summary]
    source: str = ""
    warnings: list[str] = msgspec.field(default_factory=list)
    # The file the rows were read from, and where each row of `images` is in its `images`.
    published: bytes = b""
    positions: list[int] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return f"QueryResult({self.images!r}, {self.source!r}, {self.warnings!r})"

    def encoded_images(self) -> list[msgspec.Raw]:
        """Each row's JSON as the site publishes it, for a program to read.

        Taken from the file rather than encoded again (the builder encodes every row the same
        way, so the bytes are the same), which makes `query --json` over a large index fast.
        """
        if not self.published or len(self.positions) != len(self.images):
            return [msgspec.Raw(contract.encode(s)) for s in self.images]
        rows = decode_without_gc(_ROWS, self.published).images
        return [rows[i] for i in self.positions]


class ShowResult(msgspec.Struct):
    version: VersionDoc
    latest: str | None = None
    versions: list[str] = msgspec.field(default_factory=list)
    source: str = ""
    warnings: list[str] = msgspec.field(default_factory=list)


def resolve(query: Query, site: SiteDoc) -> Query:
    """The query with canonical names; an unknown value is a usage error naming the known ones."""
    vocabulary = site.vocabulary

    def canonical(
        kind: str, value: str | None, names: Sequence[str], aliases: dict[str, str]
    ) -> str | None:
        if value is None or value in names:
            return value
        if value in aliases:
            return aliases[value]
        # The known names come from the site, which may hold anything: escaped, as all output.
        known = printable(", ".join(names))
        alias_text = f"; aliases: {printable(', '.join(aliases))}" if aliases else ""
        suggestion = printable(closest(value, [*names, *aliases]))
        raise UsageError(f"unknown {kind} {value!r}{suggestion} (known: {known}{alias_text})")

    return Query(
        architecture=canonical(
            "architecture",
            query.architecture,
            vocabulary.architectures,
            vocabulary.aliases.architectures,
        ),
        distro=canonical("distro", query.distro, vocabulary.distros, vocabulary.aliases.distros),
        target=canonical("target", query.target, list(vocabulary.targets), {}),
        tags=query.tags,
        all_versions=query.all_versions,
        include_deprecated=query.include_deprecated,
        available=query.available,
        schedule=query.schedule,
    )


def choose_file(query: Query, site: SiteDoc | None) -> str:
    """The smallest file holding the answer: the view with the fewest rows, else a root file."""
    every = query.every_version
    best = "index.json" if every else "latest.json"
    fewest: int | None = None
    for by, value in query.dimensions().items():
        count = site.views.get(by, {}).get(value) if site is not None else None
        if count is None:
            continue
        rows = count.all if every else count.latest
        if rows is not None and (fewest is None or rows < fewest):
            fewest = rows
            best = f"views/{by}/{value}/{'all' if every else 'latest'}.json"
    return best


def matches(summary: Summary, query: Query) -> bool:
    if query.architecture is not None and query.architecture not in summary.architectures:
        return False
    if query.distro is not None and summary.distro != query.distro:
        return False
    if query.target is not None and all(t.name != query.target for t in summary.targets):
        return False
    return all(tag in summary.tags for tag in query.tags)


def select(rows: Iterable[Summary], query: Query) -> list[Summary]:
    """Apply a (canonical) query to rows in index order.

    Without --all-versions each image's head is chosen first (its newest version, skipping
    deprecated ones unless asked) and the filters apply to it: an image whose newest version no
    longer fits is not listed with an older one. With --available, versions the last health
    check did not find available are passed over first, like deprecated ones: an image's head is
    then its newest available version, as a flashing tool needs.
    """
    listed = rows if isinstance(rows, list) else list(rows)
    return [listed[i] for i in positions(listed, query)]


def positions(rows: Sequence[Summary], query: Query) -> list[int]:
    """Where the rows `select` picks are in `rows`, in order."""

    # Like deprecated ones, versions --available or --schedule leave out are passed over before
    # an image's head is chosen: its head is then its newest available version, or the latest
    # build of the schedule.
    tag = schedule_tag(query.schedule) if query.schedule is not None else None

    def passed_over(summary: Summary) -> bool:
        return (
            (summary.deprecated and not query.include_deprecated)
            or (query.available and summary.health != "available")
            or (tag is not None and tag not in summary.tags)
        )

    chosen: list[int]
    if query.all_versions and tag is None and not query.available:
        # Only deprecation passes a version over: the common case, over every row of an index.
        if query.include_deprecated:
            chosen = list(range(len(rows)))
        else:
            chosen = [i for i, s in enumerate(rows) if not s.deprecated]
    elif query.all_versions:
        chosen = [i for i, s in enumerate(rows) if not passed_over(s)]
    else:
        seen: set[str] = set()
        chosen = []
        for i, summary in enumerate(rows):
            if summary.name in seen or passed_over(summary):
                continue
            seen.add(summary.name)
            chosen.append(i)
    if not query.dimensions() and not query.tags:
        return chosen
    return [i for i in chosen if matches(rows[i], query)]


def check_name(name: str, version: str | None = None) -> None:
    """Names and versions become paths and URLs: refuse anything the catalog would refuse."""
    if not is_name(name):
        raise UsageError(f"{name!r} is not an image name (lowercase letters, digits and '-')")
    if version is not None and not is_version(version):
        raise UsageError(f"{version!r} is not a version (letters, digits, '.', '_' and '-')")


class RecentChoices:
    """The rows recent queries chose from the documents they read: `positions`, computed once.

    Keyed by the document's id, which holding the document keeps from being reused; at most
    `kept` answers are remembered. The documents of unchanged files are shared by the clients of
    one cache folder (`reader.memo`), so one instance is shared by the clients of the process.
    """

    def __init__(self, kept: int = 256) -> None:
        self.kept = kept
        self._chosen: dict[tuple[int, Query], tuple[object, list[int]]] = {}

    def positions(self, doc: object, rows: Sequence[Summary], query: Query) -> list[int]:
        """`positions(rows, query)` for `rows` of `doc`; a new list the caller may keep."""
        key = (id(doc), query)
        known = self._chosen.get(key)
        if known is not None and known[0] is doc:
            return list(known[1])
        chosen = positions(rows, query)
        if len(self._chosen) >= self.kept:
            self._chosen.clear()
        self._chosen[key] = (doc, chosen)
        return list(chosen)
