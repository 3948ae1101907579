"""When each entry was first published, remembered per commit.

Finding it walks the first-parent history of the catalog's images folder (`audit.first_published`):
about half a second at 20,000 entries, the same for every build of the same commit. The answer is
kept next to the cache of checks (`cache.py`), under the commit id and the tool's code, so a
rebuild of an unchanged commit (a file edited but not committed, a rebuild for a new status)
reads it instead.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from image_catalog.catalog.audit import first_published
from image_catalog.catalog.cache import cache_file, code_fingerprint, read_cache, write_cache


class _Firsts(msgspec.Struct, frozen=True):
    key: str  # the tool's code and the commit
    found: dict[str, tuple[str, str]]  # NAME@VERSION -> (commit id, ISO 8601 UTC time)


def first_published_at(root: Path, commit: str) -> dict[str, tuple[str, str]]:
    """`audit.first_published` of the catalog folder `root` at `commit`, read from the cache
    when it was found for that commit before. A `UsageError` (a shallow clone) passes through."""
    facts = cache_file(root)
    path = facts.with_name(facts.name.replace("facts-", "published-", 1))
    key = f"{code_fingerprint()} {commit}"
    cached, _ = read_cache(path, _Firsts)
    if cached is not None and cached.key == key:
        return cached.found
    found = first_published(root, root, commit)
    write_cache(path, _Firsts(key, found))
    return found
