"""Shared fixtures: a copy of the shipped catalog in a temp folder, loopback registries, the
reader's environment and the shipped site, and real git repositories.

Only fixtures live here; the helpers and constants they use are in `support/`, which test files
import from (never from this file)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.build.render import build_from_scratch
from support.catalogs import empty_catalog, registry_manifest
from support.git import GitWork
from support.oci import push_image
from support.paths import READER_VARIABLES, SHIPPED_CATALOG
from support.pushed import container, write_entry
from support.registry import REGISTRY_PASSWORD, REGISTRY_TOOLS, LocalRegistry, require_tools

# --- markers for what a test needs ----------------------------------------------------------------

# A test that takes one of these fixtures, directly or through another fixture, needs that marker's
# tool; tests that start a registry, make a repository or a key themselves carry the marker.
MARKERS_BY_FIXTURE = {
    "registry": "registry",
    "auth_registry": "registry",
    "own_registry": "registry",
    "git_catalog": "git",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = getattr(item, "fixturenames", ())
        for marker in sorted(
            {MARKERS_BY_FIXTURE[name] for name in used if name in MARKERS_BY_FIXTURE}
        ):
            item.add_marker(marker)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog."""
    target = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, target)
    return target


# --- real registries on loopback -----------------------------------------------------------------


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


@pytest.fixture
def local_catalog(tmp_path: Path, registry: LocalRegistry) -> Path:
    """An empty catalog whose one registry, `local`, is the session's anonymous registry."""
    return empty_catalog(tmp_path / "catalog", {"local": registry_manifest("local", registry.host)})


# --- the reader: its environment and the shipped site ---------------------------------------------


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
    build_from_scratch(SHIPPED_CATALOG, out)
    return out


# --- real git repositories -----------------------------------------------------------------------


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


# --- health: entries checked against the session's registry ---------------------------------------


@pytest.fixture
def fleet(registry: LocalRegistry, local_catalog: Path) -> tuple[Path, str]:
    """app 1.0 and 2.0 (2.0 newer), tool 1.0; returns the catalog and app 2.0's digest."""
    for version, day in (("1.0", "15"), ("2.0", "16")):
        image = push_image(registry, "health/app", version, "arm64")
        entry = write_entry(local_catalog, "app", [container(image)], version=version)
        entry.write_text(entry.read_text().replace("2026-01-15T", f"2026-01-{day}T"))
    write_entry(local_catalog, "tool", [container(push_image(registry, "health/tool", "v"))])
    newest = (local_catalog / "images/app/2.0.yaml").read_text()
    digest = newest.split("@", 1)[1].split()[0]
    return local_catalog, digest
