"""What a pull request changes in the catalog, compared with its base branch.

Published versions are immutable: consumers pin `NAME@VERSION`, so an edit to one would change
what they get without a new name. Against the base, an entry may only change its lifecycle fields
(`spec.lifecycle.deprecated`, `spec.lifecycle.supersededBy`) and `metadata.labels`; any other
edit, a changed digest first of all, is refused with "publish a new version instead", and a
removal is refused unless explicitly allowed. The entries added or changed are also the only ones
the online checks need to look at again.

The base side is read from git objects (never checked out): only the files whose bytes differ
from the working tree are parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import ValidationError

from image_catalog.catalog.loader import IMAGES_DIR, VOCABULARY_FILE, Catalog, Loaded
from image_catalog.catalog.loader import entry_id as entry_id_of
from image_catalog.catalog.problems import Problem, locate_all, sort_key
from image_catalog.catalog.source import CatalogSource, GitRevision, WorkTree
from image_catalog.manifest.declarations import Registry, VocabularyFile
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.load import LoadError
from image_catalog.manifest.model import CatalogImage, dump
from image_catalog.manifest.vocabulary import Vocabulary

# The fields a published version may still change: spec.lifecycle holds exactly `deprecated`
# and `supersededBy`, so its prefix covers both, including a lifecycle block added whole.
LIFECYCLE_PREFIXES: tuple[FieldPath, ...] = (("spec", "lifecycle"), ("metadata", "labels"))
DEPRECATED: FieldPath = ("spec", "lifecycle", "deprecated")
MANIFEST_PREFIXES: tuple[FieldPath, ...] = (("spec", "index"), ("spec", "variants"))

Aspect = Literal["digest", "lifecycle", "other"]


# --- comparing two versions of one entry ---------------------------------------------------------


def field_differences(old: Any, new: Any, path: FieldPath = ()) -> list[FieldPath]:
    """Where two plain-data documents differ: the differing leaves, or the smallest container
    whose shape differs (a key present on one side only, a list whose length changed)."""
    found: list[FieldPath] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key in old and key in new:
                found += field_differences(old[key], new[key], (*path, key))
            else:
                found.append((*path, key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found += field_differences(a, b, (*path, i))
        return found
    return [] if old == new else [path]


def is_lifecycle(path: FieldPath) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in LIFECYCLE_PREFIXES)


def is_digest(path: FieldPath) -> bool:
    """A manifest reference (`...ref`), which is where the digest lives."""
    return bool(path) and path[-1] == "ref" and path[:2] in MANIFEST_PREFIXES


def digests(data: Any) -> set[str]:
    """Every digest an entry's plain data pins: the `ref` of each manifest `is_digest` names,
    the same manifests `CatalogImage.manifests()` lists for a validated entry."""
    return {
        value.rsplit("@", 1)[-1]
        for path, value in _leaves(data)
        if isinstance(value, str) and is_digest(path)
    }


def _leaves(data: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))
    else:
        yield path, data


def aspects(old: Any, new: Any, paths: Iterable[FieldPath]) -> list[Aspect]:
    """A coarse account of an edit: its digests, its lifecycle, anything else."""
    found: set[Aspect] = set()
    if digests(old) != digests(new):
        found.add("digest")
    for path in paths:
        found.add("lifecycle" if is_lifecycle(path) else "digest" if is_digest(path) else "other")
    return sorted(found)


def is_deprecated(data: Any) -> bool:
    node = data
    for part in DEPRECATED:
        node = node.get(part) if isinstance(node, dict) else None
    return node is not None


# --- the change set of a working tree against a base ---------------------------------------------


@dataclass
class ChangeSet:
    """The catalog's entries added, deprecated, otherwise changed and removed since `base`."""

    base: str
    commit: str
    added: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    registries: list[str] = field(
        default_factory=list
    )  # new, or with another host, TLS setting or credentials: not yet trusted with secrets

    @property
    def touched(self) -> set[str]:
        """NAME@VERSION of every entry in the working tree that differs from the base: the
        entries the online checks must look at (pass as `check_online(..., only=...)`)."""
        return {*self.added, *self.deprecated, *self.changed}


@dataclass
class _Side:
    """One version of one entry: its plain data, and the validated model's dump when it has one."""

    data: dict[str, Any]
    validated: dict[str, Any] | None


