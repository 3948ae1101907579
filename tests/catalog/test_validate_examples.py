"""Every example manifest validates to exactly the problems its header expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_catalog.catalog.validate import validate_catalog
from support.examples import Example, examples
from support.paths import EXAMPLES


def _problems(catalog: Path) -> list[str]:
    _, report = validate_catalog(catalog)
    return [str(p).replace(f"{catalog}/", "") for p in report.problems]


@pytest.mark.parametrize("example", examples(EXAMPLES / "valid"), ids=lambda e: e.name)
def test_valid_example(example: Example, catalog_dir: Path) -> None:
    example.install(catalog_dir)
    assert _problems(catalog_dir) == []


@pytest.mark.parametrize("example", examples(EXAMPLES / "invalid"), ids=lambda e: e.name)
def test_invalid_example(example: Example, catalog_dir: Path) -> None:
    assert example.expected, f"{example.name}: an invalid example needs '# expect:' lines"
    example.install(catalog_dir)
    assert _problems(catalog_dir) == list(example.expected)
