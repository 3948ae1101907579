"""Shared fixtures: a copy of the shipped catalog in a temp folder, and example manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CATALOG = REPO / "catalog"
EXAMPLES = Path(__file__).resolve().parent / "examples"


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog."""
    target = tmp_path / "catalog"
    shutil.copytree(SHIPPED_CATALOG, target)
    return target
