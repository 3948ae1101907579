"""How large each file of a site may be, and how long one request may take.

A site is read from a server nobody vouches for (a mirror, a cache in the middle), and without a
trust file its bytes are not checked before they are parsed. So every read stops at a cap derived
from what the file can be: small ceilings for the files whose size does not grow with the catalog
much (`catalog.json`, `SHA256SUMS.sig`) or grows slowly (`SHA256SUMS`, about 100 bytes a file;
`status.json`), and one configurable ceiling for `index.json` and the files that are slices of it
(views, image and version documents). The cap holds for the bytes as sent and as decoded from
gzip, so a gzip bomb stops at the cap too. Every request over HTTP also has a total deadline:
past it the server is unreachable (exit 4), however slowly it keeps sending.
"""

from __future__ import annotations

import os

from image_catalog.errors import UsageError
from image_catalog.site.status import MAX_STATUS_BYTES, STATUS_FILE

MiB = 1 << 20
MAX_INDEX_ENV = "IMAGE_CATALOG_MAX_INDEX_BYTES"
# index.json is about 22 MB at 20,000 entries: the default leaves room for ten times as many.
DEFAULT_MAX_INDEX_BYTES = 256 * MiB
# The seconds one request may take in all, redirects and a slow body included.
DEFAULT_DEADLINE = 120.0

SMALL_FILES = {
    "catalog.json": 16 * MiB,
    "SHA256SUMS": 64 * MiB,
    "SHA256SUMS.sig": 1 * MiB,
    STATUS_FILE: MAX_STATUS_BYTES,
}


def max_index_bytes(chosen: int | None = None) -> int:
    """The ceiling for index.json and its slices: `chosen`, else $IMAGE_CATALOG_MAX_INDEX_BYTES,
    else the default."""
    if chosen is not None:
        if chosen <= 0:
            raise UsageError(f"max_index_bytes {chosen}: give a number of bytes, more than 0")
        return chosen
    text = os.environ.get(MAX_INDEX_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_INDEX_BYTES
    if not text.isdigit() or not text.isascii() or int(text) <= 0:
        raise UsageError(f"${MAX_INDEX_ENV}={text[:40]!r}: give a number of bytes, more than 0")
    return int(text)


def cap_for(relative: str, index_cap: int) -> int:
    """The most bytes the site's file `relative` may hold."""
    return SMALL_FILES.get(relative, index_cap)
