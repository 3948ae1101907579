"""Where a site's files come from: the `SiteReader` protocol, its answers, and the local folder.

Every source answers a read with an `Answer`: the document parsed from the file, where it was
read, a warning when the copy is stale, and the bytes it was decoded from (a query over a large
index writes rows straight from them). A file the site does not have is `NotInIndex`, whatever
the source; `reader.http` is the other source, a site served over HTTP(S).

The defaults a reader starts from (where the index is, where the HTTP cache lives, how long a
server is waited for) are defined here once, for the client, the HTTP source and the command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Generic, Protocol

import msgspec

from image_catalog.errors import CatalogError, UsageError
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.reader.limits import cap_for, max_index_bytes
from image_catalog.site.parse import D, Parse
from image_catalog.site.sums import SITE_PATH
from image_catalog.text import printable

INDEX_ENV = "IMAGE_CATALOG_INDEX"
CACHE_ENV = "IMAGE_CATALOG_CACHE_DIR"
DEFAULT_INDEX = "site"
# How long the index server is waited for, per request, in seconds.
INDEX_TIMEOUT = 10.0
# How long a copy the server confirmed is used without asking it again (`IndexClient(max_age=)`).
DEFAULT_MAX_AGE = 1.0


class NotInIndex(CatalogError):
    """The index has no such file: an unknown image or version, or not an index at all."""


def default_location() -> str:
    """$IMAGE_CATALOG_INDEX, else ./site."""
    return os.environ.get(INDEX_ENV) or DEFAULT_INDEX


def default_cache_dir() -> Path:
    """$IMAGE_CATALOG_CACHE_DIR, else $XDG_CACHE_HOME/image-catalog, else ~/.cache/image-catalog."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "image-catalog"


class Answer(msgspec.Struct, Generic[D], frozen=True):
    """A parsed document, where it was read, and a warning when it is a stale cached copy."""

    doc: D
    location: str
    warning: str | None = None
    body: bytes = b""  # the JSON `doc` was decoded from

    def __repr__(self) -> str:
        return f"Answer({self.doc!r}, {self.location!r}, {self.warning!r})"


class SiteReader(Protocol):
    location: str

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        """Read `relative` (a path inside the site) and parse it; raises NotInIndex when absent."""
        ...

    def forget(self, relative: str) -> None:
        """Make the next read of `relative` ask where the site is, not a copy kept of it."""
        ...


def checked_site_path(location: str, relative: str) -> str:
    """`relative`, when it is a plain path inside a site (names from a site become paths and
    URLs: `../x` or `/x` would reach outside it)."""
    if SITE_PATH.fullmatch(relative) is None:
        raise CatalogError(
            f"{location}: the index names {printable(relative)!r}, which is not a plain path "
            "inside the site; refusing it"
        )
    return relative


class DirectorySource:
    """A site on the local file system. Its files are read as catalog files are: regular files
    only (no link followed, no FIFO or device waited on), each no larger than it can be."""

    def __init__(self, root: Path, max_index: int | None = None) -> None:
        if not root.is_dir():
            raise UsageError(
                f"{root}: no index here (build one with 'image-catalog index build --out {root}', "
                f"or pass --index DIR|URL or set ${INDEX_ENV})"
            )
        self.root = root
        self.location = str(root)
        self.max_index = max_index_bytes(max_index)

    def read(self, relative: str, parse: Parse[D]) -> Answer[D]:
        path = self.root / checked_site_path(self.location, relative)
        try:
            data = read_regular_file(path, cap_for(relative, self.max_index))
        except FileNotFoundError as exc:
            raise NotInIndex(f"{path}: no such file in the index") from exc
        except NotAFile as exc:
            raise CatalogError(f"{path}: cannot read: {exc.message}") from exc
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        return Answer(parse(data, str(path)), str(path), body=data)

    def forget(self, relative: str) -> None:
        """Nothing is kept: every read of a folder reads the file."""