def compare_with_base(catalog: Catalog, base: str, *, allow_removal: bool = False) -> ChangeSet:
    """Compare the loaded working-tree catalog with the same folder at the git revision `base`.

    The catalog folder's path inside the repository is the same on both sides. An unknown
    revision, or a catalog outside a git repository, is a `UsageError`.
    """
    before = GitRevision(catalog.root, base)
    now = WorkTree(catalog.root)
    changes = ChangeSet(base=base, commit=before.commit.id)
    base_images = {p for p in before.files if _is_image_path(p)}
    head_images = set(catalog.image_paths)
    loaded = {entry.source.relative_to(catalog.root).as_posix(): entry for entry in catalog.images}
    base_vocabulary = before.document(VOCABULARY_FILE, VocabularyFile)
    vocabulary = base_vocabulary.lookups() if base_vocabulary else catalog.vocabulary
    for relative in sorted(base_images | head_images):
        entry_id = entry_id_of(relative)
        shown = now.shown(relative)
        if relative not in head_images:
            changes.removed.append(entry_id)
            if not allow_removal:
                changes.problems.append(_removal_problem(shown, entry_id, base))
            continue
        if relative not in base_images:
            changes.added.append(entry_id)
            continue
        if now.blob(relative) == before.blob(relative):
            continue
        old = _side(before, relative, None, vocabulary, validate=True)
        new = _side(now, relative, loaded.get(relative), None, validate=False)
        if old is None or new is None:
            # Unreadable on one side: the offline checks report why; count it as a change so
            # the online checks still see it.
            changes.changed.append(entry_id)
            continue
        _compare_entry(changes, entry_id, old, new, (shown, catalog.root / relative))
    changes.registries = untrusted_registries(before, catalog)
    locate_all(changes.problems)
    changes.problems.sort(key=sort_key)
    return changes


def untrusted_registries(before: CatalogSource, catalog: Catalog) -> list[str]:
    """Registries that are new since the base, or point their credentials somewhere else.

    A pull request must not be able to send the CI's registry secrets to a host of its choosing.
    """
    found = []
    for loaded in catalog.registries:
        old = before.document(loaded.source.relative_to(catalog.root).as_posix(), Registry)
        if old is None or _trust(old) != _trust(loaded.model):
            found.append(loaded.model.metadata.name)
    return found


def _trust(registry: Registry) -> tuple[object, ...]:
    spec = registry.spec
    return (spec.host, spec.tls_verify, spec.ca_file, spec.auth)


def _compare_entry(
    changes: ChangeSet, entry_id: str, old: _Side, new: _Side, at: tuple[str, Path]
) -> None:
    # The validated dumps compare meaning (an alias and its canonical name are the same
    # architecture); the plain data is the fallback when either side no longer validates.
    both = old.validated is not None and new.validated is not None
    before, after = (old.validated, new.validated) if both else (old.data, new.data)
    paths = field_differences(before, after)
    if not paths:
        return  # only formatting or comments changed
    if is_deprecated(after) and not is_deprecated(before):
        changes.deprecated.append(entry_id)
    else:
        changes.changed.append(entry_id)
    for path in paths:
        if not is_lifecycle(path):
            changes.problems.append(_edit_problem(at, path, before, changes.base))


def _edit_problem(at: tuple[str, Path], path: FieldPath, before: Any, base: str) -> Problem:
    if is_digest(path):
        was = _value(before, path)
        message = (
            f"the digest changed since {base} (it was {str(was).rsplit('@', 1)[-1]}): a "
            "published version is immutable; publish a new version instead"
        )
    else:
        message = (
            f"changed since {base}: a published version is immutable except spec.lifecycle and "
            "metadata.labels; publish a new version instead"
        )
    return Problem(at[0], message, path, code="immutable", source=at[1])


def _removal_problem(shown: str, entry_id: str, base: str) -> Problem:
    return Problem(
        shown,
        f"{entry_id} is published in {base} and was removed: published versions stay in the "
        "catalog; deprecate it (spec.lifecycle.deprecated) instead, or pass --allow-removal",
        code="removed",
    )


def _is_image_path(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return len(parts) == 3 and parts[0] == IMAGES_DIR and relative.endswith(".yaml")


def _side(
    source: CatalogSource,
    relative: str,
    loaded: Loaded[CatalogImage] | None,
    vocabulary: Vocabulary | None,
    *,
    validate: bool,
) -> _Side | None:
    """One side of an edit: the loaded entry, or the file read as data (and validated)."""
    if loaded is not None:
        return _Side(loaded.data, dump(loaded.model))
    try:
        data = source.mapping(relative)
    except LoadError:
        return None
    return _Side(data, _validated(data, vocabulary) if validate else None)


def _validated(data: dict[str, Any], vocabulary: Vocabulary | None) -> dict[str, Any] | None:
    try:
        return dump(CatalogImage.model_validate(data, context={"vocabulary": vocabulary}))
    except ValidationError:
        return None


def _value(data: Any, path: FieldPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data
