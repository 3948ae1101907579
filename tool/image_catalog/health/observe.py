"""What the registries say now about each entry: one observation per entry and per variant.

A health check is the online validation seen from the other side: the same checks
(`online.check_entries_online`: each distinct manifest fetched once, no blob downloaded), but
instead of
problems to fix in a pull request, a state per entry and per variant:

- `available`: every pinned manifest is there and matches what the entry records;
- `missing`: the registry answers, but a pinned manifest is gone;
- `changed`: the digest resolves, but no longer matches what the entry records (kind, media type,
  size, platforms, layers, annotations);
- `unreachable` / `unauthorized`: the registry could not be reached, or refused the credentials,
  so the check is incomplete.

A recorded tag hint that names other content now is noted (`moved_tags`), never a failure: the
pinned digest is what counts. Credentials go only where the client's Registry files send them:
by host, the entry's own registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from image_catalog.catalog.loader import Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.manifest.fieldpath import format_path
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.registry.arguments import DEFAULT_WORKERS
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.errors import DigestMismatch, RegistryError, Unauthorized
from image_catalog.registry.online import EntryOutcome, Progress, TagMove, check_entries_online

# The published format (site.contract.Observed) is a layer above and cannot be imported here;
# mypy holds the two together where health.check turns an observation into a status.
Observed = Literal["available", "missing", "changed", "unreachable", "unauthorized"]
# The most telling first: what the registry contradicts, then what could not be seen.
_PRECEDENCE: tuple[Observed, ...] = (
    "missing",
    "changed",
    "unauthorized",
    "unreachable",
    "available",
)


@dataclass(frozen=True)
class TagNote:
    """A tag hint that moved: `field` names the pinned manifest, `digest` what the tag names now."""

    field: str
    tag: str
    digest: str | None


@dataclass(frozen=True)
class VariantObservation:
    architecture: str
    state: Observed
    detail: str | None = None
    moved_tags: tuple[TagNote, ...] = ()


@dataclass(frozen=True)
class EntryObservation:
    name: str
    version: str
    state: Observed
    deprecated: bool
    detail: str | None = None
    variants: tuple[VariantObservation, ...] = ()
    moved_tags: tuple[TagNote, ...] = ()  # the entry's own: its image index

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class Observation:
    entries: list[EntryObservation] = field(default_factory=list)
    registries: list[str] = field(default_factory=list)  # names of the registries that answered
    manifests: int = 0  # distinct manifests fetched
    configs: int = 0
    calls: int = 0  # skopeo processes started, retries included


def observe(
    entries: Sequence[Loaded[CatalogImage]],
    client: RegistryClient,
    vocabulary: Vocabulary | None,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> Observation:
    """Check `entries` against their registries now and say what state each one is in."""
    checked = check_entries_online(
        entries, client, vocabulary, workers=workers, progress=progress, tags=True
    )
    return Observation(
        entries=[
            _entry(loaded.model, outcome)
            for loaded, outcome in zip(entries, checked.outcomes, strict=True)
        ],
        registries=checked.registries,
        manifests=checked.manifests,
        configs=checked.configs,
        calls=client.calls,
    )


def worst(states: Sequence[Observed]) -> Observed:
    return min(states, key=_PRECEDENCE.index, default="available")


def _state(problem: Problem) -> Observed:
    return "missing" if problem.code == "registry_not_found" else "changed"


def _incomplete(error: RegistryError | None) -> Observed:
    if isinstance(error, Unauthorized):
        return "unauthorized"
    if isinstance(error, DigestMismatch):
        return "changed"  # the registry serves other bytes under the recorded digest
    return "unreachable"


def _note(moved: TagMove) -> TagNote:
    return TagNote(format_path(moved.path), moved.tag, moved.digest)


def _detail(problems: Sequence[Problem]) -> str | None:
    if not problems:
        return None
    first = problems[0]
    return f"{first.field}: {first.message}" if first.path else first.message


def _entry(image: CatalogImage, outcome: EntryOutcome) -> EntryObservation:
    by_variant: dict[int, list[Problem]] = {}
    own: list[Problem] = []  # the index, the distro, the targets: the entry as a whole
    for problem in outcome.problems:
        if problem.path[:2] == ("spec", "variants") and isinstance(problem.path[2], int):
            by_variant.setdefault(problem.path[2], []).append(problem)
        else:
            own.append(problem)
    unchecked = _incomplete(outcome.error) if outcome.unchecked is not None else None
    variants = []
    for i, variant in enumerate(image.spec.variants):
        problems = by_variant.get(i, [])
        notes = tuple(_note(m) for m in outcome.moved_tags if m.path[:3] == ("spec", "variants", i))
        if problems:
            state = worst([_state(p) for p in problems])
            detail = _detail([p for p in problems if _state(p) == state])
        elif unchecked is not None:
            state, detail = unchecked, outcome.unchecked
        else:
            state, detail = "available", None
        variants.append(VariantObservation(variant.architecture, state, detail, notes))
    states = [v.state for v in variants] + [_state(p) for p in own]
    if unchecked is not None:
        states.append(unchecked)
    state = worst(states)
    if state == "available":
        detail = None
    elif own and state in {_state(p) for p in own}:
        detail = _detail([p for p in own if _state(p) == state])
    elif unchecked == state:
        detail = outcome.unchecked
    else:
        detail = next(v.detail for v in variants if v.state == state)
    return EntryObservation(
        name=image.metadata.name,
        version=image.metadata.version,
        state=state,
        deprecated=image.spec.lifecycle.deprecated is not None,
        detail=detail,
        variants=tuple(variants),
        moved_tags=tuple(
            _note(m) for m in outcome.moved_tags if m.path[:2] != ("spec", "variants")
        ),
    )
