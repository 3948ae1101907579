"""Building the static index: a folder of JSON files any web server, object store or CDN serves.

Layout (paths relative to the site root; formats in `site.contract`, JSON Schemas in `schemas/`):

    catalog.json                      small: commit, vocabulary and aliases, view sizes (read first)
    index.json                        every version's summary, newest publishedAt first
    latest.json                       per image its newest version (what `query` lists by default)
    views/BY/VALUE/latest.json        latest.json restricted to one architecture, distro or target
    views/BY/VALUE/all.json           every version for that value (distros and targets only)
    images/NAME.json                  every version of one image in full, and which is the latest
    images/NAME/VERSION.json          one version in full: variants, artifacts, download URLs
    schemas/KIND.schema.json          JSON Schemas of the documents above
    SHA256SUMS                        sha256 of every other file (`sha256sum -c`), usable as ETags,
                                      after a '#' line naming the catalog commit and its time
    SHA256SUMS.sig                    with a signing key: the SSH signature of SHA256SUMS
    FILE.gz                           beside every file of sitewrite.GZIP_MIN_BYTES or more

Every file is a `site.contract` document encoded by `contract.encode`. The bytes depend only on
the catalog (sorted keys, compact separators, no build time, gzip with
mtime 0 and no file name), so unchanged files keep their content hash across builds; their
modification time is carried over from the previous site too, so `Last-Modified` (and the
mtime-based ETags of servers like nginx) stay valid and clients get 304s. Only `catalog.json` and
`index.json` name the commit: they change on every merge, the other files only with their content.

The site is built in a temp folder next to `--out` and swapped in with one rename (Linux's
renameat2 RENAME_EXCHANGE, else two renames), so neither a reader nor a failed build ever sees half
a site, and no temp folder is left behind. The site replaced is kept beside `--out`, and the next
build starts from it (`spare.py`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit

import msgspec
from msgspec.structs import replace

from image_catalog.build.outlock import out_locked
from image_catalog.build.signing import SigningKey, sign_site, sums_header_for
from image_catalog.build.spare import keep_spare
from image_catalog.build.staging import SiteWriteError as SiteWriteError
from image_catalog.build.staging import Staging, write_error
from image_catalog.build.writer import SiteWriter, swap_in
from image_catalog.catalog.audit import first_published
from image_catalog.catalog.git import GitRepo
from image_catalog.catalog.loader import Catalog
from image_catalog.catalog.published import first_published_at
from image_catalog.catalog.validate import valid_catalog
from image_catalog.errors import CatalogError, UsageError
from image_catalog.manifest import model
from image_catalog.manifest.model import (
    CatalogImage,
    DiskFile,
    ManifestRef,
    Registry,
    Variant,
    VocabularySpec,
)
from image_catalog.manifest.vocabulary import Vocabulary
from image_catalog.site import contract
from image_catalog.site.contract import (
    SCHEMA_VERSION,
    VIEW_DIMENSIONS,
    Aliases,
    Artifact,
    CatalogInfo,
    Counts,
    Deprecation,
    EntryHealth,
    FirstPublished,
    ImageBuildSource,
    ImageDoc,
    IndexDoc,
    Pinned,
    PrebuiltSource,
    SiteDoc,
    Source,
    StatusDoc,
    Summary,
    TargetRef,
    VariantDetail,
    VariantRef,
    VersionDoc,
    Versions,
    ViewBy,
    ViewCount,
    ViewDoc,
    VocabularyDoc,
)
from image_catalog.site.status import STATUS_FILE

SITE_FILE = "catalog.json"
# Views of every version exist only where they are much smaller than index.json: with a handful of
# architectures, each architecture's history is most of the index, and writing it would cost more
# build time than it saves any client (which then reads index.json).
ALL_VERSION_VIEWS: tuple[ViewBy, ...] = ("distro", "target")
# One path segment built from a validated name, version or vocabulary word; checked again here so
# that nothing but a plain file name can ever reach the file system.
_SEGMENT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


@dataclass(frozen=True)
class BuildResult:
    out: Path
    commit: str | None
    images: int
    versions: int
    files: int
    total_bytes: int
    index_size: int
    index_gzip_size: int
    warnings: tuple[str, ...] = ()
    signed_by: str | None = None  # the signing key's fingerprint


def build_index(
    root: Path,
    out: Path,
    base_url: str | None = None,
    status: StatusDoc | None = None,
    sign_key: SigningKey | None = None,
) -> BuildResult:
    """Validate the catalog offline, then build its site into `out` (signed with `sign_key`)."""
    catalog = valid_catalog(root, "build the index", use_cache=False)  # the build from scratch
    return build_site(catalog, out, base_url, status=status, sign_key=sign_key)


def build_site(
    catalog: Catalog,
    out: Path,
    base_url: str | None = None,
    commit: str | None = None,
    *,
    status: StatusDoc | None = None,
    extra: Mapping[str, str] | None = None,
    sign_key: SigningKey | None = None,
) -> BuildResult:
    """Write the site of an already validated catalog into `out`, replacing it atomically.

    `commit` defaults to the HEAD of the git repository holding the catalog, if any. With a
    health `status`, each entry carries its state and the site holds status.json. `extra`
    (relative path -> text) is written too, e.g. the CatalogImage resources under `crs/`.
    With `sign_key`, SHA256SUMS.sig is written into the site before it is swapped in. Another
    build into `out` is waited for (`outlock.py`).
    """
    normalize_base_url(base_url)  # a usage error does not wait
    with out_locked(out):
        return _build_site(
            catalog, out, base_url, commit, status=status, extra=extra, sign_key=sign_key
        )


def _build_site(
    catalog: Catalog,
    out: Path,
    base_url: str | None,
    commit: str | None,
    *,
    status: StatusDoc | None,
    extra: Mapping[str, str] | None,
    sign_key: SigningKey | None,
) -> BuildResult:
    vocabulary, vocabulary_file = catalog.vocabulary, catalog.vocabulary_file
    if vocabulary is None or vocabulary_file is None:
        raise CatalogError(f"{catalog.root}: the catalog has no valid vocabulary.yaml")
    base = normalize_base_url(base_url)
    commit = commit if commit is not None else catalog_commit(catalog.root)
    _check_out(out)
    header = sums_header_for(catalog.root, commit, sign_key)
    first, warnings = _first_published(catalog.root, commit)
    content = _Content.of(catalog, vocabulary, vocabulary_file.model.spec, first, status)
    return write_content(
        content, out, commit, base, warnings, extra, header=header, sign_key=sign_key
    )


def write_content(
    content: _Content,
    out: Path,
    commit: str | None,
    base: str | None,
    warnings: tuple[str, ...] = (),
    extra: Mapping[str, str] | None = None,
    *,
    header: str | None = None,
    sign_key: SigningKey | None = None,
    staging: Staging | None = None,
    on_finished: Callable[[SiteWriter], None] | None = None,
) -> BuildResult:
    """Write the site's files into a staging folder next to `out`, then swap it in; `header`
    starts SHA256SUMS, and with `sign_key` SHA256SUMS.sig is written before the swap.

    `staging`: a staging folder opened by the caller (who closes it), which may hold some of
    the documents already. `on_finished` is called with the writer once every file is written
    (its `sums` and `sizes` complete), before the site is swapped in."""
    own = staging is None
    if staging is None:
        staging = Staging(out)
    writer = staging.writer
    try:
        writer.folders(_path("images", name) for name in content.by_name)
        keep, write = staging.keep, staging.write
        for relative, data, sha256 in content.documents(commit, base, staging.keep_all):
            if isinstance(data, bytes):
                write(relative, data, sha256)
                continue
            if isinstance(data, Packed):
                staging.write_packed(relative, data.file, data.packed)
                continue
            # By reference; when neither site holds the file, its bytes after all.
            if isinstance(data, _Entry):
                assert data.sha256 is not None
                assert data.size is not None
                if keep(relative, data.sha256, data.size):
                    continue
                data = content.version(data)
            else:
                if keep(relative, data.sha256, data.size, data.gz_size):
                    continue
                data = data.load()
            write(relative, data, None)
        for relative, text in sorted((extra or {}).items()):
            # The writer ends every file with a newline; these texts already do.
            staging.write(relative, text.removesuffix("\n").encode())
        writer.finish(previous=out, header=header)
        writer.close()
        if on_finished is not None:
            on_finished(writer)
        if sign_key is not None:
            sign_site(staging.path, sign_key)
        swap_in(staging.path, out)
        keep_spare(staging.path, out)  # the replaced site, if any, for the next build
    except OSError as exc:
        raise write_error(out, exc) from exc
    finally:
        if own:
            staging.close()
    return BuildResult(
        out=out,
        commit=commit,
        images=len(content.by_name),
        versions=len(content.entries),
        files=writer.files,
        total_bytes=writer.total_bytes,
        index_size=writer.sizes["index.json"],
        index_gzip_size=writer.sizes.get("index.json.gz", 0),
        warnings=warnings,
        signed_by=sign_key.fingerprint if sign_key is not None else None,
    )


def normalize_base_url(base_url: str | None) -> str | None:
    """Where the site is published, ending in '/', or None; refuses anything but http(s)."""
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(
            f"--base-url {base_url!r} is not an http(s) URL of a folder (e.g. "
            "https://images.example.com/catalog/)"
        )
    return base_url if base_url.endswith("/") else base_url + "/"


def _first_published(
    root: Path, commit: str | None, *, cached: bool = False
) -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    """When and in which commit each entry first landed on the checked-out branch (audit trail);
    with `cached`, remembered per commit in the cache folder."""
    if commit is None:
        return {}, ()
    try:
        if cached:
            return first_published_at(root, commit), ()
        return first_published(root, root, commit), ()
    except UsageError as exc:
        return {}, (f"firstPublished left out of the index: {exc}",)


def catalog_commit(root: Path) -> str | None:
    """The HEAD commit of the git repository that holds `root`, or None outside one."""
    try:
        return GitRepo(root).head_commit_id()
    except UsageError:
        return None  # not in a work tree: the index names no commit


def _check_out(out: Path) -> None:
    """Refuse to replace anything but a folder that is empty or holds an earlier site."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"--out {out} exists and is not a folder; pick another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_FILE).is_file():
        raise UsageError(
            f"--out {out} is a folder that holds no index ({SITE_FILE} is missing); refusing "
            "to replace it: remove it or pick another --out"
        )


