"""Reading a registry's manifest: what is not one is refused as a ValueError, never a crash."""

from __future__ import annotations

import pytest
from image_catalog.manifest.reference import Reference
from image_catalog.registry.oci import parse_manifest

REFERENCE = Reference.parse("registry.example.com/builds/box:1")


def test_a_manifest_nested_past_the_decoder_is_refused() -> None:
    raw = b'{"schemaVersion":2,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ValueError, match="the manifest is nested deeper than a manifest can be"):
        parse_manifest(REFERENCE, raw, "sha256:" + "0" * 64)
