"""When two entries come from the same source: a shared repository, and one ImageBuild namespace
when both were built by one."""

from __future__ import annotations

from typing import Any

import pytest
from image_catalog.manifest.load import parse_mapping
from image_catalog.manifest.model import CatalogImage
from image_catalog.publish.candidate import same_source
from support.catalogs import fake_digest, image_document


def _entry(repository: str, namespace: str | None = None) -> CatalogImage:
    data: dict[str, Any] = parse_mapping(
        image_document("line", "1.0", fake_digest(repository)), "line/1.0.yaml"
    )
    container = data["spec"]["variants"][0]["container"]
    container["ref"] = f"quay.io/{repository}@{fake_digest(repository)}"
    if namespace is not None:
        data["spec"]["source"] = {
            "imageBuild": {
                "name": "nightly",
                "namespace": namespace,
                "completionTime": "2026-01-15T09:00:00Z",
            }
        }
    return CatalogImage.model_validate(data)


@pytest.mark.parametrize(
    ("new", "published", "same"),
    [
        (("boards/a", None), ("boards/a", None), True),
        (("boards/a", None), ("boards/b", None), False),
        (("boards/a", "builds"), ("boards/a", "builds"), True),
        (("boards/a", "builds"), ("boards/a", "sandbox"), False),
        (("boards/a", None), ("boards/a", "builds"), True),  # by hand, what a build pushed
    ],
)
def test_same_source(
    new: tuple[str, str | None], published: tuple[str, str | None], same: bool
) -> None:
    assert same_source(_entry(*new), _entry(*published)) is same
