"""A pull: a version's disk image for a board, from its registry to a folder, verified.

`pull_version(client, request, progress)` resolves the version through `IndexClient` (so a trust
file verifies the version document before anything else), plans the files (`reader.plan`: the
variant, the gates, the titles), fetches the variant's manifest and checks it hashes to the
pinned digest and lists exactly the index's files, checks the free space, then fetches the files
`jobs` at a time (`reader.download`) and writes the layout: each file under its title,
`SHA256SUMS` (for `sha256sum -c`) and `pull.json` (`PullDoc`), both written atomically last,
then `.pull-state` (`reader.state`): what was verified, so that a re-run knows the files in place
by their status instead of reading them again.

With `container` and a version that has no disk image for the board, the version's container
image is copied instead, into `OUT/NAME` as an OCI image layout tagged VERSION, by skopeo
(`reader.container`); the gates apply as to a disk, no layout file is written.

Invariants: no byte of a file is downloaded before the manifest and the free space are checked;
the layout files are written only when every file is in place; a failure of one file lets the
others finish (their `.part` or final files serve the next run), then every failure is reported,
the exit code a verification failure's (1) before an unreachable registry's (4).
"""

from __future__ import annotations

import json
import shutil
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from image_catalog.errors import CatalogError, ImageCatalogError, RegistryUnavailable
from image_catalog.fsutil import atomic_write_bytes
from image_catalog.reader.auth import find_credentials
from image_catalog.reader.client import IndexClient
from image_catalog.reader.container import copy_argv, copy_container
from image_catalog.reader.distribution import IDLE_TIMEOUT, Repository
from image_catalog.reader.download import Fetched, FileFetch, PullProgress, Stopped
from image_catalog.reader.plan import (
    LAYOUT_FILE,
    PART_SUFFIX,
    SUMS_FILE,
    Plan,
    board_variants,
    check_gates,
    choose_container,
    choose_variant,
    plan_files,
)
from image_catalog.reader.state import read_state, write_state
from image_catalog.site.contract import VersionDoc
from image_catalog.web.connection import Pool


