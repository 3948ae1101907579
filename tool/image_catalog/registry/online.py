"""Online validation: every entry checked against what its registry really holds.

For each entry: the registry answers (FR-008); every pinned manifest exists, hashes to its digest
and has the recorded media type and size; a recorded image index lists exactly the variants'
platforms and digests; each variant's architecture matches its platform in the index (or its image
config when there is no index); a disk artifact's layers match the entry's files; the AIB
annotations, where present, agree with the entry's distro, targets and architecture.

Each distinct manifest is fetched once per run and no blob is downloaded: a manifest already lists
its layers' digests and sizes, and an index its platforms. Only an image without an index needs its
config (one small blob) for its architecture. Entries are checked concurrently; the client limits
the processes per registry. A registry that cannot be reached makes its entries "unchecked", never
invalid: observed state is not desired state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from image_catalog.catalog.loader import Catalog, Loaded
from image_catalog.catalog.problems import Problem
from image_catalog.errors import CatalogError
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.model import CatalogImage, DiskArtifact, DiskFile, ManifestRef, Variant
from image_catalog.manifest.reference import Reference
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.naming import OPERATOR_GROUP
from image_catalog.registry.client import RegistryClient
from image_catalog.registry.errors import (
    ManifestNotFound,
    RegistryError,
    SkopeoNotFound,
    TlsFailure,
    Unreachable,
    UnsupportedManifest,
)
from image_catalog.registry.oci import (
    Layer,
    ManifestInfo,
    ManifestKind,
    Platform,
)

Progress = Callable[[int, int], None]

_KIND_WORDS = {
    ManifestKind.IMAGE: "a container image",
    ManifestKind.INDEX: "an image index",
    ManifestKind.ARTIFACT: "an OCI artifact",
}


@dataclass
class OnlineResult:
    """What the registries said: problems with entries, and entries that could not be checked."""

    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # "NAME@VERSION: reason"
    registries: list[str] = field(default_factory=list)  # names of the registries that answered
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
    workers: int = 8,
    progress: Progress | None = None,
) -> OnlineResult:
    """Check the entries (all, or the NAME@VERSION ids in `only`) against their registries."""
    entries = [e for e in catalog.images if only is None or e.model.id in only]
    checked = check_entries(entries, client, catalog.vocabulary, workers=workers, progress=progress)
    result = OnlineResult(
        entries=len(entries),
        registries=checked.registries,
        manifests=checked.manifests,
        configs=checked.configs,
    )
    for entry, outcome in zip(entries, checked.outcomes, strict=True):
        result.problems += outcome.problems
        if outcome.unchecked is not None:
            result.unchecked.append(f"{entry.model.id}: {outcome.unchecked}")
    return result


@dataclass(frozen=True)
class MovedTag:
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
    moved_tags: list[MovedTag] = field(default_factory=list)


@dataclass
class CheckedEntries:
    """Each entry's outcome, in the order given, and what the run fetched."""

    outcomes: list[EntryOutcome]
    registries: list[str]  # names of the registries that answered
    manifests: int
    configs: int


def check_entries(
    entries: Sequence[Loaded[CatalogImage]],
    client: RegistryClient,
    vocabulary: Vocabulary | None,
    *,
    workers: int = 8,
    progress: Progress | None = None,
    tags: bool = False,
) -> CheckedEntries:
    """Check entries concurrently; with `tags`, also note recorded tags that have moved.

    A tag still naming the pinned digest costs no extra fetch: its manifest is the pinned one.
    """
    session = _Session(client, vocabulary, tags=tags)
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


class _Memo:
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
        self, client: RegistryClient, vocabulary: Vocabulary | None, *, tags: bool = False
    ) -> None:
        self.client = client
        self.vocabulary = vocabulary
        self.tags = tags
        self.reached: set[str] = set()
        self.manifests = 0
        self.configs = 0
        self._down: dict[str, RegistryError] = {}
        self._lock = threading.Lock()
        self._manifests = _Memo()
        self._configs = _Memo()

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
        return outcome


