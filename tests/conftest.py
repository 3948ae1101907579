"""Shared fixtures: a copy of the shipped catalog in a temp folder, and example manifests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
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
