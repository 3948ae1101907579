"""Catalog folders for tests: the one builder of a catalog (the shipped vocabulary, the registry
files given, no images yet), the Registry file for a loopback registry, and small entries.

Every test that needs a catalog of its own starts from `empty_catalog`, so a change to what a
catalog holds is made here once.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from support.entries import entry_text
from support.paths import SHIPPED_CATALOG


def registry_manifest(
    name: str, host: str, auth: dict[str, str] | None = None, *, tls_verify: bool = False
) -> str:
    """A Registry file for a loopback registry: plain HTTP, so TLS verification is off, unless
    `tls_verify` (an HTTPS registry: its blob URLs are then https)."""
    lines = [
        "apiVersion: catalog.automotive.sdv.cloud.redhat.com/v1alpha1",
        "kind: Registry",
        "metadata:",
        f"  name: {name}",
        "spec:",
        "  kind: generic",
        f"  host: '{host}'",
        f"  tlsVerify: {str(tls_verify).lower()}",
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
