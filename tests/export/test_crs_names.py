"""CatalogImage resource names: always valid, short enough and unique, whatever the entry says."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from image_catalog.export import names as export_names

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The catalog's own patterns for an image name, a version and an architecture (manifest/model.py).
NAMES = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
VERSIONS = st.from_regex(r"\A[0-9A-Za-z][0-9A-Za-z._-]{0,63}\Z")
ARCHITECTURES = st.none() | st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,62}\Z")
PARTS = st.sampled_from(["index", "container", "disk"])
IDENTITIES = st.tuples(NAMES, VERSIONS, PARTS, ARCHITECTURES)


@settings(max_examples=100, deadline=None)
@given(IDENTITIES)
def test_every_name_is_a_short_dns_subdomain(
    identity: tuple[str, str, export_names.Part, str | None],
) -> None:
    name = export_names.resource_name(*identity)
    assert SUBDOMAIN.match(name), name
    assert len(name) <= 63
    assert export_names.resource_name(*identity) == name


@settings(max_examples=40, deadline=None)
@given(st.lists(IDENTITIES, min_size=2, max_size=12, unique=True))
def test_names_stay_unique(
    identities: list[tuple[str, str, export_names.Part, str | None]],
) -> None:
    resources = [
        export_names.Resource(
            export_names.resource_name(name, version, part, arch),
            f"{name}@{version}",
            part,
            arch,
            {"metadata": {"name": ""}},
        )
        for name, version, part, arch in identities
    ]
    export_names.make_unique(resources)
    names = [r.name for r in resources]
    assert len(set(names)) == len(names)
    assert all(SUBDOMAIN.match(n) and len(n) <= 63 for n in names)


def test_names_that_fold_alike() -> None:
    assert export_names.resource_name("img", "1.0", "container", "x86_64") == "img.1.0-x86-64"
    folded = export_names.resource_name("img", "1..0_RC", "disk", "aarch64")
    assert folded.startswith("img.1.0-rc-aarch64-disk-")
    assert folded != export_names.resource_name("img", "1.0-rc", "disk", "aarch64")