class PulledFile(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """One file of pull.json, in the board's partition order."""

    file: str
    sha256: str
    size: int
    partition: str | None = None
    decompressed_size: int | None = None
    format: str | None = None
    compression: str | None = None
    media_type: str
    decompressed_file: str | None = None
    decompressed_sha256: str | None = None


class PullDoc(msgspec.Struct, kw_only=True, rename="camel"):
    """pull.json: what was pulled, from where, and the files a flashing tool writes."""

    name: str
    version: str
    display_name: str
    distro: str
    target: str
    architecture: str
    ref: str
    oci: str
    digest: str
    files: list[PulledFile]


@dataclass(frozen=True, kw_only=True)
class PullRequest:
    name: str
    version: str | None
    target: str
    architecture: str | None = None
    out: Path | None = None
    partitions: tuple[str, ...] = ()
    decompress: bool = False
    jobs: int = 4
    authfile: str | Path | None = None
    tls_verify: bool = True
    cert_dir: Path | None = None
    allow_deprecated: bool = False
    allow_unhealthy: bool = False
    container: bool = False  # the container image, for a version with no disk for the board


@dataclass(frozen=True)
class PullResult:
    """The folder, its pull.json document, and what each file cost; for a container image
    copied instead (`container`: its OCI image layout), a document with no files."""

    out: Path
    layout: PullDoc
    fetched: tuple[Fetched, ...]
    warnings: list[str]
    container: Path | None = None

    @property
    def transferred(self) -> int:
        return sum(f.transferred for f in self.fetched)

    @property
    def hashed(self) -> int:
        """Bytes already on disk read again to verify them (none when all were known by their
        recorded status)."""
        return sum(f.hashed for f in self.fetched)


def resolve_version(client: IndexClient, request: PullRequest) -> tuple[VersionDoc, list[str]]:
    """The version document (the latest version when none is named) and the reading's warnings."""
    shown = client.show(request.name, request.version)
    return shown.version, list(shown.warnings)


def board_of(client: IndexClient, request: PullRequest) -> tuple[str | None, list[str]]:
    """The architecture asked for (an alias resolved) and the board's architectures."""
    vocabulary = client.site().doc.vocabulary
    architecture = request.architecture
    if architecture is not None:
        architecture = vocabulary.aliases.architectures.get(architecture, architecture)
    return architecture, list(vocabulary.targets.get(request.target, []))


def make_plan(client: IndexClient, doc: VersionDoc, request: PullRequest) -> Plan:
    """Variant, gates and files of `doc` for the request; nothing fetched from a registry yet."""
    architecture, board_archs = board_of(client, request)
    variant = choose_variant(doc, request.target, architecture, board_archs)
    warnings = check_gates(doc, variant, request.allow_deprecated, request.allow_unhealthy)
    where = f"{doc.name} {doc.version} ({variant.architecture})"
    files = plan_files(variant, where, request.partitions, request.decompress)
    for planned in files:
        if planned.decompressed and planned.artifact.decompressed_size is None:
            warnings.append(f"{planned.title}: the index gives no decompressed size to check")
    out = request.out or Path(f"{doc.name}-{doc.version}-{variant.architecture}")
    return Plan(doc, variant, request.target, files, out, warnings)


def registry_tls(verify: bool, cert_dir: Path | None) -> ssl.SSLContext | None:
    """The TLS context for registries: None (the default, verified) unless told otherwise.
    `cert_dir` holds CA certificates (`*.crt`), as containers' certs.d folders do."""
    if verify and cert_dir is None:
        return None
    context = ssl.create_default_context()
    if cert_dir is not None:
        for path in sorted(cert_dir.glob("*.crt")):
            try:
                context.load_verify_locations(cafile=str(path))
            except (OSError, ssl.SSLError) as exc:
                raise CatalogError(f"{path}: not a CA certificate ({exc})") from exc
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def repository_of(plan: Plan, request: PullRequest, pool: Pool) -> Repository:
    """The variant's repository, reached with the scheme its blob URLs use (https by default)."""
    host, _, rest = plan.variant.ref.partition("/")
    repository = rest.rpartition("@")[0]
    scheme = "https"
    for planned in plan.files:
        parts = urlsplit(planned.artifact.url)
        if parts.netloc == host and parts.path.startswith(f"/v2/{repository}/blobs/"):
            scheme = parts.scheme
    found = find_credentials(host, repository, request.authfile)
    return Repository(f"{scheme}://{host}", repository, found, pool)


def check_manifest(plan: Plan, repository: Repository) -> None:
    """The manifest the variant pins lists exactly the index's files (digest and size)."""
    body = repository.manifest(plan.variant.digest)
    where = f"{plan.variant.ref}"
    try:
        layers = json.loads(body).get("layers")
        listed = sorted((str(layer["digest"]), int(layer["size"])) for layer in layers)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise CatalogError(f"{where}: the manifest lists no readable layers") from None
    expected = sorted((f"sha256:{a.sha256}", a.size) for a in plan.variant.artifacts)
    if listed != expected:
        raise CatalogError(
            f"{where}: the manifest's layers are not the files the index lists "
            f"(manifest: {', '.join(d for d, _ in listed)}; index: "
            f"{', '.join(d for d, _ in expected)})"
        )


def check_space(plan: Plan) -> None:
    """Enough free space for what is still to come, before the first byte."""
    needed = 0
    for planned in plan.files:
        final = plan.out / planned.title
        have = 0
        for path in (final, plan.out / (planned.title + PART_SUFFIX)):
            if path.is_file():
                have = max(have, min(path.stat().st_size, planned.artifact.size))
        needed += planned.needed - have
    free = shutil.disk_usage(plan.out).free
    if needed > free:
        raise CatalogError(
            f"{plan.out}: the pull needs {_mib(needed)} more and only {_mib(free)} is free; "
            "free some space or choose another folder with --out"
        )


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"


def fetch_all(
    plan: Plan, repository: Repository, progress: PullProgress, jobs: int
) -> tuple[Fetched, ...]:
    """Every file, `jobs` at a time; Ctrl-C or SIGTERM stop them all, keeping their `.part`."""
    stop = threading.Event()
    known = read_state(plan.out)
    fetches = [FileFetch(p, plan.out, repository, progress, stop, known) for p in plan.files]
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="pull")
    futures: list[Future[Fetched]] = [pool.submit(f.run) for f in fetches]
    try:
        for future in futures:
            future.exception()  # waits; a KeyboardInterrupt arrives here, in the main thread
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    failures: list[BaseException] = []
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, Stopped):
            failures.append(error)
    if failures:
        raise combined(failures)
    return tuple(future.result() for future in futures)


