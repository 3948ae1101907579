"""The architectures, distros and targets the catalog knows, read from catalog data.

AIB adds boards and distros between releases, so the lists live in `catalog/vocabulary.yaml`, which
a pull request extends; this module only indexes them for look-ups and aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Named = tuple[str, Sequence[str]]  # a name with its aliases, or a target with its architectures


@dataclass(frozen=True)
class Vocabulary:
    """Look-ups over a validated vocabulary file: canonical names by name or alias."""

    architectures: dict[str, str] = field(default_factory=dict)
    distros: dict[str, str] = field(default_factory=dict)
    target_architectures: dict[str, frozenset[str]] = field(default_factory=dict)
    architecture_names: tuple[str, ...] = ()
    architecture_aliases: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, architectures: Iterable[Named], distros: Iterable[Named], targets: Iterable[Named]
    ) -> Vocabulary:
        """Index names with their aliases; a target's architectures may be given by alias."""
        arches: dict[str, str] = {}
        names: list[str] = []
        aliases: list[str] = []
        for name, also in architectures:
            arches[name] = name
            arches.update(dict.fromkeys(also, name))
            names.append(name)
            aliases += also
        canonical_distros: dict[str, str] = {}
        for name, also in distros:
            canonical_distros[name] = name
            canonical_distros.update(dict.fromkeys(also, name))
        return cls(
            architectures=arches,
            distros=canonical_distros,
            target_architectures={
                name: frozenset(arches.get(a, a) for a in archs) for name, archs in targets
            },
            architecture_names=tuple(names),
            architecture_aliases=tuple(aliases),
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