# --- content ----------------------------------------------------------------------------------


def _version_path(name: str, version: str) -> str:
    """`_path("images", name, f"{version}.json")`, in two checks rather than three."""
    if _SEGMENT.fullmatch(name) and _SEGMENT.fullmatch(version):
        return f"images/{name}/{version}.json"
    return _path("images", name, f"{version}.json")  # which says what is wrong


def _path(*segments: str) -> str:
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise CatalogError(f"{segment!r} cannot be used as a file name in the site")
    return "/".join(segments)


@dataclass
class _Hosts:
    """Maps a reference to the registry's public host, and a blob to its download URL."""

    registries: dict[str, Registry]

    def public(self, ref: str) -> tuple[str, str]:
        """(digest, HOST/REPOSITORY@DIGEST on the public host) of a pinned reference."""
        host, repository, digest = _split(ref)
        return digest, f"{self.registries[host].pull_host}/{repository}@{digest}"

    def pinned(self, ref: str) -> Pinned:
        digest, public = self.public(ref)
        return Pinned(digest=digest, ref=public, oci=f"oci://{public}")

    def blobs(self, ref: str) -> str:
        """The URL of the blobs of the reference's repository, up to a blob's sha256 hex."""
        host, repository, _ = _split(ref)
        registry = self.registries[host]
        # A registry the catalog reaches without TLS verification is, in practice, a plain-HTTP
        # one (a lab or loopback registry); a URL with https would not download from it.
        scheme = "https" if registry.spec.tls_verify else "http"
        return f"{scheme}://{registry.pull_host}/v2/{repository}/blobs/sha256:"


