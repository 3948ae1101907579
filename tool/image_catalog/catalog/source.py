"""A catalog folder's files as they are in the work tree or at a git revision.

This is the one place that reads files from git objects as YAML: the review of a change against its
base and the audit of the history both come here. A revision is never checked out; only the files a
caller asks for are read and parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from image_catalog.catalog.blobs import blob_id
from image_catalog.catalog.git import (
    CommitInfo,
    GitRepo,
    folder_blobs,
    read_blob,
    resolve_commit,
)
from image_catalog.catalog.loader import display_path
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.load import (
    MAX_FILE_BYTES,
    LoadError,
    decode_text,
    load_mapping,
    parse_mapping,
)

M = TypeVar("M", bound=BaseModel)


def blob_mapping(git: GitRepo, blob: str, shown: str) -> dict[str, Any]:
    """The git blob `blob` parsed as one YAML mapping; a `LoadError` when it is not one."""
    return parse_mapping(decode_text(read_blob(git, blob), shown), shown)


class CatalogSource:
    """Files of one catalog folder, by path relative to it ('/' separators)."""

    root: Path

    def blob(self, relative: str) -> str | None:
        """The file's git blob id (what its bytes hash to), or None when there is no such file."""
        raise NotImplementedError

    def mapping(self, relative: str) -> dict[str, Any]:
        """The file parsed as one YAML mapping; a `LoadError` when it cannot be."""
        raise NotImplementedError

    def shown(self, relative: str) -> str:
        return display_path(self.root, relative)

    def document(
        self, relative: str, model: type[M], context: dict[str, Any] | None = None
    ) -> M | None:
        """The file validated as `model`, or None when it is absent, unreadable or invalid."""
        if self.blob(relative) is None:
            return None
        try:
            return model.model_validate(self.mapping(relative), context=context)
        except (LoadError, ValidationError):
            return None


class WorkTree(CatalogSource):
    """The catalog folder on disk, as the working tree holds it now."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob(self, relative: str) -> str | None:
        try:
            return blob_id(read_regular_file(self.root / relative, MAX_FILE_BYTES))
        except (OSError, NotAFile):
            return None  # the loader reports what is wrong with it

    def mapping(self, relative: str) -> dict[str, Any]:
        return load_mapping(self.root / relative, self.shown(relative))


class GitRevision(CatalogSource):
    """The catalog folder `root` as it is at the git revision `ref`, read from git objects.

    The folder's path inside the repository is the same as in the working tree. An unknown
    revision, or a folder outside a git repository, is a `UsageError`.
    """

    def __init__(self, root: Path, ref: str) -> None:
        self.root = root
        self.ref = ref
        self.git = GitRepo(root)
        folder = self.git.relative(root)
        self.commit: CommitInfo = resolve_commit(self.git, ref)
        self.files = folder_blobs(self.git, self.commit.id, "" if folder == "." else folder)

    def blob(self, relative: str) -> str | None:
        return self.files.get(relative)

    def mapping(self, relative: str) -> dict[str, Any]:
        blob = self.files.get(relative)
        if blob is None:
            raise LoadError(self.shown(relative), f"no such file at {self.ref}")
        return blob_mapping(self.git, blob, self.shown(relative))
