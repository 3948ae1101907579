"""The one place that uses pygit2: reading history and committing what `publish` wrote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pygit2

from image_catalog.catalog.gitindex import flagged_paths
from image_catalog.errors import CatalogError, UsageError
from image_catalog.fsutil import atomic_write_bytes


class GitError(CatalogError):
    """A git operation that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """`Name <email>`, as git prints it."""
        name, sep, rest = text.partition("<")
        email = rest[:-1].strip()
        # A line break would write a header of its own into the commit; keep both parts plain.
        plain = text.isprintable() and ">" not in name and not any(c in email for c in " <>")
        if not sep or not rest.endswith(">") or not name.strip() or not email or not plain:
            raise UsageError(f"{text!r} is not an identity of the form 'Name <email>'")
        return cls(name.strip(), email)


class GitRepo:
    """A git working tree found from any path inside it."""

    def __init__(self, path: Path) -> None:
        found = pygit2.discover_repository(str(path.resolve()))
        if found is None:
            raise UsageError(f"{path}: not inside a git repository")
        self.repo = pygit2.Repository(found)
        if self.repo.workdir is None:
            raise UsageError(f"{path}: a bare repository has no working tree")
        self.root = Path(self.repo.workdir).resolve()

    def relative(self, path: Path) -> str:
        """`path` relative to the top of the working tree, with '/' separators."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError as exc:
            raise UsageError(f"{path} is outside the repository at {self.root}") from exc

    def head_commit_id(self) -> str | None:
        if self.repo.head_is_unborn:
            return None
        return str(self.repo.head.target)

    def signature(self, identity: Identity | None) -> pygit2.Signature:
        if identity is not None:
            return pygit2.Signature(identity.name, identity.email)
        try:
            return self.repo.default_signature
        except (KeyError, pygit2.GitError) as exc:
            raise UsageError(
                "no commit identity: set git config user.name and user.email, or pass --author "
                "'Name <email>'"
            ) from exc

    def check_new_branch(self, branch: str) -> None:
        """Raise unless `branch` can be created at HEAD; publish asks before it writes anything."""
        if self.repo.head_is_unborn:
            raise GitError("the repository has no commits yet; commit the catalog first")
        if not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
            raise UsageError(f"{branch!r} is not a valid branch name")
        if self.repo.branches.local.get(branch) is not None:
            raise GitError(f"branch {branch!r} already exists; choose another --branch")

    def commit_on_new_branch(
        self,
        branch: str,
        files: dict[str, bytes],
        message: str,
        author: Identity | None = None,
    ) -> str:
        """Create `branch` at HEAD, check it out, and commit `files` (paths from the top).

        The commit's tree is HEAD's tree plus these files only: whatever else is staged or
        changed in the working tree stays as it was, uncommitted.
        """
        self.check_new_branch(branch)
        head = self.repo.head.peel(pygit2.Commit)
        builder = _TreeEditor(self.repo, head.tree)
        for path, data in files.items():
            builder.put(path, self.repo.create_blob(data))
        tree_id = builder.write()
        signature = self.signature(author)
        self.repo.branches.local.create(branch, head)
        commit_id = self.repo.create_commit(
            f"refs/heads/{branch}", signature, signature, message, tree_id, [head.id]
        )
        self.repo.set_head(f"refs/heads/{branch}")
        index = self.repo.index
        index.read()
        for path, data in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != data:
                atomic_write_bytes(target, data)
            index.add(path)
        index.write()
        return str(commit_id)


class _TreeEditor:
    """Adds blobs at nested paths to a tree, writing the changed subtrees."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self.repo = repo
        self.tree = tree
        self.blobs: dict[str, pygit2.Oid] = {}
        self.children: dict[str, _TreeEditor] = {}

    def put(self, path: str, blob: pygit2.Oid) -> None:
        head, sep, rest = path.partition("/")
        if not sep:
            self.blobs[head] = blob
            return
        if head not in self.children:
            sub = None
            if self.tree is not None and head in self.tree:
                obj = self.tree[head]
                sub = obj if isinstance(obj, pygit2.Tree) else None
            self.children[head] = _TreeEditor(self.repo, sub)
        self.children[head].put(rest, blob)

    def write(self) -> pygit2.Oid:
        builder = (
            self.repo.TreeBuilder(self.tree) if self.tree is not None else self.repo.TreeBuilder()
        )
        for name, blob in self.blobs.items():
            builder.insert(name, blob, pygit2.enums.FileMode.BLOB)
        for name, child in self.children.items():
            builder.insert(name, child.write(), pygit2.enums.FileMode.TREE)
        return builder.write()


