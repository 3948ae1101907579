"""Catalog entries for tests: the document around a spec, as the file holds it, and its place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from image_catalog.manifest.load import dump_document
from image_catalog.manifest.model import API_VERSION, schema_header


def entry_text(
    name: str, version: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> str:
    """The text of `images/NAME/VERSION.yaml`: the schema header, then the CatalogImage."""
    metadata: dict[str, Any] = {"name": name, "version": version}
    if labels:
        metadata["labels"] = labels
    document = {"apiVersion": API_VERSION, "kind": "CatalogImage", "metadata": metadata}
    document["spec"] = spec
    return dump_document(document, header=schema_header("CatalogImage", 3))


def write_entry(catalog: Path, name: str, version: str, spec: dict[str, Any]) -> Path:
    """Write the entry at its place in `catalog`; returns the file."""
    return write_document(catalog, name, version, entry_text(name, version, spec))


def write_document(catalog: Path, name: str, version: str, text: str) -> Path:
    """Write `text` as the entry NAME@VERSION, `images/NAME/VERSION.yaml` in `catalog` (the one
    place that knows where an entry's file goes); returns the file."""
    path = catalog / "images" / name / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
