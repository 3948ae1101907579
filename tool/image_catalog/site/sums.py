"""`SHA256SUMS`: every file of a site with its sha256, after a '#' line naming what was built.

    # image-catalog index: catalog commit 0123...cdef, committed 2026-01-31T12:00:00Z
    # image-catalog index: expires 2026-02-07T12:00:00Z
    e3b0c442...  catalog.json
    ...

`sha256sum -c` reads it as it is (it skips the '#' lines). The second line, written only for a
signed site, is when the signature stops vouching for it: build time plus `index build
--valid-for`; a reader with a trust file refuses the site after that (a frozen or replayed
site). It is a line of its own so that a reader older than it still reads the first. Every time
is UTC to the second, within `site.times` (years 1970 to 9998). A site built from uncommitted
changes says `catalog commit 0123...cdef plus uncommitted changes` (and is never signed). A
signed site also carries `SHA256SUMS.sig`, an SSH signature of this file in the namespace
`NAMESPACE` by a key the trust file allows for `PRINCIPAL`. The build writes this format and
the reader reads it, both here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from image_catalog.site.times import FIRST_YEAR, LAST_YEAR

NAMESPACE = "image-catalog-index"
PRINCIPAL = "catalog"
SUMS_FILE = "SHA256SUMS"
SIGNATURE_FILE = "SHA256SUMS.sig"

_HEADER = "# image-catalog index: catalog commit {commit}, committed {time}"
_DIRTY = " plus uncommitted changes"
_HEADER_PATTERN = re.compile(
    r"# image-catalog index: catalog commit (?P<commit>[0-9a-f]{40}|[0-9a-f]{64}), "
    r"committed (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"
)
_EXPIRY = "# image-catalog index: expires {time}"
EXPIRY_PREFIX = "# image-catalog index: expires "
_EXPIRY_PATTERN = re.compile(
    r"# image-catalog index: expires (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"
)
DIGEST = re.compile(r"[0-9a-f]{64}")

# A path inside a site: plain segments, the last one maybe ending in .gz; no '..', no leading
# '/', no empty segment. Possessive: a whole list is checked in one match.
_SEGMENT = r"[0-9A-Za-z][0-9A-Za-z._-]*+"
SITE_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*+")
_SITE_PATHS = re.compile(rf"(?:{_SEGMENT}(?:/{_SEGMENT})*+\n)*+")


def sums_time(moment: datetime) -> str:
    """`moment` as the header writes it: UTC, to the second, RFC 3339 with a Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sums_header(
    commit: str, committed: datetime, expires: datetime | None = None, *, dirty: bool = False
) -> str:
    """The header of SHA256SUMS: the catalog commit and its commit time (UTC, seconds), then,
    for a signed site, a second line saying when it expires.

    `dirty`: the site was built from uncommitted changes on top of that commit, and the line says
    so (`catalog commit X plus uncommitted changes, ...`); `parse_header` does not read such a
    line as naming the commit, and such a site is never signed."""
    header = _HEADER.format(commit=commit + (_DIRTY if dirty else ""), time=sums_time(committed))
    if expires is None:
        return header
    return f"{header}\n{_EXPIRY.format(time=sums_time(expires))}"


def _utc(text: str) -> datetime | None:
    try:  # the patterns let through a month 13 or a day 45
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if FIRST_YEAR <= moment.year <= LAST_YEAR else None


def parse_header(line: str) -> tuple[str, datetime] | None:
    """The catalog commit and commit time a header line names, or None if it is not one."""
    found = _HEADER_PATTERN.fullmatch(line)
    if found is None:
        return None
    committed = _utc(found["time"])
    return None if committed is None else (found["commit"], committed)


def parse_expiry(line: str) -> datetime | None:
    """When the site expires, from the header's second line; None if it is not one (a line
    starting with `EXPIRY_PREFIX` that is not one is a damaged header)."""
    found = _EXPIRY_PATTERN.fullmatch(line)
    return None if found is None else _utc(found["time"])


def format_sums(sums: Mapping[str, str], header: str | None) -> bytes:
    """The file's bytes: `header` (a '#' line) first, then one line per file, sorted by path."""
    text = "".join(f"{digest}  {path}\n" for path, digest in sorted(sums.items()))
    if header is not None:
        text = f"{header}\n{text}"
    return text.encode("utf-8")


def listed_digest(text: str, relative: str) -> str | None:
    """The sha256 a SHA256SUMS text lists for `relative`, or None when it does not list it."""
    needle = f"  {relative}\n"
    at = text.find(needle)
    while at != -1:
        start = at - 64
        if start >= 0 and (start == 0 or text[start - 1] == "\n"):
            digest = text[start:at]
            if DIGEST.fullmatch(digest):
                return digest
        at = text.find(needle, at + 1)
    return None


def read_sums(site: Path) -> dict[str, str]:
    """Relative path -> sha256 of each file the site's SHA256SUMS lists (empty without one)."""
    return read_sums_file(site / SUMS_FILE)


def read_sums_file(path: Path) -> dict[str, str]:
    """As `read_sums`, from the file itself. Only paths inside a site are kept (lines someone
    else wrote, `../x` or `/x`, are dropped), so nothing outside it is linked, kept or removed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return {}
    sums = {}
    for line in lines:
        if line.startswith("#"):
            continue  # the catalog commit line, which sha256sum skips too
        digest, _, relative = line.partition("  ")
        sums[relative] = digest
    if sums and _SITE_PATHS.fullmatch("\n".join(sums) + "\n") is None:
        sums = {
            relative: digest for relative, digest in sums.items() if SITE_PATH.fullmatch(relative)
        }
    return sums
