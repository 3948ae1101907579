"""Which commit last changed each entry file: what a resource is annotated with.

Annotating that commit (not the catalog's HEAD) keeps a resource unchanged by merges that do not
touch its entry.
"""

from __future__ import annotations

from pathlib import Path

from image_catalog.catalog.audit import images_folder
from image_catalog.catalog.git import GitRepo, first_parent_steps, folder_blobs
from image_catalog.catalog.loader import entry_id
from image_catalog.errors import UsageError


def entry_commits(root: Path) -> tuple[dict[str, str], list[str]]:
    """For each entry of the catalog at `root`: the commit on the first-parent line that last
    changed its file, and warnings. Outside git, or in a shallow clone, nothing (HEAD is used
    instead)."""
    try:
        git = GitRepo(root)
    except UsageError:
        return {}, []
    if git.repo.is_shallow:
        return {}, [
            f"{root}: a shallow clone: each resource is annotated with the catalog's "
            "HEAD commit, not the commit that last changed its entry (fetch the full history)"
        ]
    images = images_folder(git, root)
    if git.head_commit_id() is None:
        return {}, []
    present = set(folder_blobs(git, "HEAD", images))
    found: dict[str, str] = {}
    for step in first_parent_steps(git, "HEAD", images):
        for change in step.changes:
            if change.status != "deleted" and change.path in present:
                found[change.path] = step.commit.id
    return {entry_id(path): commit for path, commit in found.items()}, []
