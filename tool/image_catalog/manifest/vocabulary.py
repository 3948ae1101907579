"""The architectures, distros and targets the catalog knows, read from catalog data.

AIB adds boards and distros between releases, so the lists live in `catalog/vocabulary.yaml`, which
a pull request extends; this module only indexes them for look-ups and aliases.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from image_catalog.manifest.model import VocabularyFile


@dataclass(frozen=True)
class Vocabulary:
    """Look-ups over a validated vocabulary file: canonical names by name or alias."""

    architectures: dict[str, str] = field(default_factory=dict)
    distros: dict[str, str] = field(default_factory=dict)
    target_architectures: dict[str, frozenset[str]] = field(default_factory=dict)
    architecture_names: tuple[str, ...] = ()
    architecture_aliases: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, doc: VocabularyFile) -> Vocabulary:
        arches: dict[str, str] = {}
        for arch in doc.spec.architectures:
            arches[arch.name] = arch.name
            arches.update(dict.fromkeys(arch.aliases, arch.name))
        distros: dict[str, str] = {}
        for distro in doc.spec.distros:
            distros[distro.name] = distro.name
            distros.update(dict.fromkeys(distro.aliases, distro.name))
        targets = {
            t.name: frozenset(arches.get(a, a) for a in t.architectures) for t in doc.spec.targets
        }
        return cls(
            architectures=arches,
            distros=distros,
            target_architectures=targets,
            architecture_names=tuple(a.name for a in doc.spec.architectures),
            architecture_aliases=tuple(x for a in doc.spec.architectures for x in a.aliases),
        )

    def architecture(self, name: str) -> str | None:
        return self.architectures.get(name)

    def distro(self, name: str) -> str | None:
        return self.distros.get(name)

    def supports(self, target: str, architecture: str) -> bool:
        """True when AIB builds `target` for `architecture` (an empty list means any)."""
        allowed = self.target_architectures.get(target)
        return allowed is not None and (not allowed or architecture in allowed)

    def describe_architectures(self) -> str:
        return (
            f"known: {', '.join(self.architecture_names)}; "
            f"aliases: {', '.join(self.architecture_aliases)}"
        )


def closest(name: str, known: Iterable[str]) -> str:
    """A hint naming the closest known spelling, or an empty string."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {match[0]!r}?" if match else ""
