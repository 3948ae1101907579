"""The whole of `handoff unpack` as one call: a pull request's catalog files, taken in as untrusted
data.

`handoff(HandoffSettings(...))` copies the artifact's `catalog/` files over the catalog, or refuses
the whole artifact (`catalog.handoff` holds the rules and the bounds), and returns what it copied.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from image_catalog.catalog.handoff import unpack


@dataclass(frozen=True, kw_only=True)
class HandoffSettings:
    """Which artifact (a .zip file or a folder) goes over which catalog."""

    artifact: Path
    catalog: Path

    @classmethod
    def register_argparse_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "artifact", type=Path, metavar="ARTIFACT", help="the artifact: a .zip file or a folder"
        )

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> HandoffSettings:
        return cls(artifact=args.artifact, catalog=args.catalog)


@dataclass(frozen=True)
class HandoffResult:
    """The files copied, as paths under the catalog folder, sorted."""

    catalog: Path
    copied: list[str]

    @property
    def paths(self) -> list[str]:
        """Each copied file as CATALOG/RELATIVE."""
        return [f"{self.catalog}/{relative}" for relative in self.copied]


def handoff(settings: HandoffSettings) -> HandoffResult:
    """Copy the artifact's catalog files over the catalog; refuse all of it at the first doubt."""
    return HandoffResult(settings.catalog, unpack(settings.artifact, settings.catalog))
