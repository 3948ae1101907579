"""Real git repositories in temp folders, written with pygit2 as people and GitHub would."""

from __future__ import annotations

from pathlib import Path

import pygit2

GIT_EPOCH = 1_767_261_600  # 2026-01-01T10:00:00Z; each commit is one hour after the previous one


class GitWork:
    """A git repository in a temp folder, written with pygit2 as people and GitHub would.

    Identities are pinned (NAME <name@example.com>) and the clock advances one hour per commit,
    so every run makes the same history and the tests can assert exact times.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = pygit2.init_repository(str(root), initial_head="main")
        self.clock = GIT_EPOCH

    def person(self, name: str) -> pygit2.Signature:
        return pygit2.Signature(name, f"{name.lower()}@example.com", self.clock, 0)

    def commit(self, message: str, author: str = "Alice", committer: str | None = None) -> str:
        """Commit the whole working tree (additions, edits, deletions) on the current branch."""
        self.repo.index.clear()  # then add what is there: deleted files leave the index
        self.repo.index.add_all()
        self.repo.index.write()
        parents = [] if self.repo.head_is_unborn else [self.repo.head.peel(pygit2.Commit).id]
        return self._commit(message, self.repo.index.write_tree(), parents, author, committer)

    def merge(self, branch: str, message: str, author: str, committer: str = "GitHub") -> str:
        """A merge commit of `branch` into the current branch, as GitHub's merge button makes."""
        ours = self.repo.head.peel(pygit2.Commit).id
        theirs = self.repo.branches.local[branch].peel(pygit2.Commit).id
        index = self.repo.merge_commits(ours, theirs)
        assert not index.conflicts, f"merging {branch} conflicts"
        tree = index.write_tree(self.repo)
        commit = self._commit(message, tree, [ours, theirs], author, committer)
        self.repo.checkout("HEAD", strategy=pygit2.enums.CheckoutStrategy.FORCE)
        return commit

    def branch(self, name: str, at: str = "HEAD") -> None:
        self.repo.branches.local.create(name, self.repo.revparse_single(at).peel(pygit2.Commit))
        self.checkout(name)

    def checkout(self, name: str) -> None:
        self.repo.checkout(
            self.repo.branches.local[name], strategy=pygit2.enums.CheckoutStrategy.FORCE
        )

    def _commit(
        self, message: str, tree: pygit2.Oid, parents: list[pygit2.Oid], author: str, by: str | None
    ) -> str:
        self.clock += 3600
        who = self.person(author)
        commit = self.repo.create_commit(
            "HEAD", who, self.person(by or author), message, tree, parents
        )
        return str(commit)