# --- reading history: `validate --base`, `audit` and the index's first-published dates ---------
#
# Callers get plain values (ids as hex strings, times as UTC datetimes), never pygit2 objects, so
# pygit2 stays inside this module.


@dataclass(frozen=True)
class Person:
    """An author or committer of a commit, with the time they signed it (UTC)."""

    name: str
    email: str
    time: datetime

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class CommitInfo:
    id: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0].strip()


@dataclass(frozen=True)
class FileChange:
    """One file that differs between a commit and its first parent, inside one folder."""

    path: str  # relative to the folder, with '/' separators
    status: Literal["added", "modified", "deleted"]
    old_blob: str | None
    new_blob: str | None


@dataclass(frozen=True)
class FolderStep:
    """A first-parent commit that changed the folder, with what it changed."""

    commit: CommitInfo
    changes: tuple[FileChange, ...]


_STATUS: dict[pygit2.enums.DeltaStatus, Literal["added", "modified", "deleted"]] = {
    pygit2.enums.DeltaStatus.ADDED: "added",
    pygit2.enums.DeltaStatus.DELETED: "deleted",
    pygit2.enums.DeltaStatus.MODIFIED: "modified",
    pygit2.enums.DeltaStatus.TYPECHANGE: "modified",
}


def resolve_commit(git: GitRepo, ref: str) -> CommitInfo:
    """The commit `ref` names (a branch, tag, remote branch, `HEAD~2`, an id)."""
    return _info(_commit(git, ref))


def require_full_history(git: GitRepo) -> None:
    """Refuse a shallow clone: its oldest commit would pass for the first of everything."""
    if git.repo.is_shallow:
        raise UsageError(
            f"{git.root}: the repository is a shallow clone, so its history is incomplete; fetch "
            "it all (git fetch --unshallow; in GitHub Actions, actions/checkout with "
            "fetch-depth: 0)"
        )


def folder_blobs(git: GitRepo, rev: str, folder: str) -> dict[str, str]:
    """Every file under `folder` at a revision: path relative to the folder -> blob id."""
    tree = _subtree(_commit(git, rev).tree, folder)
    found: dict[str, str] = {}
    if tree is not None:
        _collect(tree, "", found)
    return found


def read_blob(git: GitRepo, blob_id: str) -> bytes:
    blob = git.repo[blob_id]
    if not isinstance(blob, pygit2.Blob):
        raise GitError(f"{blob_id} is not a file in {git.root}")
    return blob.data


def first_parent_steps(git: GitRepo, ref: str, folder: str) -> Iterator[FolderStep]:
    """Oldest first, each commit on the first-parent line of `ref` that changed `folder`.

    Following first parents gives the history of the main line: a merged pull request is one
    step (its merge commit), not the branch's work-in-progress commits. Commits whose folder
    subtree has the same id as their parent's are skipped without a diff, and only the changed
    files are listed, so the cost follows the number of catalog changes, not the repository size.
    """
    walker = git.repo.walk(
        _commit(git, ref).id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
    )
    walker.simplify_first_parent()
    for commit in walker:
        new = _subtree(commit.tree, folder)
        old = _subtree(commit.parents[0].tree, folder) if commit.parents else None
        if (old.id if old else None) == (new.id if new else None):
            continue
        changes = tuple(_changes(old, new))
        if changes:
            yield FolderStep(_info(commit), changes)


def merged_change(git: GitRepo, merge_id: str, path: str) -> CommitInfo | None:
    """For a merge commit, the newest commit it brought in that changed `path` (from the top).

    That commit's author wrote the change; the merge commit only says who merged it. A commit
    counts as changing the path when the path differs from every one of its parents, so a merge
    of the main line into the branch does not pass for the author of main's changes. None when
    the merge itself made the change (a conflict resolved while merging).
    """
    merge = _commit(git, merge_id)
    if len(merge.parents) < 2:
        return None
    walker = git.repo.walk(merge.parents[1].id, pygit2.enums.SortMode.TOPOLOGICAL)
    for other in merge.parents[2:]:
        walker.push(other.id)
    walker.hide(merge.parents[0].id)
    for commit in walker:
        mine = _entry_id(commit.tree, path)
        if all(_entry_id(parent.tree, path) != mine for parent in commit.parents):
            return _info(commit)
    return None


def _commit(git: GitRepo, ref: str) -> pygit2.Commit:
    try:
        return git.repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        shallow = " (a shallow clone: fetch the full history)" if git.repo.is_shallow else ""
        raise UsageError(
            f"{ref!r} is not a commit, branch or tag in {git.root}{shallow}; fetch it first "
            "(git fetch origin; in GitHub Actions, actions/checkout with fetch-depth: 0)"
        ) from exc


