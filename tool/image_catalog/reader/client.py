"""Reading a published index, for `query`, `show` and any program: `IndexClient`.

The index is a local folder (`index build --out DIR`) or an HTTP(S) URL. Over HTTP every file is
fetched with a conditional request (If-None-Match / If-Modified-Since) against an on-disk cache,
so an unchanged file costs a 304 and no body; when the server cannot be reached the cached copy is
used and a warning says how old it is. A copy the server confirmed less than `max_age` seconds
ago (default DEFAULT_MAX_AGE, 1 s; 0 asks every time) is used without asking again, and each
thread keeps its connection to the server open between requests. Each answer comes from the
smallest file that holds it:
`catalog.json` (small) says how many rows every view has, and the client reads the smallest view
instead of `index.json`.

    from image_catalog.reader.client import IndexClient, Query

    client = IndexClient("https://images.example.com/catalog/")
    for image in client.query(Query(architecture="arm64", target="rpi4")).images:
        print(image.name, image.version, image.variants[0].oci)
    detail = client.show("autosd10-rpi4").version        # the latest version, in full

The client never prints: warnings come back in each result's `warnings`. Documents are decoded
with msgspec straight into the `site.contract` types the builder writes; this module imports
nothing from the catalog's authoring side (no pydantic, no YAML), so a query starts fast. It is
the facade over the reader's parts: `reader.sources` (where files come from), `reader.http` and
`reader.cache` (a site over HTTP, imported only for a URL), `reader.query` (which file and which
rows answer a query); what a program needs of them is exported from here.

With a trust file (`IndexClient(..., trust=PATH)` or $IMAGE_CATALOG_TRUST) the client reads only
a signed index: `reader.trust` verifies SHA256SUMS.sig, then each file against SHA256SUMS before it
is parsed or cached, and refuses a site older than one it has already seen, or expired
(`allow_expired=True` reads an expired one anyway, with a warning in each result).

A file read while the site is being deployed can be of another build than the SHA256SUMS read
before it: a hash mismatch reads SHA256SUMS and its signature again, once, then the file, and is
an error only when they still do not match (a signature that does not verify SHA256SUMS is read
again once too, with SHA256SUMS: the two may be of two builds). The SHA256SUMS read again passes
every check the first one did (a rollback among them), so a retry never accepts what the first
read would not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import msgspec

from image_catalog.errors import CatalogError, UsageError
from image_catalog.reader.limits import DEFAULT_DEADLINE
from image_catalog.reader.query import (
    Query,
    QueryResult,
    RecentChoices,
    ShowResult,
    check_name,
    choose_file,
    resolve,
)
from image_catalog.reader.sources import (
    CACHE_ENV,
    DEFAULT_INDEX,
    DEFAULT_MAX_AGE,
    INDEX_ENV,
    INDEX_TIMEOUT,
    Answer,
    DirectorySource,
    NotInIndex,
    SiteReader,
    default_cache_dir,
    default_location,
)
from image_catalog.site.contract import (
    ImageDoc,
    IndexDoc,
    SiteDoc,
    StatusDoc,
    VersionDoc,
    ViewDoc,
)
from image_catalog.site.parse import D, Parse, parser
from image_catalog.site.status import decode as decode_status
from image_catalog.site.sums import SIGNATURE_FILE, SUMS_FILE
from image_catalog.text import printable

if TYPE_CHECKING:
    from image_catalog.reader.trust import Check, SignedSums, Trust

__all__ = [
    "CACHE_ENV",
    "DEFAULT_INDEX",
    "DEFAULT_MAX_AGE",
    "INDEX_ENV",
    "INDEX_TIMEOUT",
    "TRUST_ENV",
    "Answer",
    "IndexClient",
    "NotInIndex",
    "Query",
    "QueryResult",
    "ShowResult",
    "SiteReader",
    "default_cache_dir",
    "default_location",
    "open_source",
]

TRUST_ENV = "IMAGE_CATALOG_TRUST"

# Shared by the clients of this process, as the documents of unchanged files are (`reader.memo`).
_RECENT = RecentChoices()


def open_source(
    location: str | Path,
    cache_dir: Path | None = None,
    timeout: float = INDEX_TIMEOUT,
    clock: Callable[[], float] = time.time,
    max_age: float = DEFAULT_MAX_AGE,
    *,
    max_index: int | None = None,
    deadline: float = DEFAULT_DEADLINE,
) -> SiteReader:
    """A folder path, or an http(s) URL (cached under `cache_dir`, default_cache_dir(); a copy
    confirmed less than `max_age` seconds ago is used without asking the server). `max_index`:
    the most bytes index.json and its slices may hold (`reader.limits`); `deadline`: the seconds
    one request over HTTP may take in all."""
    text = str(location)
    if "://" not in text:
        return DirectorySource(Path(text), max_index)
    parts = urlsplit(text)
    from image_catalog.web.errors import redact  # a URL's credentials, never shown

    shown = printable(redact(text))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--index {shown!r}: only http:// and https:// URLs or a folder are read")
    if "@" in parts.netloc:
        raise UsageError(
            f"--index {shown!r}: credentials in the URL would show in messages and logs; serve "
            "the index where it can be read without them (it holds no secret)"
        )
    # Imported here: a local folder needs neither the HTTP source nor its cache.
    from image_catalog.reader.cache import Cache
    from image_catalog.reader.http import HttpSource

    return HttpSource(
        text,
        Cache(cache_dir or default_cache_dir()),
        timeout,
        clock,
        max_age,
        max_index=max_index,
        deadline=deadline,
    )


class IndexClient:
    """Queries a published index; see the module documentation."""

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        timeout: float = INDEX_TIMEOUT,
        clock: Callable[[], float] = time.time,
        trust: Path | str | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        max_index: int | None = None,
        deadline: float = DEFAULT_DEADLINE,
        allow_expired: bool = False,
    ) -> None:
        self.source = open_source(
            location or default_location(),
            cache_dir,
            timeout,
            clock,
            max_age,
            max_index=max_index,
            deadline=deadline,
        )
        chosen = trust if trust is not None else os.environ.get(TRUST_ENV) or None
        self._trust: Trust | None = None
        if chosen is not None:
            # Imported here: a reader without a trust file does not pay for it.
            from image_catalog.reader.trust import Trust, trust_file

            # The newest signed commit time seen from each index is kept beside the cache.
            self._trust = Trust.of(
                trust_file(chosen),
                cache_dir or default_cache_dir(),
                clock,
                allow_expired=allow_expired,
            )
        self._sums: SignedSums | None = None

    @property
    def location(self) -> str:
        return self.source.location

    def site(self) -> Answer[SiteDoc]:
        return self._read("catalog.json", parser(SiteDoc))

    def index(self) -> Answer[IndexDoc]:
        return self._read("index.json", parser(IndexDoc))

    def status(self) -> Answer[StatusDoc]:
        """status.json: the last health check, with each entry's history and the figures.

        Either layout is read (`site.status.decode`: the compact one of schemaVersion 2, or the
        expanded one of 1) into the same `StatusDoc`. Raises `NotInIndex` when the site was built
        without a status.
        """
        return self._read("status.json", decode_status)

    def image(self, name: str) -> Answer[ImageDoc]:
        check_name(name)
        try:
            return self._read(f"images/{name}.json", parser(ImageDoc))
        except NotInIndex as exc:
            raise NotInIndex(f"no image {name!r} in the index at {self.location}") from exc

    def version(self, name: str, version: str) -> Answer[VersionDoc]:
        check_name(name, version)
        try:
            return self._read(f"images/{name}/{version}.json", parser(VersionDoc))
        except NotInIndex as exc:
            known = printable(", ".join(v.version for v in self.image(name).doc.versions))
            raise NotInIndex(
                f"no version {version!r} of {name} in the index at {self.location} "
                f"(versions: {known})"
            ) from exc

    def _read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        """Read through the source; with a trust file, only what the signed SHA256SUMS lists."""
        if self._trust is None:
            return self.source.read(relative, parse)
        from image_catalog.reader.trust import HashMismatch

        sums = self._signed_sums(self._trust)
        try:
            return self._read_listed(sums, relative, parse)
        except HashMismatch:
            # SHA256SUMS and the file may be of two builds, read during a deploy: once more.
            return self._read_listed(self._signed_sums(self._trust, again=True), relative, parse)

    def _read_listed(self, sums: SignedSums, relative: str, parse: Parse[D]) -> Answer[D]:
        if sums.digest(relative) is None:
            raise NotInIndex(f"{relative}: not in the signed SHA256SUMS of {self.location}")
        answer = self.source.read(relative, sums.checked(relative, parse))
        if sums.warning is None or sums.warning == answer.warning:
            return answer
        warning = f"{answer.warning}\n{sums.warning}" if answer.warning else sums.warning
        return msgspec.structs.replace(answer, warning=warning)

    def _signed_sums(self, trust: Trust, *, again: bool = False) -> SignedSums:
        """The verified SHA256SUMS, read once per client; read anew when `again`, or when the
        one in hand has expired since (a long-lived client keeps to the expiry too)."""
        from image_catalog.reader.trust import SignatureRefused

        held = self._sums
        if again or (held is not None and held.warning is None and held.expired(trust.clock())):
            self._forget_sums()
        if self._sums is None:
            try:
                self._sums = self._accept_sums(trust)
            except SignatureRefused:
                if again:
                    raise
                # SHA256SUMS.sig and SHA256SUMS of two builds, read during a deploy: once more.
                self._forget_sums()
                self._sums = self._accept_sums(trust)
        return self._sums

    def _accept_sums(self, trust: Trust) -> SignedSums:
        location = self.location
        if "://" not in location:
            location = str(Path(location).resolve())
        return trust.signed_sums(location, self._read_raw)

    def _forget_sums(self) -> None:
        self._sums = None
        for relative in (SIGNATURE_FILE, SUMS_FILE):
            self.source.forget(relative)

    def _read_raw(self, relative: str, check: Check[SignedSums]) -> SignedSums:
        answer = self.source.read(relative, cast(Parse[Any], check))
        return cast("SignedSums", answer.doc)

    def query(self, query: Query) -> QueryResult:
        warnings: list[str] = []
        site: SiteDoc | None = None
        if query.dimensions() or query.available:
            # Aliases, view sizes and whether there is health live in catalog.json, a few kB.
            answer = self.site()
            site = answer.doc
            _note(answer, warnings)
            query = resolve(query, site)
            if query.available and site.status is None:
                raise CatalogError(
                    f"the index at {self.location} carries no registry health (it was built "
                    "without --status), so --available cannot be answered"
                )
        path = choose_file(query, site)
        answer_rows: Answer[ViewDoc] | Answer[IndexDoc]
        answer_rows = self.index() if path == "index.json" else self._read(path, parser(ViewDoc))
        _note(answer_rows, warnings)
        rows = answer_rows.doc.images
        chosen = _RECENT.positions(answer_rows.doc, rows, query)
        return QueryResult(
            [rows[i] for i in chosen],
            answer_rows.location,
            warnings,
            published=answer_rows.body,
            positions=chosen,
        )

    def show(self, name: str, version: str | None = None) -> ShowResult:
        warnings: list[str] = []
        if version is not None:
            answer = self.version(name, version)
            _note(answer, warnings)
            return ShowResult(answer.doc, source=answer.location, warnings=warnings)
        image = self.image(name)
        _note(image, warnings)
        doc = image.doc
        if not doc.versions:
            raise CatalogError(f"{image.location}: image {name} lists no versions")
        chosen = next((v for v in doc.versions if v.version == doc.latest), None)
        if chosen is None:
            chosen = doc.versions[0]
            warnings.append(f"every version of {name} is deprecated; showing the newest")
        return ShowResult(
            chosen, doc.latest, [v.version for v in doc.versions], image.location, warnings
        )


def _note(answer: Answer[Any], warnings: list[str]) -> None:
    if answer.warning:
        warnings.append(answer.warning)
