"""The model's pattern for pinned references and the reference parser agree.

The model checks a manifest's `ref` with PINNED_PATTERN only; the catalog checks and the site then
read its host and digest by splitting the text. Both rest on every text the pattern accepts being
a reference `Reference.parse` reads, with that host and digest.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from image_catalog.manifest.model import ManifestRef
from image_catalog.manifest.reference import PINNED_PATTERN, Reference


@settings(max_examples=50, deadline=None)
@given(st.from_regex(re.compile(PINNED_PATTERN), fullmatch=True))
def test_every_pinned_text_is_a_reference_with_the_host_before_the_first_slash(text: str) -> None:
    reference = Reference.parse(text)
    assert (reference.host, reference.digest) == (text.partition("/")[0], text.rsplit("@")[1])
    assert str(reference) == text


def test_the_model_reads_host_and_digest_as_the_parser_does() -> None:
    text = "registry.example.com:5000/team/app@sha256:" + "a" * 64
    manifest = ManifestRef.model_validate(
        {"ref": text, "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1}
    )
    reference = Reference.parse(text)
    assert (manifest.host, manifest.digest) == (reference.host, reference.digest)


def test_a_reference_without_an_explicit_host_is_refused_by_the_pattern() -> None:
    assert re.fullmatch(PINNED_PATTERN, "library/busybox@sha256:" + "1" * 64) is None
    assert re.fullmatch(PINNED_PATTERN, "docker://quay.io/a@sha256:" + "1" * 64) is None
