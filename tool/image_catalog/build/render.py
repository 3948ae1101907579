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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from image_catalog.build.content import SITE_FILE, SiteContent, content_of
from image_catalog.build.entries import site_path
from image_catalog.build.outlock import out_locked
from image_catalog.build.signing import SigningKey, sign_site, sums_header_for
from image_catalog.build.spare import keep_spare
from image_catalog.build.staging import SiteWriteError as SiteWriteError
from image_catalog.build.staging import Staging, write_error
from image_catalog.build.writer import SiteWriter, swap_in
from image_catalog.catalog.audit import first_published
from image_catalog.catalog.git import GitRepo, changed_files
from image_catalog.catalog.loader import IMAGES_DIR, REGISTRIES_DIR, VOCABULARY_FILE, Catalog
from image_catalog.catalog.published import first_published_at
from image_catalog.catalog.validate import valid_catalog
from image_catalog.errors import CatalogError, UsageError
from image_catalog.site.contract import StatusDoc


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
    # Entries this build parsed and rendered; the others came from the cache of the last one
    # (`pipeline.py`). None: a build that keeps no cache, which renders every entry.
    rendered: int | None = None
    dirty: bool = False  # built from uncommitted changes on top of `commit`


def build_from_scratch(
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
    dirty = False
    if commit is None:  # HEAD's, with the work tree's changes to what the build reads
        commit = catalog_commit(catalog.root)
        dirty = commit is not None and bool(uncommitted_catalog_files(catalog.root))
    check_out(out)
    header = sums_header_for(catalog.root, commit, sign_key, dirty=dirty)
    first, warnings = first_published_commits(catalog.root, commit)
    content = content_of(catalog, vocabulary, vocabulary_file.model.spec, first, status)
    content.dirty = dirty
    return write_content(
        content, out, commit, base, warnings, extra, header=header, sign_key=sign_key
    )


def write_content(
    content: SiteContent,
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
        writer.folders(site_path("images", name) for name in content.by_name)
        _write_documents(content, staging, commit, base)
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
        dirty=content.dirty,
    )


def _write_documents(
    content: SiteContent, staging: Staging, commit: str | None, base: str | None
) -> None:
    """Every document of the content, each kind by its own path; a file the sites hold already
    is kept or linked by its hash, else its bytes are made and written."""
    index = content.index_packed(commit, base)
    staging.write_packed("index.json", index.file, index.packed)
    write = staging.write
    for relative, data, sha256 in content.encoded_versions():
        write(relative, data, sha256)
    referred = content.referred_versions()
    # Handed over all in one call; those neither site holds come back, to be written.
    for i in staging.keep_all(referred.files) if referred.files else ():
        write(referred.files[i][0], content.version(referred.entries[i]), None)
    keep = staging.keep
    for file in content.other_files(commit, base):
        kept = file.kept
        if kept is not None and keep(file.path, kept.sha256, kept.size, kept.gz_size):
            continue
        write(file.path, file.make(), None)


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


def first_published_commits(
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


def uncommitted_catalog_files(root: Path) -> list[str]:
    """The files the build reads (the vocabulary, registries/NAME.yaml, images/NAME/VERSION.yaml)
    that are not what HEAD holds: added, changed or deleted, staged or not. Other files, in the
    catalog folder or elsewhere in the work tree, do not change what is built."""
    read = re.compile(
        rf"{re.escape(VOCABULARY_FILE)}|{REGISTRIES_DIR}/[^/]+\.yaml|{IMAGES_DIR}/[^/]+/[^/]+\.yaml"
    )
    return sorted(path for path in changed_files(root) if read.fullmatch(path))


def check_out(out: Path) -> None:
    """Refuse to replace anything but a folder that is empty or holds an earlier site."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"--out {out} exists and is not a folder; pick another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_FILE).is_file():
        raise UsageError(
            f"--out {out} is a folder that holds no index ({SITE_FILE} is missing); refusing "
            "to replace it: remove it or pick another --out"
        )