def _split(ref: str) -> tuple[str, str, str]:
    """Host, repository and digest of a validated pinned reference.

    The model's pattern already guarantees HOST/REPOSITORY@sha256:HEX with an explicit host, so a
    split is enough (the full parser is a third of the build time at 20,000 entries).
    """
    name, _, digest = ref.rpartition("@")
    host, _, repository = name.partition("/")
    return host, repository, digest


class Reference(NamedTuple):
    """A file given by its hash instead of its bytes: the sites (the live one, or the earlier
    one being updated) hold it already, else `load` makes its bytes."""

    sha256: str  # of the file: the bytes and a final newline
    size: int  # of the file
    load: Callable[[], bytes]
    gz_size: int | None = None  # of the .gz beside it, if known


class Packed(NamedTuple):
    """A large file's bytes (final newline included) and what gives its .gz if it is made
    elsewhere (started before the site is written)."""

    file: bytes
    packed: Callable[[], bytes] | None


@dataclass(slots=True)
class _Entry:
    """One version, with what the views are cut by.

    Its summary and document are either structs or, reused from an earlier build, the bytes
    `contract.encode` made of them (msgspec.Raw), which the encoder copies as they are. A
    document may also be left out (None) when `sha256` and `size` say which file it is: the
    site holds it already (`Reference`), and its bytes are read or made only when needed.
    """

    name: str
    version: str
    published: datetime
    deprecated: bool
    keys: dict[ViewBy, list[str]]
    summary: Summary | msgspec.Raw
    document: VersionDoc | msgspec.Raw | None
    sha256: str | None = None  # of the document's file, when known from an earlier build
    size: int | None = None  # of the document's file, when `sha256` is known
    summary_sha256: bytes | None = None  # of the summary's bytes, when known likewise

    @property
    def order(self) -> tuple[float, str, str]:
        return (-self.published.timestamp(), self.name, self.version)