class _EntryChecker:
    def __init__(
        self, session: _Session, loaded: Loaded[CatalogImage], outcome: EntryOutcome
    ) -> None:
        self.session = session
        self.loaded = loaded
        self.spec = loaded.model.spec
        self.outcome = outcome
        self.out = outcome.problems

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
                        self.check_config_architecture(path, variant, image)
                    self.check_annotations(image, variant, path)
            if variant.disk is not None:
                disk = self.fetch((*path, "disk"), variant.disk, ManifestKind.ARTIFACT, False)
                if disk is not None:
                    self.check_disk((*path, "disk"), variant.disk, disk)
                    self.check_annotations(disk, variant, path)
        if spec.index is not None and index is not None:
            self.check_index(index)
            self.check_annotations(index, None, ("spec", "index"))

    def fetch(
        self, path: FieldPath, recorded: ManifestRef, kind: ManifestKind, config: bool
    ) -> ManifestInfo | None:
        """The manifest, checked against what the entry records; None when it is unusable."""
        try:
            if self.session.tags and recorded.tag is not None:
                now = self.session.resolve_tag(recorded)
                if now != recorded.digest:
                    self.outcome.moved_tags.append(MovedTag(path, recorded.tag, now))
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
        except SkopeoNotFound:
            raise
        except RegistryError as error:
            raise _Incomplete(error) from error
        if info.kind is not kind:
            self.add(
                f"{recorded.ref} is {_KIND_WORDS[info.kind]} in the registry, not "
                f"{_KIND_WORDS[kind]}",
                (*path, "ref"),
                "registry_kind",
            )
            return None
        if info.media_type != recorded.media_type:
            self.add(
                f"the registry says {info.media_type!r}",
                (*path, "mediaType"),
                "registry_mismatch",
            )
        if info.size != recorded.size:
            self.add(
                f"the manifest is {info.size} bytes in the registry, not {recorded.size}",
                (*path, "size"),
                "registry_mismatch",
            )
        return info

    # -- architecture and index ------------------------------------------------------------------

    def architecture(self, name: str) -> str:
        vocabulary = self.session.vocabulary
        canonical = vocabulary.architecture(name) if vocabulary is not None else None
        return canonical or name

    def check_config_architecture(
        self, path: FieldPath, variant: Variant, image: ManifestInfo
    ) -> None:
        found = image.architecture
        if found is None:
            return
        if self.architecture(found) != variant.architecture:
            self.add(
                f"the image's config says architecture {found!r}, not {variant.architecture!r}",
                (*path, "architecture"),
                "architecture_mismatch",
            )

    def check_index(self, index: ManifestInfo) -> None:
        """The index lists exactly the variants' images, each under the variant's architecture."""
        assert self.spec.index is not None
        platforms = [p for p in index.platforms if not p.is_attestation]
        by_digest = {p.digest: p for p in platforms}
        recorded: set[str] = set()
        for i, variant in enumerate(self.spec.variants):
            if variant.container is None:
                continue  # reported offline: an entry with an index needs a container per variant
            digest = variant.container.digest
            recorded.add(digest)
            path: FieldPath = ("spec", "variants", i)
            platform = by_digest.get(digest)
            if platform is None:
                self.add(
                    f"the index {self.spec.index.ref} does not list this image (it lists: "
                    f"{_listing(platforms)})",
                    (*path, "container", "ref"),
                    "index_mismatch",
                )
            elif self.architecture(platform.architecture) != variant.architecture:
                self.add(
                    f"the index lists this image as platform {platform}, not architecture "
                    f"{variant.architecture!r}",
                    (*path, "architecture"),
                    "architecture_mismatch",
                )
        for platform in platforms:
            if platform.digest not in recorded:
                self.add(
                    f"the index also lists {platform} {platform.digest}, which no variant "
                    "records: add a variant for it",
                    ("spec", "index", "ref"),
                    "index_mismatch",
                )

    # -- disk artifacts --------------------------------------------------------------------------

    def check_disk(self, path: FieldPath, disk: DiskArtifact, info: ManifestInfo) -> None:
        if disk.artifact_type is not None and disk.artifact_type != info.artifact_type:
            self.add(
                f"the registry says artifact type {info.artifact_type!r}",
                (*path, "artifactType"),
                "artifact_mismatch",
            )
        unmatched = list(info.layers)
        for j, file in enumerate(disk.files):
            layer = next((x for x in unmatched if x.title == file.title), None)
            if layer is None:
                self.add(
                    f"the artifact has no layer titled {file.title!r} (its layers: "
                    f"{_titles(info.layers)})",
                    (*path, "files", j, "title"),
                    "artifact_mismatch",
                )
                continue
            unmatched.remove(layer)
            self.check_file((*path, "files", j), file, layer)
        if unmatched:
            self.add(
                f"the artifact also has {_titles(unmatched)}, not listed here: add them",
                (*path, "files"),
                "artifact_mismatch",
            )

    def check_file(self, path: FieldPath, file: DiskFile, layer: Layer) -> None:
        expected: list[tuple[str, object, object]] = [
            ("sha256", file.sha256, layer.digest.removeprefix("sha256:")),
            ("size", file.size, layer.size),
            ("mediaType", file.media_type, layer.media_type),
        ]
        # What the registry's annotations say is what a flasher will use.
        if file.partition is not None:
            expected.append(("partition", file.partition, layer.partition))
        if file.decompressed_size is not None:
            expected.append(("decompressedSize", file.decompressed_size, layer.decompressed_size))
        for name, mine, theirs in expected:
            if mine != theirs:
                said = "has none" if theirs is None else f"says {theirs!r}"
                self.add(f"the artifact's layer {said}", (*path, name), "artifact_mismatch")

    # -- AIB annotations -------------------------------------------------------------------------

    def check_annotations(
        self, info: ManifestInfo, variant: Variant | None, path: FieldPath
    ) -> None:
        notes = info.annotations
        distro = notes.get(OPERATOR_GROUP + "distro")
        if distro is not None and self.distro(distro) != self.distro(self.spec.distro):
            self.add(
                f"{info.reference} is annotated distro {distro!r}",
                ("spec", "distro"),
                "annotation_mismatch",
            )
        target = notes.get(OPERATOR_GROUP + "target")
        targets = [t.name for t in self.spec.targets]
        if target is not None and target not in targets:
            self.add(
                f"{info.reference} is annotated target {target!r}, which is not among them",
                ("spec", "targets"),
                "annotation_mismatch",
            )
        arch = notes.get(OPERATOR_GROUP + "arch")
        if arch is None or variant is None:
            return
        if self.architecture(arch) != variant.architecture:
            self.add(
                f"{info.reference} is annotated arch {arch!r}",
                (*path, "architecture"),
                "annotation_mismatch",
            )

    def distro(self, name: str) -> str:
        vocabulary = self.session.vocabulary
        canonical = vocabulary.distro(name) if vocabulary is not None else None
        return canonical or name


def _listing(platforms: Iterable[Platform]) -> str:
    return ", ".join(f"{p} {p.digest}" for p in platforms) or "nothing"


def _titles(layers: Iterable[Layer]) -> str:
    return ", ".join(repr(x.title) if x.title else f"untitled {x.digest}" for x in layers) or "none"
