"""Online validation: every entry checked against what its registry really holds.

For each entry: the registry answers; every pinned manifest exists, hashes to its digest
and has the recorded media type and size; a recorded image index lists exactly the variants'
platforms and digests; each variant's architecture matches its platform in the index (or its image
config when there is no index); a disk artifact's layers match the entry's files; the AIB
annotations, where present, agree with the entry's distro, targets and architecture. This module
does the fetching; the comparisons themselves are pure, in `checks.py`.

Each distinct manifest is fetched once per run and no blob is downloaded: a manifest already lists
its layers' digests and sizes, and an index its platforms. Only an image without an index needs its
config (one small blob) for its architecture. Entries are checked concurrently; the client limits
the processes per registry. A registry that cannot be reached makes its entries "unchecked", never
invalid: observed state is not desired state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.errors import CatalogError
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.model import CatalogImage, ManifestRef, Registry
from image_catalog.manifest.reference import Reference
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.registry.arguments import DEFAULT_WORKERS
from image_catalog.registry.checks import EntryComparison, Mismatch, manifest_mismatches
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.errors import (
    DeclaredFileUnusable,
    ManifestNotFound,
    RegistryError,
    SkopeoNotFound,
    TlsFailure,
    Unreachable,
    UnsupportedManifest,
)
from image_catalog.registry.oci import ManifestInfo, ManifestKind
from image_catalog.registry.skopeo import never_connected

Progress = Callable[[int, int], None]


@dataclass
class OnlineResult:
    """What the registries said: problems with entries, and entries that could not be checked."""

    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # "NAME@VERSION: reason"
    registries: list[str] = field(default_factory=list)  # names of the registries that answered
    # The hosts of the unchecked entries whose registry was never connected to (connection
    # refused, no such host): only these, and no other cause, make `unreached_only` true.
    unreached: set[str] = field(default_factory=set)
    unreached_only: bool = False
    # The registries whose declared CA, auth or token file cannot be used on this machine (one
    # problem each, on the declaration's field): their entries were not checked.
    unusable: set[str] = field(default_factory=set)
    entries: int = 0
    manifests: int = 0  # distinct manifests fetched
    configs: int = 0  # image configs fetched (images without an index)

    @property
    def complete(self) -> bool:
        return not self.unchecked


def check_online(
    catalog: Catalog,
    client: RegistryClient,
    *,
    only: set[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> OnlineResult:
    """Check the entries (all, or the NAME@VERSION ids in `only`) against their registries."""
    entries = [e for e in catalog.images if only is None or e.model.id in only]
    checked = check_entries_online(
        entries, client, catalog.vocabulary, workers=workers, progress=progress, keep_going=True
    )
    result = OnlineResult(
        entries=len(entries),
        registries=checked.registries,
        manifests=checked.manifests,
        configs=checked.configs,
    )
    causes = set()
    unusable: dict[str, list[str]] = {}  # registry name -> the entries it left unchecked
    for entry, outcome in zip(entries, checked.outcomes, strict=True):
        result.problems += outcome.problems
        if outcome.unusable is not None:
            unusable.setdefault(outcome.unusable.registry or "", []).append(entry.model.id)
        if outcome.unchecked is not None:
            result.unchecked.append(f"{entry.model.id}: {outcome.unchecked}")
            error = outcome.error
            causes.add(error is not None and never_connected(error))
            if error is not None and error.host and never_connected(error):
                result.unreached.add(error.host)
    result.unreached_only = causes == {True}
    declarations = {loaded.model.metadata.name: loaded for loaded in catalog.registries}
    errors = {o.unusable.registry: o.unusable for o in checked.outcomes if o.unusable is not None}
    for name, ids in sorted(unusable.items()):
        result.problems.append(_unusable_problem(errors[name], declarations.get(name), ids))
        result.unusable.add(name)
    return result


def _unusable_problem(
    error: DeclaredFileUnusable, declaration: Loaded[Registry] | None, ids: list[str]
) -> Problem:
    """One problem on the registry's declaration, for every entry its unusable file left
    unchecked."""
    prefix = f"{error.field}: "
    message = str(error).partition(prefix)[2] or str(error)
    entries = f"{len(ids)} entries" if len(ids) != 1 else "1 entry"
    return Problem(
        declaration.file if declaration else f"registries/{error.registry}.yaml",
        f"{message} ({entries} on it not checked: {', '.join(sorted(ids)[:3])}"
        f"{', ...' if len(ids) > 3 else ''})",
        tuple(error.field.split(".")),
        code="registry_file_unusable",
        source=declaration.source if declaration else None,
    )


@dataclass(frozen=True)
class TagMove:
    """A recorded tag hint that now names other content than the pinned digest."""

    path: FieldPath  # the pinned manifest (spec.index, spec.variants[i].disk)
    tag: str
    digest: str | None  # what the tag names now; None when the tag is gone


@dataclass
class EntryOutcome:
    """What the registries said about one entry."""

    problems: list[Problem] = field(default_factory=list)
    unchecked: str | None = None  # why the entry could not be checked (fully)
    error: RegistryError | None = None  # the error behind `unchecked`
    moved_tags: list[TagMove] = field(default_factory=list)
    # With `keep_going`: the declared file of the entry's registry that could not be used.
    unusable: DeclaredFileUnusable | None = None


@dataclass
class CheckedEntries:
    """Each entry's outcome, in the order given, and what the run fetched."""

    outcomes: list[EntryOutcome]
    registries: list[str]  # names of the registries that answered
    manifests: int
    configs: int


