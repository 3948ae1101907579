"""The hand-off of a pull request's catalog files from the workflow that has no secrets to the
workflow that has them.

The `pull_request` workflow runs the pull request's own code, so everything it uploads is data an
attacker may have shaped: a zip can hold absolute names, `..`, symlinks, devices, huge or countless
files. `unpack` copies such an artifact (the zip as GitHub serves it, or a folder) into a catalog
checkout only when every entry is a plain catalog file (`vocabulary.yaml`, `registries/NAME.yaml`,
`images/NAME/VERSION.yaml`) under the artifact's `catalog/`, within the size and count bounds;
otherwise it copies nothing at all. A zip is read entry by entry, never extracted by its names.

Nothing is written before everything is checked: every entry is read and judged (its name as the
zip's header holds it, before `zipfile` cuts it at a NUL; no encrypted entry; no name that is not
valid UTF-8 or holds a character a terminal would not show), then every destination in the
checkout (no link on the way, only folders above it, a plain file or nothing at it), and only then
is any file written. Names in messages go through `text.printable`.
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
from image_catalog.text import printable

ROOT = "catalog"
MAX_FILES = 2000
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 32 << 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_LAYOUTS = (("vocabulary.yaml",), ("registries", "*"), ("images", "*", "*"))
_WHERE = "vocabulary.yaml, registries/NAME.yaml or images/NAME/VERSION.yaml under catalog/"
# General purpose flag bit 0: the entry's data is encrypted (bit 6, strong encryption, sets it too).
_ENCRYPTED = 0x1


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
        raise HandoffRefused(f"{_shown(catalog)}: not a catalog folder")
    files = _gather(artifact, limits)
    # Every destination is checked before the first write: a refusal leaves the checkout as it was.
    planned = [(_destination(catalog, relative), data) for relative, data in sorted(files.items())]
    for target, data in planned:
        atomic_write_bytes(target, data)
    return sorted(files)


def _gather(artifact: Path, limits: Limits) -> dict[str, bytes]:
    """Every catalog file of the artifact, by catalog-relative path, read within the bounds."""
    entries = _zip_entries(artifact, limits) if artifact.is_file() else _folder_entries(artifact)
    files: dict[str, bytes] = {}
    total = 0
    for relative, read in entries:
        if relative in files:
            raise HandoffRefused(f"{_shown(artifact)}: {ROOT}/{relative} appears twice")
        if len(files) >= limits.files:
            raise HandoffRefused(f"{_shown(artifact)}: more than {limits.files} files")
        data = read(limits.file_bytes)
        total += len(data)
        if total > limits.total_bytes:
            raise HandoffRefused(f"{_shown(artifact)}: more than {limits.total_bytes} bytes in all")
        files[relative] = data
    return files


def _destination(catalog: Path, relative: str) -> Path:
    """Where `relative` is written, once nothing in the checkout would turn the write elsewhere:
    no link on the way, only folders above it, a plain file or nothing at the place itself."""
    parts = PurePosixPath(relative).parts
    here = catalog
    for depth, part in enumerate(parts, start=1):
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            break  # nothing below a missing folder exists either: the write creates it
        except OSError as exc:
            raise HandoffRefused(f"{_shown(here)}: cannot be checked ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise HandoffRefused(f"{_shown(here)}: a symlink in the catalog checkout")
        if depth < len(parts) and not stat.S_ISDIR(mode):
            kind = _kind(stat.S_IFMT(mode))
            raise HandoffRefused(f"{_shown(here)}: {kind} in the catalog checkout, not a folder")
        if depth == len(parts) and not stat.S_ISREG(mode):
            kind = _kind(stat.S_IFMT(mode))
            raise HandoffRefused(
                f"{_shown(here)}: {kind} in the catalog checkout; only a plain file is replaced"
            )
    return catalog.joinpath(*parts)


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
                raise HandoffRefused(
                    f"{self.shown}: cannot be read ({printable(str(exc))})"
                ) from None
        if len(data) > limit:
            raise HandoffRefused(f"{self.shown}: larger than {limit} bytes")
        return data


def _catalog_path(name: str) -> str | None:
    """The catalog-relative path of an artifact entry `catalog/...`; None for a folder entry.

    `name` is the entry's name as the artifact holds it, before any reader shortens it."""
    shown = _entry(name)
    if "\0" in name:
        raise HandoffRefused(f"{shown}: a NUL byte in the name (a zip reader cuts the name there)")
    if not name.isprintable():
        raise HandoffRefused(f"{shown}: a control or invisible character in the name")
    if name.startswith("/") or "\\" in name:
        raise HandoffRefused(f"{shown}: an absolute or non-POSIX name")
    is_folder = name.endswith("/")
    parts = name.rstrip("/").split("/")
    for part in parts:
        if part in ("", ".", "..") or not _NAME.match(part):
            raise HandoffRefused(f"{shown}: '{printable(part)}' is not a catalog file name")
    if parts[0] != ROOT:
        raise HandoffRefused(f"{shown}: outside {ROOT}/; only {_WHERE} is accepted")
    inside = tuple(parts[1:])
    if is_folder:
        if len(inside) > 2:
            raise HandoffRefused(f"{shown}: folders nested too deep for a catalog")
        return None
    if not inside[-1:] or not inside[-1].endswith(".yaml") or not _in_layout(inside):
        raise HandoffRefused(f"{shown}: not a catalog file; only {_WHERE} is accepted")
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
    except UnicodeDecodeError as exc:
        # zipfile decodes every name flagged as UTF-8 while opening; the error holds the name.
        raw = bytes(exc.object).decode("utf-8", "backslashreplace")
        raise HandoffRefused(
            f"{_shown(artifact)}: {_entry(raw)}: the name is flagged as UTF-8 but is not"
        ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise HandoffRefused(
            f"{_shown(artifact)}: not a zip archive ({printable(str(exc))})"
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > 4 * limits.files:
            raise HandoffRefused(f"{_shown(artifact)}: more than {4 * limits.files} entries")
        for info in infos:
            # orig_filename is the header's name; `filename` is cut at a NUL.
            name = info.orig_filename
            relative = _catalog_path(name)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise HandoffRefused(f"{_entry(name)}: {_kind(kind)}; only plain files")
            if info.flag_bits & _ENCRYPTED:
                raise HandoffRefused(f"{_entry(name)}: encrypted; only plain files")
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
            raise HandoffRefused(f"{_shown(here)}: cannot be read ({exc.strerror})") from None
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
                kind = _kind(stat.S_IFMT(mode))
                raise HandoffRefused(f"{_entry(entry)}: {kind}; only plain files")


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


_KINDS = {
    stat.S_IFLNK: "a symlink",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFDIR: "a folder",
    stat.S_IFREG: "a file",
}


def _shown(path: Path | str) -> str:
    return printable(str(path))


def _entry(name: str) -> str:
    """An artifact entry's name as messages show it: quoted, every unprintable character escaped."""
    return f"'{printable(name)}'"


def _kind(kind: int) -> str:
    return _KINDS.get(kind, "not a plain file")