def _entry(
    image: CatalogImage,
    hosts: _Hosts,
    vocabulary: Vocabulary,
    first: tuple[str, str] | None,
) -> _Entry:
    spec, meta = image.spec, image.metadata
    distro = vocabulary.distro(spec.distro) or spec.distro
    architectures = list(dict.fromkeys(v.architecture for v in spec.variants))
    deprecation = spec.lifecycle.deprecated
    details = [row for variant in spec.variants for row in _variants(variant, hosts)]
    common: dict[str, Any] = {
        "name": meta.name,
        "version": meta.version,
        "display_name": spec.display_name,
        "distro": distro,
        "distro_as_written": spec.distro if distro != spec.distro else None,
        "targets": [TargetRef(name=t.name, verified=t.verified) for t in spec.targets],
        "architectures": architectures,
        "tags": list(spec.tags),
        "bootc": spec.bootc,
        "published_at": spec.published_at,
        "deprecated": deprecation is not None,
        "superseded_by": spec.lifecycle.superseded_by,
        "index": hosts.pinned(spec.index.ref) if spec.index is not None else None,
        "href": _path("images", meta.name, f"{meta.version}.json"),
        "first_published": (
            FirstPublished(commit=first[0], date=datetime.fromisoformat(first[1]))
            if first
            else None
        ),
    }
    summary = Summary(**common, variants=[_row(d) for d in details])
    document = VersionDoc(
        **common,
        schema_version=SCHEMA_VERSION,
        description=spec.description,
        distro_version=spec.distro_version,
        build_mode=spec.build_mode,
        export_format=spec.export_format,
        labels=dict(image.metadata.labels),
        source=_source(spec.source),
        deprecation=(
            Deprecation(reason=deprecation.reason, date=deprecation.date)
            if deprecation is not None
            else None
        ),
        variants=details,
    )
    return _Entry(
        name=meta.name,
        version=meta.version,
        published=spec.published_at,
        deprecated=deprecation is not None,
        keys={
            "architecture": architectures,
            "distro": [distro],
            "target": [t.name for t in spec.targets],
        },
        summary=summary,
        document=document,
    )


def _with_health(entry: _Entry, health: EntryHealth | None) -> _Entry:
    """The entry with its state from a health check: the state, and since when, only.

    Check times stay in status.json, so a view or an image file changes only when a state does.
    """
    if health is None:
        return entry
    summary, document = entry.summary, entry.document
    assert document is not None  # loaded by `_Content.of_entries`
    if isinstance(summary, msgspec.Raw):
        summary = msgspec.json.decode(summary, type=Summary)
    if isinstance(document, msgspec.Raw):
        document = msgspec.json.decode(document, type=VersionDoc)
    by_architecture = {v.architecture: v for v in health.variants}
    variants = []
    for detail in document.variants:
        variant = by_architecture.get(detail.architecture)
        if variant is not None:
            detail = replace(detail, health=variant.state, health_since=variant.since)
        variants.append(detail)
    entry.sha256 = entry.summary_sha256 = None
    entry.summary = replace(summary, health=health.state)
    entry.document = replace(
        document, health=health.state, health_since=health.since, variants=variants
    )
    return entry


