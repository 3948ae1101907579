"""The published entry committed on a new git branch, with the texts of its pull request.

The branch starts at HEAD and must not exist yet; the commit writes the file into the work tree
only once the commit exists, and nothing is pushed. The commit message and the pull-request
description are rendered from the validated entry, never from what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from image_catalog.catalog.git import GitRepo, Identity
from image_catalog.manifest.model import CatalogImage

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("image_catalog.publish", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - renders commit messages and markdown, never HTML
)


@dataclass(frozen=True)
class BranchCommit:
    """The commit made on the new branch, and the pull-request description to open with it."""

    commit: str
    pull_request: str


def prepare_branch(root: Path, branch: str, author: Identity | None) -> GitRepo:
    """The repository holding `root`, once it is clear that `branch` can be made there by
    `author`: a missing identity must fail before anything is written."""
    repo = GitRepo(root)
    repo.check_new_branch(branch)
    repo.signature(author)
    return repo


def commit_entry(
    repo: GitRepo,
    branch: str,
    target: Path,
    text: str,
    image: CatalogImage,
    author: Identity | None,
) -> BranchCommit:
    """Commit `text` as the file `target` on the new `branch`, and say what to open a pull
    request with."""
    path = repo.relative(target)
    message = _TEMPLATES.get_template("commit-message.j2").render(image=image)
    commit = repo.commit_on_new_branch(branch, {path: text.encode()}, message, author)
    pull_request = _TEMPLATES.get_template("pull-request.md.j2").render(image=image, path=path)
    return BranchCommit(commit, pull_request)
