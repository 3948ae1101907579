"""The publication history of the catalog, read from git: who added, changed, deprecated or
removed which entry, when, in which commit and through which pull request.

Git is the audit trail: every change reaches the main branch through a commit, and a merged pull
request through its merge (or squash) commit. The history followed is the first-parent line of a
ref, so each event is the moment a change landed on the main line; for a merge, the commit on the
merged branch that made the change names its author.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from image_catalog.catalog.git import (
    CommitInfo,
    FileChange,
    FolderStep,
    GitRepo,
    first_parent_steps,
    folder_blobs,
    merged_change,
    require_full_history,
    resolve_commit,
)
from image_catalog.catalog.loader import IMAGES_DIR, entry_id
from image_catalog.catalog.review import Aspect, aspects, field_differences, is_deprecated
from image_catalog.catalog.rules import rfc3339
from image_catalog.catalog.source import blob_mapping
from image_catalog.errors import CatalogError, UsageError
from image_catalog.manifest.load import LoadError

Action = Literal["added", "changed", "deprecated", "undeprecated", "removed"]

# GitHub's merge commit title, and the "(#123)" it appends to a squash-merge title.
_MERGE_TITLE = re.compile(r"^Merge pull request #(\d+) from ")
_SQUASH_TITLE = re.compile(r"\(#(\d+)\)$")


@dataclass(frozen=True)
class AuditEvent:
    """One change of one entry, as it landed on the main line."""

    entry: str  # NAME@VERSION
    action: Action
    aspects: tuple[Aspect, ...]  # what an edit touched; empty for additions and removals
    path: str  # the file, from the top of the repository
    commit: CommitInfo  # the first-parent commit that brought the change to the main line
    change: CommitInfo  # the commit that made it: `commit` itself, or one a merge brought in
    pull_request: int | None

    @property
    def time(self) -> datetime:
        """When the change landed on the main line."""
        return self.commit.committer.time


@dataclass(frozen=True)
class AuditLog:
    ref: str
    commit: str
    images: str  # the images folder, from the top of the repository
    events: list[AuditEvent]


def pull_request_number(message: str) -> int | None:
    """The pull request a main-line commit merged, from GitHub's merge or squash title."""
    title = message.split("\n", 1)[0].strip()
    found = _MERGE_TITLE.match(title) or _SQUASH_TITLE.search(title)
    return int(found.group(1)) if found else None


def audit_history(
    catalog_dir: Path,
    ref: str = "HEAD",
    *,
    entry: str | None = None,
    since: datetime | None = None,
) -> AuditLog:
    """Every event of every entry (or of `entry`: NAME or NAME@VERSION), oldest first.

    `since` keeps the events that landed at or after that time. Naming an entry that never
    appears in the history is a `CatalogError`, so that a misspelt name does not pass for an
    entry without changes.
    """
    if not catalog_dir.is_dir():
        raise UsageError(f"{catalog_dir}: no such catalog folder (pass --catalog DIR)")
    git = GitRepo(catalog_dir)
    require_full_history(git)
    images = images_folder(git, catalog_dir)
    head = resolve_commit(git, ref)
    events = [e for e in _events(git, ref, images) if _matches(e.entry, entry)]
    if entry is not None and not events:
        raise CatalogError(f"{entry} does not appear in the history of {ref} ({images})")
    if since is not None:
        events = [e for e in events if e.time >= since]
    return AuditLog(ref=ref, commit=head.id, images=images, events=events)


def first_published(
    repo_path: Path, catalog_dir: Path, ref: str = "HEAD"
) -> dict[str, tuple[str, str]]:
    """For each entry present at `ref`: the commit id and ISO 8601 UTC time of the first commit
    on the first-parent line where its file appeared, i.e. when it was first published on the
    main branch (the time is that commit's committer time: when it landed).

    `repo_path` is any path inside the repository; a relative `catalog_dir` is taken relative to
    it. Only tree diffs are read, never file contents. A shallow clone is refused (a
    `UsageError`): its oldest commit would pass for the first publication of everything.
    """
    catalog = catalog_dir if catalog_dir.is_absolute() else repo_path / catalog_dir
    git = GitRepo(repo_path)
    require_full_history(git)
    images = images_folder(git, catalog)
    present = {entry_id(path) for path in folder_blobs(git, ref, images) if _is_entry(path)}
    found: dict[str, tuple[str, str]] = {}
    for step in first_parent_steps(git, ref, images):
        for change in step.changes:
            entry = entry_id(change.path)
            if change.status == "added" and entry in present and entry not in found:
                found[entry] = (step.commit.id, rfc3339(step.commit.committer.time))
    return found


def images_folder(git: GitRepo, catalog_dir: Path) -> str:
    """The catalog's images folder, from the top of the repository."""
    relative = git.relative(catalog_dir)
    return IMAGES_DIR if relative == "." else f"{relative}/{IMAGES_DIR}"


def _events(git: GitRepo, ref: str, images: str) -> Iterator[AuditEvent]:
    for step in first_parent_steps(git, ref, images):
        pull_request = pull_request_number(step.commit.message)
        for change in sorted(step.changes, key=lambda c: c.path):
            if not _is_entry(change.path):
                continue  # a misplaced file is not an entry; validation reports it
            described = _describe(git, change)
            if described is None:
                continue  # only formatting or comments changed
            action, touched = described
            path = f"{images}/{change.path}"
            yield AuditEvent(
                entry=entry_id(change.path),
                action=action,
                aspects=touched,
                path=path,
                commit=step.commit,
                change=_author_commit(git, step, path),
                pull_request=pull_request,
            )


def _describe(git: GitRepo, change: FileChange) -> tuple[Action, tuple[Aspect, ...]] | None:
    if change.status == "added":
        return "added", ()
    if change.status == "deleted":
        return "removed", ()
    assert change.old_blob is not None  # a modification has both sides
    assert change.new_blob is not None
    old, new = _parse(git, change.old_blob), _parse(git, change.new_blob)
    if old is None or new is None:
        return "changed", ("other",)  # unreadable on one side: what changed is unknown
    paths = field_differences(old, new)
    if not paths:
        return None
    touched = tuple(aspects(old, new, paths))
    if is_deprecated(new) != is_deprecated(old):
        return ("deprecated" if is_deprecated(new) else "undeprecated"), touched
    return "changed", touched


def _author_commit(git: GitRepo, step: FolderStep, path: str) -> CommitInfo:
    if len(step.commit.parents) < 2:
        return step.commit
    return merged_change(git, step.commit.id, path) or step.commit


def _parse(git: GitRepo, blob: str) -> dict[str, Any] | None:
    try:
        return blob_mapping(git, blob, blob)
    except LoadError:
        return None


def _is_entry(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) == 2 and parts[1].endswith(".yaml")


def _matches(entry: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return entry == wanted if "@" in wanted else entry.split("@", 1)[0] == wanted