def _row(detail: VariantDetail) -> VariantRef:
    """A summary's row of a variant: which manifest, without its details."""
    return VariantRef(
        digest=detail.digest,
        ref=detail.ref,
        oci=detail.oci,
        architecture=detail.architecture,
        kind=detail.kind,
    )


def _source(source: model.Source) -> Source:
    built, prebuilt = source.image_build, source.prebuilt
    return Source(
        image_build=(
            ImageBuildSource(
                name=built.name,
                namespace=built.namespace,
                uid=built.uid,
                completion_time=built.completion_time,
                aib_image=built.aib_image,
                builder_image=built.builder_image,
                manifest=built.manifest,
                manifest_config_map=built.manifest_config_map,
                schedule=built.schedule,
            )
            if built is not None
            else None
        ),
        prebuilt=PrebuiltSource(origin=prebuilt.origin) if prebuilt is not None else None,
    )


def _variants(variant: Variant, hosts: _Hosts) -> list[VariantDetail]:
    """The variant's container and disk, in that order, each with its details."""
    details = []
    if variant.container is not None:
        details.append(_detail(variant, "container", variant.container, hosts, None, []))
    disk = variant.disk
    if disk is not None:
        blobs = hosts.blobs(disk.ref)
        artifacts = [_artifact(file, blobs) for file in disk.files]
        details.append(_detail(variant, "disk", disk, hosts, disk.artifact_type, artifacts))
    return details


def _detail(
    variant: Variant,
    kind: Literal["container", "disk"],
    manifest: ManifestRef,
    hosts: _Hosts,
    artifact_type: str | None,
    artifacts: list[Artifact],
) -> VariantDetail:
    digest, public = hosts.public(manifest.ref)
    return VariantDetail(
        digest=digest,
        ref=public,
        oci=f"oci://{public}",
        architecture=variant.architecture,
        kind=kind,
        tag=manifest.tag,
        os=variant.os,
        platform_variant=variant.platform_variant,
        media_type=manifest.media_type,
        size=manifest.size,
        artifact_type=artifact_type,
        artifacts=artifacts,
    )


def _artifact(file: DiskFile, blobs: str) -> Artifact:
    """A disk's file; `blobs` is the URL of its repository's blobs (see `_Hosts.blobs`)."""
    return Artifact(
        title=file.title,
        media_type=file.media_type,
        format=file.format,
        compression=file.compression,
        sha256=file.sha256,
        size=file.size,
        decompressed_size=file.decompressed_size,
        partition=file.partition,
        url=file.download_url or blobs + file.sha256,
    )