def _info(commit: pygit2.Commit) -> CommitInfo:
    return CommitInfo(
        id=str(commit.id),
        parents=tuple(str(p) for p in commit.parent_ids),
        author=_person(commit.author),
        committer=_person(commit.committer),
        message=commit.message,
    )


def _person(signature: pygit2.Signature) -> Person:
    return Person(signature.name, signature.email, datetime.fromtimestamp(signature.time, UTC))


def _subtree(tree: pygit2.Tree, folder: str) -> pygit2.Tree | None:
    if not folder:
        return tree
    try:
        found = tree[folder]
    except KeyError:
        return None
    return found if isinstance(found, pygit2.Tree) else None


def _collect(tree: pygit2.Tree, prefix: str, found: dict[str, str]) -> None:
    for entry in tree:
        if isinstance(entry, pygit2.Tree):
            _collect(entry, f"{prefix}{entry.name}/", found)
        elif isinstance(entry, pygit2.Blob):
            found[f"{prefix}{entry.name}"] = str(entry.id)


def _changes(old: pygit2.Tree | None, new: pygit2.Tree | None) -> Iterator[FileChange]:
    if old is not None:
        diff = old.diff_to_tree(new) if new is not None else old.diff_to_tree()
    elif new is not None:
        diff = new.diff_to_tree(swap=True)  # from the empty tree
    else:
        return
    for delta in diff.deltas:
        status = _STATUS.get(delta.status)
        if status is None:  # renames and copies are not detected: nothing else can appear
            continue
        yield FileChange(
            path=delta.new_file.path if status != "deleted" else delta.old_file.path,
            status=status,
            old_blob=None if status == "added" else str(delta.old_file.id),
            new_blob=None if status == "deleted" else str(delta.new_file.id),
        )


def _entry_id(tree: pygit2.Tree, path: str) -> str | None:
    try:
        return str(tree[path].id)
    except KeyError:
        return None


# --- blob ids of the work tree, for reusing earlier checks --------------------------------------


def worktree_blobs(folder: Path) -> dict[str, str]:
    """Blob ids of the files under `folder` whose work-tree copy is what HEAD holds.

    Paths are relative to `folder`, with '/' separators. The ids come from HEAD's tree without
    reading the files; git's status (which compares sizes and times with the index, and hashes a
    file only when they disagree) leaves out every file staged or changed since HEAD; files marked
    assume-unchanged or skip-worktree, which git's status never looks at, are left out too.
    Untracked and changed files are not listed: their ids come from their bytes (`blob_id`).
    Outside a git work tree, or before the first commit, nothing is listed.
    """
    try:
        git = GitRepo(folder)
        prefix = git.relative(folder)
        if git.repo.head_is_unborn:
            return {}
        prefix = "" if prefix == "." else prefix
        found = folder_blobs(git, "HEAD", prefix)
        changed = git.repo.status(untracked_files="no")
        # git's status never looks at these: their ids say nothing about their bytes.
        flagged = flagged_paths(Path(git.repo.path) / "index")
    except (UsageError, pygit2.GitError):
        return {}
    if flagged is None:
        return {}  # an index it cannot read in full: nothing is taken on git's word
    inside = f"{prefix}/" if prefix else ""
    for path in [*changed, *flagged]:
        if path.startswith(inside):
            found.pop(path[len(inside) :], None)
    return found


def changed_files(folder: Path) -> dict[str, Literal["added", "modified", "deleted"]]:
    """Files under `folder` whose work-tree copy is not what HEAD holds, staged or not.

    Paths are relative to `folder`, with '/' separators; untracked files count as added, ignored
    files do not count. A file staged and then changed back to HEAD's bytes is not listed. Outside
    a git work tree, or before the first commit, nothing is listed.
    """
    try:
        git = GitRepo(folder)
        prefix = git.relative(folder)
        if git.repo.head_is_unborn:
            return {}
        prefix = "" if prefix == "." else prefix
        head = folder_blobs(git, "HEAD", prefix)
        flagged = git.repo.status(untracked_files="all")
    except (UsageError, pygit2.GitError):
        return {}
    inside = f"{prefix}/" if prefix else ""
    found: dict[str, Literal["added", "modified", "deleted"]] = {}
    for path in flagged:
        if not path.startswith(inside):
            continue
        relative = path[len(inside) :]
        file = git.root / path
        if not file.is_file():
            if relative in head:
                found[relative] = "deleted"
        elif relative not in head:
            found[relative] = "added"
        elif str(pygit2.hash(file.read_bytes())) != head[relative]:
            found[relative] = "modified"
    return found