def check_entries_online(
    entries: Sequence[Loaded[CatalogImage]],
    client: RegistryClient,
    vocabulary: Vocabulary | None,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    tags: bool = False,
    keep_going: bool = False,
) -> CheckedEntries:
    """Check entries concurrently; with `tags`, also note recorded tags that have moved.

    A registry file (CA, auth, token) that cannot be used stops the run, or with `keep_going`
    leaves that registry's entries unchecked (`EntryOutcome.unusable`) and checks the others.

    A tag still naming the pinned digest costs no extra fetch: its manifest is the pinned one.
    """
    session = _Session(client, vocabulary, tags=tags, keep_going=keep_going)
    outcomes: dict[int, EntryOutcome] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="online")
    try:
        futures = {pool.submit(session.check, entry): i for i, entry in enumerate(entries)}
        for done, future in enumerate(as_completed(futures), start=1):
            outcomes[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(entries))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop the running skopeo processes now
        client.close()
        raise
    finally:
        # On an error or Ctrl-C, drop what has not started; what runs ends within its timeout.
        pool.shutdown(wait=True, cancel_futures=True)
    return CheckedEntries(
        outcomes=[outcomes[i] for i in range(len(entries))],
        registries=sorted(session.reached),
        manifests=session.manifests,
        configs=session.configs,
    )


class _Incomplete(Exception):
    """The entry cannot be checked now (registry unreachable, credentials refused)."""

    def __init__(self, error: RegistryError) -> None:
        super().__init__(str(error))
        self.error = error


class _OncePerKey:
    """Each key computed once, even when threads ask for it at the same time; errors included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, Future[ManifestInfo]] = {}

    def get(self, key: str, compute: Callable[[], ManifestInfo]) -> tuple[ManifestInfo, bool]:
        """The value and whether this call computed it."""
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result(), owner

    def offer(self, key: str, value: ManifestInfo) -> None:
        """Use `value` for `key` unless the key is known already."""
        with self._lock:
            if key not in self._futures:
                future: Future[ManifestInfo] = Future()
                future.set_result(value)
                self._futures[key] = future


class _Session:
    """One run's shared state: the fetched manifests, and the registries known to be down."""

    def __init__(
        self,
        client: RegistryClient,
        vocabulary: Vocabulary | None,
        *,
        tags: bool = False,
        keep_going: bool = False,
    ) -> None:
        self.client = client
        self.vocabulary = vocabulary
        self.tags = tags
        self.keep_going = keep_going
        self.reached: set[str] = set()
        self.manifests = 0
        self.configs = 0
        self._down: dict[str, RegistryError] = {}
        self._lock = threading.Lock()
        self._manifests = _OncePerKey()
        self._configs = _OncePerKey()

    # -- fetching --------------------------------------------------------------------------------

    def fetch(self, ref: str, *, config: bool) -> ManifestInfo:
        """The manifest (and for an image, its config when asked), fetched once per run."""
        reference = Reference.parse(ref)
        info, fetched = self._manifests.get(ref, lambda: self._call(reference, None))
        if fetched:
            with self._lock:
                self.manifests += 1
        if not config or info.kind is not ManifestKind.IMAGE:
            return info
        info, fetched = self._configs.get(ref, lambda: self._call(reference, info))
        if fetched:
            with self._lock:
                self.configs += 1
        return info

    def resolve_tag(self, recorded: ManifestRef) -> str | None:
        """The digest the recorded tag names now; None when the tag is gone or unusable.

        When the tag still names the pinned digest, its manifest is the pinned one: it is kept
        for the pinned reference, so that manifest is fetched once.
        """
        assert recorded.tag is not None
        pinned = Reference.parse(recorded.ref)
        tagged = Reference(pinned.host, pinned.repository, tag=recorded.tag)
        try:
            info, fetched = self._manifests.get(str(tagged), lambda: self._call(tagged, None))
        except (ManifestNotFound, UnsupportedManifest):
            return None  # a hint only: what it names now never fails the pinned manifest
        if fetched:
            with self._lock:
                self.manifests += 1
        if info.digest == pinned.digest:
            self._manifests.offer(recorded.ref, replace(info, reference=pinned))
        return info.digest

    def _call(self, reference: Reference, manifest: ManifestInfo | None) -> ManifestInfo:
        registry = self.client.registry_for(reference.host)
        name = registry.metadata.name
        with self._lock:
            down = self._down.get(name)
        if down is not None:
            # One outage is enough: don't wait out the retries again for every manifest.
            raise type(down)(
                f"registry {name} ({registry.spec.host}) could not be reached earlier in this "
                f"run ({down.detail}), so {reference} was not tried; check the network and that "
                "the registry is up, then retry",
                registry=name,
                host=registry.spec.host,
                reference=str(reference),
                detail=down.detail,
            )
        try:
            if manifest is None:
                info = self.client.inspect(reference, config=False)
            else:
                info = self.client.fetch_config(manifest)
        except (Unreachable, TlsFailure) as error:
            with self._lock:
                self._down.setdefault(name, error)
            raise
        except ManifestNotFound:
            with self._lock:
                self.reached.add(name)
            raise
        with self._lock:
            self.reached.add(name)
        return info

    # -- one entry -------------------------------------------------------------------------------

    def check(self, loaded: Loaded[CatalogImage]) -> EntryOutcome:
        outcome = EntryOutcome()
        checker = _EntryChecker(self, loaded, outcome)
        try:
            checker.run()
        except _Incomplete as exc:
            outcome.unchecked = str(exc)
            outcome.error = exc.error
        except DeclaredFileUnusable as exc:
            if not self.keep_going:
                raise
            outcome.unusable = exc
        return outcome