def combined(failures: Sequence[BaseException]) -> BaseException:
    """One error for several files: a verification failure (exit 1) before an unreachable
    registry (exit 4); anything unexpected as it is."""
    unexpected = [e for e in failures if not isinstance(e, ImageCatalogError)]
    if unexpected:
        return unexpected[0]
    if len(failures) == 1:
        return failures[0]
    message = "\n".join(str(e) for e in failures)
    if all(isinstance(e, RegistryUnavailable) for e in failures):
        return RegistryUnavailable(message)
    return CatalogError(message)


def layout_of(plan: Plan, fetched: Sequence[Fetched]) -> PullDoc:
    raw = {f.title: f.decompressed_sha256 for f in fetched}
    files = [
        PulledFile(
            file=p.title,
            sha256=p.artifact.sha256,
            size=p.artifact.size,
            partition=p.artifact.partition,
            decompressed_size=p.artifact.decompressed_size,
            format=p.artifact.format,
            compression=p.compression,
            media_type=p.artifact.media_type,
            decompressed_file=p.decompressed,
            decompressed_sha256=raw.get(p.title),
        )
        for p in plan.files
    ]
    doc, variant = plan.doc, plan.variant
    return PullDoc(
        name=doc.name,
        version=doc.version,
        display_name=doc.display_name,
        distro=doc.distro,
        target=plan.target,
        architecture=variant.architecture,
        ref=variant.ref,
        oci=variant.oci,
        digest=variant.digest,
        files=files,
    )


def write_layout(out: Path, layout: PullDoc) -> None:
    """SHA256SUMS and pull.json, each written to a temp file beside it and renamed."""
    lines = []
    for file in layout.files:
        lines.append(f"{file.sha256}  {file.file}\n")
        if file.decompressed_file and file.decompressed_sha256:
            lines.append(f"{file.decompressed_sha256}  {file.decompressed_file}\n")
    document = msgspec.json.format(msgspec.json.encode(layout), indent=2) + b"\n"
    for name, data in ((SUMS_FILE, "".join(lines).encode()), (LAYOUT_FILE, document)):
        atomic_write_bytes(out / name, data)


def pull_container(
    client: IndexClient, doc: VersionDoc, request: PullRequest, warnings: list[str]
) -> PullResult:
    """The version's container image for the board, copied into `OUT/NAME` (OCI image layout)."""
    architecture, board_archs = board_of(client, request)
    variant = choose_container(doc, request.target, architecture, board_archs)
    warnings += check_gates(doc, variant, request.allow_deprecated, request.allow_unhealthy)
    out = request.out or Path(f"{doc.name}-{doc.version}-{variant.architecture}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"{out}: cannot make the folder ({exc.strerror})") from None
    layout = out / doc.name
    argv = copy_argv(
        variant,
        layout,
        doc.version,
        authfile=request.authfile,
        tls_verify=request.tls_verify,
        cert_dir=request.cert_dir,
    )
    copy_container(argv, f"{doc.name} {doc.version} ({variant.ref})")
    plan = Plan(doc, variant, request.target, (), out)
    return PullResult(out, layout_of(plan, ()), (), warnings, container=layout)


def pull_version(
    client: IndexClient,
    request: PullRequest,
    progress: PullProgress,
    *,
    timeout: float = IDLE_TIMEOUT,
) -> PullResult:
    doc, warnings = resolve_version(client, request)
    if request.container:
        architecture, board_archs = board_of(client, request)
        if not board_variants(doc, "disk", request.target, architecture, board_archs):
            return pull_container(client, doc, request, warnings)
    plan = make_plan(client, doc, request)
    warnings += plan.warnings
    pool = Pool(timeout, registry_tls(request.tls_verify, request.cert_dir))
    repository = repository_of(plan, request, pool)
    check_manifest(plan, repository)
    try:
        plan.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"{plan.out}: cannot make the folder ({exc.strerror})") from None
    check_space(plan)
    fetched = fetch_all(plan, repository, progress, request.jobs)
    layout = layout_of(plan, fetched)
    try:
        write_layout(plan.out, layout)
        write_state(plan.out, (record for f in fetched for record in f.records))
    except OSError as exc:
        raise CatalogError(f"{plan.out}: cannot write the layout ({exc.strerror})") from None
    return PullResult(plan.out, layout, fetched, warnings)
