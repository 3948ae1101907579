"""A site whose version has, for the pull tests' board, a container image and no disk image."""

from __future__ import annotations

from pathlib import Path

from image_catalog.build.render import build_from_scratch

from support.catalogs import empty_catalog, registry_manifest
from support.oci import PushedImage
from support.pulling import BOARD
from support.pushed import container, write_entry


def container_site(root: Path, image: PushedImage, ref: str | None = None) -> Path:
    """A built site with `app@1.0`: `image` as the aarch64 container variant for `BOARD` (its
    recorded reference `ref` when given); returns the site folder."""
    catalog = empty_catalog(root / "catalog", {"local": registry_manifest("local", image.host)})
    variant = container(image, "aarch64")
    if ref is not None:
        variant["container"]["ref"] = ref
    write_entry(catalog, "app", [variant], targets=(BOARD,))
    site = root / "site"
    build_from_scratch(catalog, site)
    return site