class _EntryChecker:
    """Fetches one entry's manifests and records, as its problems, how they compare with it."""

    def __init__(
        self, session: _Session, loaded: Loaded[CatalogImage], outcome: EntryOutcome
    ) -> None:
        self.session = session
        self.loaded = loaded
        self.spec = loaded.model.spec
        self.compare = EntryComparison(self.spec, session.vocabulary)
        self.outcome = outcome
        self.out = outcome.problems

    def add_all(self, mismatches: list[Mismatch]) -> None:
        for mismatch in mismatches:
            self.add(*mismatch)

    def add(self, message: str, path: FieldPath, code: str) -> None:
        # A deprecated version whose image is gone is what deprecation is for: say so, don't fail.
        gone = code == "registry_not_found" and self.spec.lifecycle.deprecated is not None
        self.out.append(
            Problem(
                self.loaded.file,
                message,
                path,
                code=code,
                severity="warning" if gone else "error",
                source=self.loaded.source,
            )
        )

    def run(self) -> None:
        spec = self.spec
        index = None
        if spec.index is not None:
            index = self.fetch(("spec", "index"), spec.index, ManifestKind.INDEX, config=False)
        for i, variant in enumerate(spec.variants):
            path: FieldPath = ("spec", "variants", i)
            if variant.container is not None:
                # With an index, the index gives the platform; without one, only the config can.
                image = self.fetch(
                    (*path, "container"), variant.container, ManifestKind.IMAGE, spec.index is None
                )
                if image is not None:
                    if spec.index is None:
                        self.add_all(self.compare.config_architecture(path, variant, image))
                    self.add_all(self.compare.annotations(image, variant, path))
            if variant.disk is not None:
                disk = self.fetch((*path, "disk"), variant.disk, ManifestKind.ARTIFACT, False)
                if disk is not None:
                    self.add_all(self.compare.disk((*path, "disk"), variant.disk, disk))
                    self.add_all(self.compare.annotations(disk, variant, path))
        if spec.index is not None and index is not None:
            self.add_all(self.compare.index(index))
            self.add_all(self.compare.annotations(index, None, ("spec", "index")))

    def fetch(
        self, path: FieldPath, recorded: ManifestRef, kind: ManifestKind, config: bool
    ) -> ManifestInfo | None:
        """The manifest, checked against what the entry records; None when it is unusable."""
        try:
            if self.session.tags and recorded.tag is not None:
                now = self.session.resolve_tag(recorded)
                if now != recorded.digest:
                    self.outcome.moved_tags.append(TagMove(path, recorded.tag, now))
            info = self.session.fetch(recorded.ref, config=config)
        except CatalogError:
            return None  # an undeclared host: the offline checks report it
        except ManifestNotFound as error:
            self.add(
                f"{recorded.ref} was not found in registry {error.registry} ({error.host}): it "
                "was deleted or never pushed; push it again, or deprecate this version",
                (*path, "ref"),
                "registry_not_found",
            )
            return None
        except UnsupportedManifest as error:
            self.add(str(error), (*path, "ref"), "registry_unsupported")
            return None
        except (SkopeoNotFound, DeclaredFileUnusable):
            raise  # the same for every entry, and no retry helps: the run stops here
        except RegistryError as error:
            raise _Incomplete(error) from error
        self.add_all(manifest_mismatches(path, recorded, kind, info))
        return info if info.kind is kind else None
