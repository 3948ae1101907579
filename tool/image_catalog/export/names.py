"""The names of the CatalogImage resources, and the resource each name is given to.

Names are DNS-1123 subdomains of at most 63 characters built from the entry alone (`NAME.VERSION`,
then `-ARCH`, then `-disk`), so adding an entry never renames another; a name that would be lossy
(a version with upper case or `_`), too long, or shared gets a short hash of its exact identity.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from image_catalog.errors import CatalogError

Part = Literal["index", "container", "disk"]

# A subdomain may have 253 characters, but controllers copy a resource's name into label values
# and the names of what they create (63 at most), so names stay within 63.
NAME_MAX = 63
# A DNS-1123 subdomain: dot-separated labels, each lower-case letters, digits and inner '-'.
_CLEAN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HASH_LENGTH = 10


@dataclass(frozen=True)
class Resource:
    """One CatalogImage resource and the catalog entry it stands for."""

    name: str
    entry: str
    part: Part
    architecture: str | None
    document: dict[str, Any]

    @property
    def file(self) -> str:
        return f"{self.name}.yaml"


def _identity(entry: str, part: Part, architecture: str | None) -> str:
    return f"{entry}#{part}:{architecture or ''}"


def short_hash(identity: str) -> str:
    """The hash a name carries where it would be lossy, too long or shared: of `identity`,
    `NAME@VERSION#PART:ARCH`."""
    return hashlib.sha256(identity.encode()).hexdigest()[:_HASH_LENGTH]


def resource_name(name: str, version: str, part: Part, architecture: str | None) -> str:
    """`NAME.VERSION[-ARCH][-disk]`, or with a hash where that would be lossy or too long.

    A catalog name has no dot, so the first dot always ends it. A version or architecture that is
    not already DNS text is folded (lower case; a run of other characters becomes `.` if it holds
    a dot, else `-`) and the hash added, so two versions that fold alike still get two names.
    """
    arch = architecture.replace("_", "-") if architecture else None
    words = [version] + ([arch] if arch else []) + (["disk"] if part == "disk" else [])
    lossy = not _CLEAN.match(version) or (arch is not None and not _CLEAN.match(arch))
    readable = f"{name}.{'-'.join(_fold(word) for word in words)}"
    if lossy or len(readable) > NAME_MAX:
        return _with_hash(readable, _identity(f"{name}@{version}", part, architecture))
    return readable


def _fold(word: str) -> str:
    def separator(run: re.Match[str]) -> str:
        return "." if "." in run.group() else "-"

    return re.sub(r"[^a-z0-9]+", separator, word.lower()).strip("-.") or "x"


def _with_hash(name: str, identity: str) -> str:
    suffix = "-" + short_hash(identity)
    return name[: NAME_MAX - len(suffix)].rstrip("-.") + suffix


def make_unique(resources: list[Resource]) -> None:
    """Give every resource its final name; names that still meet get the hash of their identity."""
    by_name: dict[str, list[Resource]] = {}
    for resource in resources:
        by_name.setdefault(resource.name, []).append(resource)
    final: list[Resource] = []
    for name, group in sorted(by_name.items()):
        if len(group) == 1:
            final.append(group[0])
            continue
        for resource in group:
            identity = _identity(resource.entry, resource.part, resource.architecture)
            final.append(_renamed(resource, _with_hash(name, identity)))
    taken = [r.name for r in final]
    if len(set(taken)) != len(taken):
        raise CatalogError("two CatalogImage resources would share a name even with hashes")
    resources[:] = [_renamed(r, r.name) for r in final]


def _renamed(resource: Resource, name: str) -> Resource:
    document = dict(resource.document)
    document["metadata"] = {**document["metadata"], "name": name}
    return Resource(name, resource.entry, resource.part, resource.architecture, document)
