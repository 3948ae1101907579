"""Checks of what the catalog declares for its entries: the vocabulary and the registries.

Their schema is checked while loading (`loader.py`); these are the rules across the items of one
file (a name given twice) or across files (a host declared twice, a file named unlike its
registry). They run on every validation: the files are few and always read.
"""

from __future__ import annotations

import os

from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.manifest.declarations import Registry
from image_catalog.manifest.fieldpath import FieldPath


def check_vocabulary(catalog: Catalog) -> list[Problem]:
    """Names and aliases given twice, and targets built for unknown architectures."""
    loaded = catalog.vocabulary_file
    if loaded is None or catalog.vocabulary is None:
        return []
    doc = loaded.model
    shown, source = loaded.file, loaded.source
    problems: list[Problem] = []
    for section in ("architectures", "distros"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(doc.spec, section)):
            for j, name in enumerate([item.name, *item.aliases]):
                if name in seen:
                    path: FieldPath = ("spec", section, i)
                    path += ("name",) if j == 0 else ("aliases", j - 1)
                    problems.append(
                        Problem(
                            shown, f"{name!r} is named twice", path, code="duplicate", source=source
                        )
                    )
                seen.add(name)
    seen_targets: set[str] = set()
    for i, target in enumerate(doc.spec.targets):
        if target.name in seen_targets:
            problems.append(
                Problem(
                    shown,
                    f"target {target.name!r} is named twice",
                    ("spec", "targets", i, "name"),
                    code="duplicate",
                    source=source,
                )
            )
        seen_targets.add(target.name)
        for j, arch in enumerate(target.architectures):
            if catalog.vocabulary.architecture(arch) is None:
                problems.append(
                    Problem(
                        shown,
                        f"'{arch}' is not a known architecture "
                        f"({catalog.vocabulary.describe_architectures()})",
                        ("spec", "targets", i, "architectures", j),
                        code="unknown_architecture",
                        source=source,
                    )
                )
    return problems


def check_registries(registries: list[Loaded[Registry]]) -> list[Problem]:
    """Files named unlike their registry, and hosts declared twice."""
    problems: list[Problem] = []
    hosts: dict[str, str] = {}
    for loaded in registries:
        registry = loaded.model
        stem = os.path.basename(loaded.file).removesuffix(".yaml")
        if registry.metadata.name != stem:
            problems.append(
                _problem(
                    loaded,
                    f"{registry.metadata.name!r} does not match the file name {stem!r}",
                    ("metadata", "name"),
                    "path",
                )
            )
        # Host names compare without case, as DNS does: QUAY.IO is quay.io.
        other = hosts.get(registry.spec.host.lower())
        if other is not None:
            problems.append(
                _problem(
                    loaded,
                    f"host {registry.spec.host!r} is already declared in {other}",
                    ("spec", "host"),
                    "duplicate",
                )
            )
        hosts.setdefault(registry.spec.host.lower(), loaded.file)
    return problems


def _problem(
    loaded: Loaded[Registry],
    message: str,
    path: FieldPath,
    code: str,
) -> Problem:
    return Problem(loaded.file, message, path, code=code, source=loaded.source)
