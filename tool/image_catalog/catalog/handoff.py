"""The hand-off of a pull request's catalog files from the workflow that has no secrets to the
workflow that has them.

The `pull_request` workflow runs the pull request's own code, so everything it uploads is data an
attacker may have shaped: a zip can hold absolute names, `..`, symlinks, devices, huge or countless
files. `unpack` copies such an artifact (the zip as GitHub serves it, or a folder) into a catalog
checkout only when every entry is a plain catalog file (`vocabulary.yaml`, `registries/NAME.yaml`,
`images/NAME/VERSION.yaml`) under the artifact's `catalog/`, within the size and count bounds;
otherwise it copies nothing at all. A zip is read entry by entry, never extracted by its names.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from image_catalog.errors import CatalogError
from image_catalog.fsutil import atomic_write_bytes

ROOT = "catalog"
MAX_FILES = 2000
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 32 << 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_LAYOUTS = (("vocabulary.yaml",), ("registries", "*"), ("images", "*", "*"))
_WHERE = "vocabulary.yaml, registries/NAME.yaml or images/NAME/VERSION.yaml under catalog/"


class HandoffRefused(CatalogError):
    """The artifact holds something that is not plain catalog data; nothing was copied."""


@dataclass(frozen=True)
class Limits:
    files: int = MAX_FILES
    file_bytes: int = MAX_FILE_BYTES
    total_bytes: int = MAX_TOTAL_BYTES


def unpack(artifact: Path, catalog: Path, limits: Limits = Limits()) -> list[str]:
    """Copy the artifact's `catalog/**` over `catalog`; the catalog-relative paths, sorted."""
    if not catalog.is_dir() or catalog.is_symlink():
        raise HandoffRefused(f"{catalog}: not a catalog folder")
    entries = _zip_entries(artifact, limits) if artifact.is_file() else _folder_entries(artifact)
    files: dict[str, bytes] = {}
    total = 0
    for relative, read in entries:
        if relative in files:
            raise HandoffRefused(f"{artifact}: {ROOT}/{relative} appears twice")
        if len(files) >= limits.files:
            raise HandoffRefused(f"{artifact}: more than {limits.files} files")
        data = read(limits.file_bytes)
        total += len(data)
        if total > limits.total_bytes:
            raise HandoffRefused(f"{artifact}: more than {limits.total_bytes} bytes in all")
        files[relative] = data
    for relative, data in sorted(files.items()):
        target = catalog.joinpath(*PurePosixPath(relative).parts)
        for below in [target, *target.parents]:
            if below == catalog:
                break
            if below.is_symlink():
                raise HandoffRefused(f"{below}: a symlink in the catalog checkout")
        atomic_write_bytes(target, data)
    return sorted(files)


class _Reader:
    """Reads one entry's bytes, refusing it past a size limit."""

    def __init__(self, shown: str, source: Path | tuple[zipfile.ZipFile, zipfile.ZipInfo]) -> None:
        self.shown = shown
        self.source = source

    def __call__(self, limit: int) -> bytes:
        if isinstance(self.source, Path):
            data = _read_file(self.source, self.shown, limit)
        else:
            archive, info = self.source
            if info.file_size > limit:
                raise HandoffRefused(f"{self.shown}: larger than {limit} bytes")
            try:
                with archive.open(info) as stream:
                    data = stream.read(limit + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
                raise HandoffRefused(f"{self.shown}: cannot be read ({exc})") from None
        if len(data) > limit:
            raise HandoffRefused(f"{self.shown}: larger than {limit} bytes")
        return data


def _catalog_path(name: str) -> str | None:
    """The catalog-relative path of an artifact entry `catalog/...`; None for a folder entry."""
    shown = name
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise HandoffRefused(f"{shown!r}: an absolute or non-POSIX name")
    is_folder = name.endswith("/")
    parts = name.rstrip("/").split("/")
    for part in parts:
        if part in ("", ".", "..") or not _NAME.match(part):
            raise HandoffRefused(f"{shown!r}: {part!r} is not a catalog file name")
    if parts[0] != ROOT:
        raise HandoffRefused(f"{shown!r}: outside {ROOT}/; only {_WHERE} is accepted")
    inside = tuple(parts[1:])
    if is_folder:
        if len(inside) > 2:
            raise HandoffRefused(f"{shown!r}: folders nested too deep for a catalog")
        return None
    if not inside[-1:] or not inside[-1].endswith(".yaml") or not _in_layout(inside):
        raise HandoffRefused(f"{shown!r}: not a catalog file; only {_WHERE} is accepted")
    return "/".join(inside)


def _in_layout(parts: tuple[str, ...]) -> bool:
    return any(
        len(parts) == len(layout)
        and all(p in ("*", part) for p, part in zip(layout, parts, strict=True))
        for layout in _LAYOUTS
    )


def _zip_entries(artifact: Path, limits: Limits) -> Iterator[tuple[str, _Reader]]:
    try:
        archive = zipfile.ZipFile(artifact)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HandoffRefused(f"{artifact}: not a zip archive ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > 4 * limits.files:
            raise HandoffRefused(f"{artifact}: more than {4 * limits.files} entries")
        for info in infos:
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise HandoffRefused(f"{info.filename!r}: {_kind(kind)}; only plain files")
            relative = _catalog_path(info.filename)
            if relative is not None:
                yield relative, _Reader(f"{ROOT}/{relative}", (archive, info))


def _folder_entries(artifact: Path) -> Iterator[tuple[str, _Reader]]:
    pending = [""]
    while pending:
        folder = pending.pop()
        here = artifact / folder if folder else artifact
        try:
            names = sorted(os.listdir(here))
        except OSError as exc:
            raise HandoffRefused(f"{here}: cannot be read ({exc.strerror})") from None
        for name in names:
            entry = f"{folder}{name}"
            mode = os.lstat(here / name).st_mode
            if stat.S_ISDIR(mode):
                _catalog_path(entry + "/")
                pending.append(entry + "/")
            elif stat.S_ISREG(mode):
                relative = _catalog_path(entry)
                assert relative is not None
                yield relative, _Reader(f"{ROOT}/{relative}", here / name)
            else:
                raise HandoffRefused(f"{entry!r}: {_kind(stat.S_IFMT(mode))}; only plain files")


def _read_file(path: Path, shown: str, limit: int) -> bytes:
    """The file's bytes, opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise HandoffRefused(f"{shown}: cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise HandoffRefused(f"{shown}: not a plain file")
        return stream.read(limit + 1)


def _kind(kind: int) -> str:
    if kind == stat.S_IFLNK:
        return "a symlink"
    if kind == stat.S_IFIFO:
        return "a FIFO"
    if kind == stat.S_IFSOCK:
        return "a socket"
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        return "a device"
    return "not a plain file"
