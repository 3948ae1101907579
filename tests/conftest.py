"""Shared fixtures: a copy of the shipped catalog in a temp folder, example manifests, loopback
registries, the reader's environment and the shipped site, and real git repositories."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from image_catalog.build.render import build_index
from support.entries import entry_text
from support.registry import LocalRegistry, require_tools

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CATALOG = REPO / "catalog"
EXAMPLES = Path(__file__).resolve().parent / "examples"


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog."""
    target = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, target)
    return target


# --- real registries on loopback -----------------------------------------------------------------

REGISTRY_TOOLS = ("skopeo", "docker-registry", "htpasswd")
# Token-like, so a leak is easy to grep for in outputs.
REGISTRY_PASSWORD = "sha256~Zm9vYmFyLXRva2VuLXRoYXQtbXVzdC1uZXZlci1sZWFr"


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """An anonymous registry shared by the session; tests use their own repository names."""
    require_tools(*REGISTRY_TOOLS)
    with LocalRegistry() as running:
        yield running


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[LocalRegistry]:
    """A registry behind htpasswd basic auth, user `serviceaccount`, a token-like password."""
    require_tools(*REGISTRY_TOOLS)
    with LocalRegistry(username="serviceaccount", password=REGISTRY_PASSWORD) as running:
        yield running


@pytest.fixture
def own_registry() -> Iterator[LocalRegistry]:
    """A registry of the test's own, for tests that stop, restart or empty it."""
    require_tools(*REGISTRY_TOOLS)
    with LocalRegistry() as running:
        yield running


def registry_manifest(name: str, host: str, auth: dict[str, str] | None = None) -> str:
    """A Registry file for a loopback registry (plain HTTP, so TLS verification is off)."""
    lines = [
        "apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1",
        "kind: Registry",
        "metadata:",
        f"  name: {name}",
        "spec:",
        "  kind: generic",
        f"  host: '{host}'",
        "  tlsVerify: false",
    ]
    if auth:
        lines.append("  auth:")
        lines += [f"    {key}: '{value}'" for key, value in auth.items()]
    return "\n".join(lines) + "\n"


def empty_catalog(root: Path, registries: dict[str, str]) -> Path:
    """A catalog with the shipped vocabulary, the given registry files and no images."""
    (root / "images").mkdir(parents=True)
    (root / "registries").mkdir()
    shutil.copy(SHIPPED_CATALOG / "vocabulary.yaml", root / "vocabulary.yaml")
    for name, text in registries.items():
        (root / "registries" / f"{name}.yaml").write_text(text)
    return root


@pytest.fixture
def local_catalog(tmp_path: Path, registry: LocalRegistry) -> Path:
    """An empty catalog whose one registry, `local`, is the session's anonymous registry."""
    return empty_catalog(tmp_path / "catalog", {"local": registry_manifest("local", registry.host)})


# --- the reader: its environment and the shipped site ---------------------------------------------

# Variables that would send the reader to the user's index, trust file or key, or through a proxy.
READER_VARIABLES = (
    "IMAGE_CATALOG_INDEX",
    "IMAGE_CATALOG_TRUST",
    "IMAGE_CATALOG_SIGNING_KEY_FILE",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "no_proxy",
    "NO_PROXY",
)


@pytest.fixture
def isolated_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's cache, index, trust file or key, or goes through a proxy: the
    cache folder is the test's own (tmp_path / "cache"). A module uses it for each of its tests
    with `pytestmark = pytest.mark.usefixtures("isolated_reader")`."""
    monkeypatch.setenv("IMAGE_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
    for name in READER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shipped_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped catalog's site, built once for the session: read it or serve it, never change
    it (copy it first, e.g. with support.site.serve_copy)."""
    out = tmp_path_factory.mktemp("shipped") / "site"
    build_index(SHIPPED_CATALOG, out)
    return out


# --- real git repositories -----------------------------------------------------------------------

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


def fake_digest(seed: str) -> str:
    """A well-formed digest that stands for one image: the same seed, the same digest."""
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def image_document(
    name: str,
    version: str,
    digest: str,
    *,
    architecture: str = "x86_64",
    deprecated: str | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """A small valid CatalogImage on quay.io (a registry the shipped catalog declares)."""
    spec: dict[str, Any] = {
        "displayName": f"{name} {version}",
        "distro": "autosd9-sig",
        "targets": [{"name": "qemu"}],
        "variants": [
            {
                "architecture": architecture,
                "container": {
                    "ref": f"quay.io/automotive-images/{name}@{digest}",
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": 1612,
                },
            }
        ],
        "source": {"prebuilt": {"origin": "tests"}},
        "publishedAt": "2026-01-15T09:30:00Z",
    }
    if deprecated:
        spec["lifecycle"] = {"deprecated": {"reason": deprecated, "date": "2026-02-01"}}
    return entry_text(name, version, spec, labels)


@pytest.fixture
def git_catalog(tmp_path: Path) -> GitWork:
    """A repository whose `catalog/` folder is a copy of the shipped catalog, committed on main."""
    work = GitWork(tmp_path / "repo")
    shutil.copytree(SHIPPED_CATALOG, work.root / "catalog")
    (work.root / "README.md").write_text("a catalog\n")
    work.commit("Initial catalog", author="Admin")
    return work


@pytest.fixture(autouse=True)
def crash_reports_stay_in_the_test(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A command that crashes (exit 3) writes its crash report under the test's own folder, not
    the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
