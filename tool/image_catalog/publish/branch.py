"""The published entry committed on a new git branch, with the catalog files it needs and the
texts of its pull request.

The branch starts at HEAD and must not exist yet; the commit writes the file into the work tree
only once the commit exists, and nothing is pushed. The commit message and the pull-request
description are rendered from the validated entry, never from what was typed.

The branch must pass the validation CI runs on its own: publish checked the entry against the
catalog in the work tree, whose declarations (a new registry, a vocabulary addition) may not be
committed yet. The uncommitted catalog files the entry needs are committed with it: first none,
then the registry files declaring its hosts, then the vocabulary too, the first of these trees
whose catalog validates offline. When none does, nothing is committed and the files (whose other
uncommitted changes would break the branch) are named with the problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from image_catalog.catalog.git import GitRepo, Identity, changed_files, folder_blobs, read_blob
from image_catalog.catalog.loader import IMAGES_DIR, VOCABULARY_FILE, Catalog
from image_catalog.catalog.validate import validate_catalog
from image_catalog.errors import CatalogError
from image_catalog.manifest.model import CatalogImage
from image_catalog.scratch import scratch_dir

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("image_catalog.publish", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - renders commit messages and markdown, never HTML
)

_SHOWN_PROBLEMS = 10  # a refusal lists this many problems of the branch's catalog, then counts


class BranchWouldNotValidate(CatalogError):
    """The branch's catalog would not pass validation; nothing was committed."""


@dataclass(frozen=True)
class BranchCommit:
    """The commit made on the new branch, and the pull-request description to open with it."""

    commit: str
    pull_request: str


@dataclass(frozen=True)
class BranchFiles:
    """What the branch's commit holds: the entry, and the uncommitted catalog files it needs."""

    entry: str  # from the top of the repository, '/' separators
    files: dict[str, bytes]  # every file committed, the entry's included
    dependencies: tuple[str, ...]  # the files besides the entry, from the top


def prepare_branch(root: Path, branch: str, author: Identity | None) -> GitRepo:
    """The repository holding `root`, once it is clear that `branch` can be made there by
    `author`: a missing identity must fail before anything is written."""
    repo = GitRepo(root)
    repo.check_new_branch(branch)
    repo.signature(author)
    return repo


def branch_files(
    repo: GitRepo, catalog: Catalog, target: Path, text: str, image: CatalogImage, branch: str
) -> BranchFiles:
    """The entry `text` (to be the file `target`) with the uncommitted catalog files it needs for
    the branch's catalog to validate; a `BranchWouldNotValidate` when no such set validates."""
    entry = repo.relative(target)
    folder = repo.relative(catalog.root)
    prefix = "" if folder == "." else f"{folder}/"
    changed = {
        path
        for path, status in changed_files(catalog.root).items()
        if status != "deleted" and not path.startswith(f"{IMAGES_DIR}/")
    }
    hosts = {manifest.host for _, manifest in image.manifests()}
    root = catalog.root.resolve()
    registries = sorted(
        relative
        for loaded in catalog.registries
        if loaded.model.spec.host in hosts
        and (relative := loaded.source.resolve().relative_to(root).as_posix()) in changed
    )
    vocabulary = [VOCABULARY_FILE] if VOCABULARY_FILE in changed else []
    problems: list[str] = []
    needed: list[str] = []
    for needed in _distinct([], registries, registries + vocabulary):
        files = {entry: text.encode()}
        files.update({prefix + p: (catalog.root / p).read_bytes() for p in needed})
        problems = _problems_at(repo, folder, files, shown=str(catalog.root))
        if not problems:
            return BranchFiles(entry, files, tuple(prefix + p for p in needed))
    raise BranchWouldNotValidate(_refusal(branch, [prefix + p for p in needed], problems))


def _distinct(*stages: list[str]) -> list[list[str]]:
    found: list[list[str]] = []
    for stage in stages:
        if stage not in found:
            found.append(stage)
    return found


def _problems_at(repo: GitRepo, folder: str, files: dict[str, bytes], shown: str) -> list[str]:
    """The offline problems of the catalog folder as HEAD holds it with `files` put in, as
    `validate` would print them (paths shown under `shown`, the catalog folder)."""
    prefix = "" if folder == "." else f"{folder}/"
    with scratch_dir(None, "image-catalog-branch-") as scratch:
        root = scratch / "catalog"
        contents = {
            path: read_blob(repo, blob)
            for path, blob in folder_blobs(repo, "HEAD", prefix.rstrip("/")).items()
        }
        contents.update({path.removeprefix(prefix): data for path, data in files.items()})
        for path, data in contents.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        _, report = validate_catalog(root, use_cache=False)
        return [
            str(problem).replace(str(root), shown, 1)
            for problem in report.problems
            if problem.severity == "error"
        ]


def _refusal(branch: str, needed: list[str], problems: list[str]) -> str:
    shown = problems[:_SHOWN_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more")
    listed = "\n".join(shown)
    if not needed:
        return (
            f"nothing was committed: the catalog on branch {branch!r} (HEAD with the new entry) "
            f"would not validate:\n{listed}"
        )
    return (
        f"nothing was committed: the entry needs the uncommitted {', '.join(needed)}, and with "
        f"them the catalog on branch {branch!r} would not validate:\n{listed}\n"
        f"they hold other uncommitted changes that cannot be committed with it: commit or stash "
        "those first"
    )


def commit_entry(
    repo: GitRepo,
    branch: str,
    planned: BranchFiles,
    image: CatalogImage,
    author: Identity | None,
) -> BranchCommit:
    """Commit the planned files on the new `branch`, and say what to open a pull request with."""
    message = _TEMPLATES.get_template("commit-message.j2").render(
        image=image, dependencies=planned.dependencies
    )
    commit = repo.commit_on_new_branch(branch, planned.files, message, author)
    pull_request = _TEMPLATES.get_template("pull-request.md.j2").render(
        image=image, path=planned.entry, dependencies=planned.dependencies
    )
    return BranchCommit(commit, pull_request)