@dataclass
class _Content:
    """Every version ordered, plus what the views and image files need."""

    entries: list[_Entry]
    by_name: dict[str, list[_Entry]]
    heads: set[int]
    vocabulary: VocabularyDoc
    values: dict[ViewBy, list[str]]
    status: StatusDoc | None = None
    # The bytes of a version document left out of its entry (see `_Entry`).
    load: Callable[[_Entry], bytes] | None = None
    # Per image file and view (by path), the digest of what it is made of (`_image_digest`,
    # `_view_digest`), the sha256 and size of that file and the size of its .gz (0: none), from
    # an earlier build: such a file is handed over by reference while its digest is the same.
    known: Mapping[str, tuple[str, str, int, int]] = field(default_factory=dict)
    # And the digest of each such file of this build (filled in while encoding).
    digests: dict[str, str] = field(default_factory=dict)
    # index.json, when made (and its .gz started) ahead of the other files: see `index_file`.
    index: Packed | None = None

    @classmethod
    def of(
        cls,
        catalog: Catalog,
        vocabulary: Vocabulary,
        spec: VocabularySpec,
        first: dict[str, tuple[str, str]],
        status: StatusDoc | None = None,
    ) -> _Content:
        hosts = _Hosts({r.model.spec.host: r.model for r in catalog.registries})
        entries = (
            _entry(loaded.model, hosts, vocabulary, first.get(loaded.model.id))
            for loaded in catalog.images
        )
        return cls.of_entries(entries, vocabulary, spec, status)

    @classmethod
    def of_entries(
        cls,
        rendered: Iterable[_Entry],
        vocabulary: Vocabulary,
        spec: VocabularySpec,
        status: StatusDoc | None = None,
        *,
        load: Callable[[_Entry], bytes] | None = None,
        known: Mapping[str, tuple[str, str, int, int]] | None = None,
    ) -> _Content:
        """The content of entries already rendered by `_entry` (fresh objects: health is set).

        `load` gives the bytes of a document left out of its entry; `known`, see `_Content`."""
        health = {e.id: e for e in status.entries} if status is not None else {}

        def with_health(entry: _Entry) -> _Entry:
            found = health.get(f"{entry.name}@{entry.version}")
            if found is not None and entry.document is None:
                entry.document = _loaded(entry, load)
            return _with_health(entry, found)

        entries = sorted(
            (with_health(e) for e in rendered) if health else rendered, key=lambda e: e.order
        )
        by_name: dict[str, list[_Entry]] = defaultdict(list)
        for entry in entries:
            by_name[entry.name].append(entry)
        return cls(
            status=status,
            entries=entries,
            by_name=dict(sorted(by_name.items())),
            heads=_heads(entries),
            vocabulary=_vocabulary(vocabulary, spec),
            values={
                "architecture": [a.name for a in spec.architectures],
                "distro": [d.name for d in spec.distros],
                "target": [t.name for t in spec.targets],
            },
            load=load,
            known=known or {},
        )

    def documents(
        self,
        commit: str | None,
        base_url: str | None,
        keep: Callable[[list[tuple[str, str, int]]], list[int]] | None = None,
    ) -> Iterator[tuple[str, bytes | Packed | Reference | _Entry, str | None]]:
        """(relative path, JSON or a reference to its file, sha256 of the file if known) of
        every file. The reference to a version document the sites hold is its entry (known by
        the file's sha256 and size, see `_Entry`); with `keep`, those are handed to it instead,
        all in one call ((path, sha256, size) of each; it answers the positions of those it
        could not keep, which come as bytes then).

        index.json, the largest, comes first: it changes with every commit, and its hash and
        .gz are made by the writer's threads while the other documents are encoded."""
        catalog = CatalogInfo(commit=commit)
        if self.index is not None:
            yield "index.json", self.index, None
        else:
            yield "index.json", Packed(self.index_file(commit, base_url), None), None
        references: list[tuple[str, str, int]] = []
        referred: list[_Entry] = []
        for entry in self.entries:
            path = _version_path(entry.name, entry.version)
            if entry.document is None and entry.sha256 is not None and entry.size is not None:
                if keep is None:
                    yield path, entry, entry.sha256
                else:
                    references.append((path, entry.sha256, entry.size))
                    referred.append(entry)
            else:
                yield path, contract.encode(_loaded(entry, self.load)), entry.sha256
        for i in keep(references) if keep is not None and references else ():
            yield references[i][0], self.version(referred[i]), None
        for path, data in self._documents(catalog, base_url):
            yield path, data, None

    def index_file(self, commit: str | None, base_url: str | None) -> bytes:
        """index.json's bytes, its final newline included."""
        index = IndexDoc(
            schema_version=SCHEMA_VERSION,
            catalog=CatalogInfo(commit=commit),
            base_url=base_url,
            vocabulary=self.vocabulary,
            images=[_summary(e) for e in self.entries],
        )
        return contract.encode(index) + b"\n"

    def _documents(
        self, catalog: CatalogInfo, base_url: str | None
    ) -> Iterator[tuple[str, bytes | Reference]]:
        encode = contract.encode
        make = functools.partial
        # The views (large, few) before the image files (many): their .gz are made by the
        # writer's threads while the image files are encoded.
        counts: dict[ViewBy, dict[str, ViewCount]] = {by: {} for by in VIEW_DIMENSIONS}
        yield from self._views(counts)
        heads = sorted(self.heads)
        digest = self._view_digest("latest", heads)
        yield (
            "latest.json",
            self._file("latest.json", digest, make(self._encoded_view, "latest", heads)),
        )
        for name, versions in self.by_name.items():
            path = _path("images", f"{name}.json")
            digest = _image_digest(name, _latest(versions), versions)
            yield path, self._file(path, digest, make(self._encoded_image, name, versions))
        site = SiteDoc(
            schema_version=SCHEMA_VERSION,
            catalog=catalog,
            base_url=base_url,
            counts=Counts(images=len(self.by_name), versions=len(self.entries)),
            vocabulary=self.vocabulary,
            views=counts,
            status=STATUS_FILE if self.status is not None else None,
        )
        if self.status is not None:
            yield STATUS_FILE, encode(self.status)
        yield SITE_FILE, encode(site)
        yield from self._schemas()

    def _schemas(self) -> Iterator[tuple[str, bytes | Reference]]:
        """The JSON Schemas: the code's alone, so the files an earlier build of the same code
        (which `known` comes from) wrote are handed over by reference."""
        known = {p: k for p, k in self.known.items() if p.startswith("schemas/")}
        if known and all(k[0] == _SCHEMAS for k in known.values()):
            for path, (_, sha256, size, gz_size) in sorted(known.items()):
                self.digests[path] = _SCHEMAS
                make = functools.partial(self._schema_text, path)
                yield path, Reference(sha256, size, make, gz_size or None)
            return
        for name, text in self._schema_texts.items():
            path = _path("schemas", name)
            self.digests[path] = _SCHEMAS
            yield path, text.encode("utf-8")

    @functools.cached_property
    def _schema_texts(self) -> dict[str, str]:
        return contract.schemas()

    def _schema_text(self, path: str) -> bytes:
        return self._schema_texts[path.removeprefix("schemas/")].encode("utf-8")

    def _views(
        self, counts: dict[ViewBy, dict[str, ViewCount]]
    ) -> Iterator[tuple[str, bytes | Reference]]:
        """The files under views/, counting their rows into `counts` for catalog.json.

        A latest.json holds both head rows (see `_heads`) of every image with a head that has the
        value, so that the client picks the right head first and filters it second, exactly as
        it does on the root latest.json.
        """
        heads_of: dict[str, list[int]] = defaultdict(list)
        for i in sorted(self.heads):
            heads_of[self.entries[i].name].append(i)
        every: dict[tuple[ViewBy, str], list[int]] = defaultdict(list)
        named: dict[tuple[ViewBy, str], set[str]] = defaultdict(set)
        for i, entry in enumerate(self.entries):
            for by, values in entry.keys.items():
                for value in values:
                    every[by, value].append(i)
                    if i in self.heads:
                        named[by, value].add(entry.name)
        for by in VIEW_DIMENSIONS:
            for value in self.values[by]:
                latest = sorted(i for name in named[by, value] for i in heads_of[name])
                folder = _path("views", by, value)
                path = f"{folder}/latest.json"
                digest = self._view_digest("latest", latest, by, value)
                make = functools.partial(self._encoded_view, "latest", latest, by, value)
                yield path, self._file(path, digest, make)
                rows = None
                if by in ALL_VERSION_VIEWS:
                    rows = every[by, value]
                    path = f"{folder}/all.json"
                    digest = self._view_digest("all", rows, by, value)
                    make = functools.partial(self._encoded_view, "all", rows, by, value)
                    yield path, self._file(path, digest, make)
                counts[by][value] = ViewCount(
                    latest=len(latest), all=len(rows) if rows is not None else None
                )

    def _file(self, path: str, digest: str | None, make: Callable[[], bytes]) -> bytes | Reference:
        """A file made of entries: a reference while its digest is the one known, else bytes."""
        if digest is not None:
            self.digests[path] = digest
            known = self.known.get(path)
            if known is not None and known[0] == digest:
                return Reference(known[1], known[2], make, known[3] or None)
        return make()

    def _view_digest(
        self,
        versions: Versions,
        rows: list[int],
        by: ViewBy | None = None,
        value: str | None = None,
    ) -> str | None:
        """What a view is made of, when every summary's hash is known: which view, and the
        summaries of its rows in order."""
        shas = self._summary_sha256s
        if shas is None:
            return None
        digest = hashlib.sha256(f"{versions}\0{by or ''}\0{value or ''}\0".encode())
        digest.update(b"".join([shas[i] for i in rows]))
        return digest.hexdigest()

    @functools.cached_property
    def _summary_sha256s(self) -> list[bytes] | None:
        shas = [e.summary_sha256 for e in self.entries]
        return None if None in shas else cast(list[bytes], shas)

    def _encoded_view(
        self,
        versions: Versions,
        rows: list[int],
        by: ViewBy | None = None,
        value: str | None = None,
    ) -> bytes:
        return contract.encode(self._view(versions, rows, by, value))

    def version(self, entry: _Entry) -> bytes:
        """A version document's bytes, when the sites lack its file."""
        return contract.encode(_loaded(entry, self.load))

    def _encoded_image(self, name: str, versions: list[_Entry]) -> bytes:
        """An image file's bytes, when the sites lack it."""
        return contract.encode(self._image(name, versions))

    def _image(self, name: str, versions: list[_Entry]) -> ImageDoc:
        return ImageDoc(
            schema_version=SCHEMA_VERSION,
            name=name,
            latest=_latest(versions),
            # See _summary: structs or their bytes.
            versions=[cast(VersionDoc, _loaded(e, self.load)) for e in versions],
        )

    def _view(
        self,
        versions: Versions,
        rows: list[int],
        by: ViewBy | None = None,
        value: str | None = None,
    ) -> ViewDoc:
        return ViewDoc(
            schema_version=SCHEMA_VERSION,
            by=by,
            value=value,
            versions=versions,
            images=[self._summaries[i] for i in rows],
        )

    @functools.cached_property
    def _summaries(self) -> list[Summary]:
        """Each entry's summary, by its position (see `_summary`)."""
        return [_summary(e) for e in self.entries]


