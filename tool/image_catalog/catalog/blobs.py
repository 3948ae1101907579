"""Git's names for file contents and work trees, without loading git itself.

The cache of earlier checks needs both on every run, mostly without anything else from git: the
id git gives a file's bytes (its blob id) and the top of the work tree a catalog folder is in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes, without writing it to a repository."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def work_tree_top(path: Path) -> Path | None:
    """The top of the git work tree holding the folder `path` (absolute), or None.

    The folder that holds `.git` (a folder, or a file in a linked work tree or submodule), as git
    finds it when no GIT_DIR is set.
    """
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None