# The digest of every schema file: what they are made of is the code, which `known` is for.
_SCHEMAS = "schemas"


def _latest(versions: list[_Entry]) -> str | None:
    return next((e.version for e in versions if not e.deprecated), None)


def _image_digest(name: str, latest: str | None, versions: list[_Entry]) -> str | None:
    """What an image file is made of, when each version document's hash is known: its name,
    latest version and versions' documents in order (the rest is the code's, which the cache
    holding the digest is keyed by)."""
    parts = [name, latest or ""]
    for entry in versions:
        if entry.sha256 is None:
            return None
        parts.append(entry.sha256)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _loaded(entry: _Entry, load: Callable[[_Entry], bytes] | None) -> VersionDoc | msgspec.Raw:
    """The entry's document, its bytes loaded (once) when it was left out."""
    if entry.document is None:
        if load is None:
            raise CatalogError(f"{entry.name}@{entry.version}: no document to write")
        entry.document = msgspec.Raw(load(entry))
    return entry.document


def _summary(entry: _Entry) -> Summary:
    """The entry's summary for a document's list: a struct or its encoded bytes, which the
    encoder copies as they are (the same bytes either way)."""
    return cast(Summary, entry.summary)


def _heads(entries: list[_Entry]) -> set[int]:
    """Per image, its newest version that is not deprecated and its newest of all, if newer.

    The first is what `query` lists by default, the second what it lists with
    --include-deprecated: the image's head is chosen first, then the filters apply to it.
    """
    heads: set[int] = set()
    newest: set[str] = set()
    current: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.name not in newest:
            newest.add(entry.name)
            heads.add(i)
        if not entry.deprecated and entry.name not in current:
            current.add(entry.name)
            heads.add(i)
    return heads


def _vocabulary(vocabulary: Vocabulary, spec: VocabularySpec) -> VocabularyDoc:
    def aliases(table: dict[str, str]) -> dict[str, str]:
        return {alias: name for alias, name in sorted(table.items()) if alias != name}

    return VocabularyDoc(
        architectures=[a.name for a in spec.architectures],
        distros=[d.name for d in spec.distros],
        targets={
            t.name: [vocabulary.architecture(a) or a for a in t.architectures] for t in spec.targets
        },
        aliases=Aliases(
            architectures=aliases(vocabulary.architectures),
            distros=aliases(vocabulary.distros),
        ),
    )
