"""Reading a catalog folder: the vocabulary, the registries and every image manifest.

Loading never stops at the first bad file: each file that cannot be read or does not fit its schema
becomes a `Problem`, and the rest of the catalog is still loaded so that every problem is reported.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from image_catalog.catalog.problems import Problem, from_validation_error
from image_catalog.errors import UsageError
from image_catalog.fsutil import link_message
from image_catalog.manifest.declarations import Registry, VocabularyFile
from image_catalog.manifest.load import LoadError, load_mapping, load_mappings
from image_catalog.manifest.model import CatalogImage
from image_catalog.manifest.vocabulary import Vocabulary

VOCABULARY_FILE = "vocabulary.yaml"
IMAGES_DIR = "images"
REGISTRIES_DIR = "registries"

M = TypeVar("M", bound=BaseModel)
FileStatus = tuple[int, int, int, int]  # see `_status`


@dataclass
class Loaded(Generic[M]):
    """A validated document with where it came from."""

    model: M
    file: str
    source: Path
    data: dict[str, Any]


@dataclass
class Catalog:
    root: Path
    vocabulary: Vocabulary | None = None
    vocabulary_file: Loaded[VocabularyFile] | None = None
    registries: list[Loaded[Registry]] = field(default_factory=list)
    images: list[Loaded[CatalogImage]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    image_paths: list[str] = field(default_factory=list)
    file_stats: dict[str, FileStatus] = field(default_factory=dict)  # listed YAML files

    def ids_on_disk(self) -> set[str]:
        """NAME@VERSION of every image file, valid or not, from its path."""
        return {entry_id(path) for path in self.image_paths}

    def registry_for_host(self, host: str) -> Registry | None:
        for loaded in self.registries:
            if loaded.model.spec.host == host:
                return loaded.model
        return None


def entry_id(path: str) -> str:
    """NAME@VERSION of the entry file at `.../NAME/VERSION.yaml` ('/' separators)."""
    folder, _, file = path.rpartition("/")
    return f"{folder.rpartition('/')[2]}@{file.removesuffix('.yaml')}"


def display_path(root: Path, relative: str) -> str:
    return os.path.join(str(root), relative) if str(root) != "." else relative


def load_catalog(root: Path) -> Catalog:
    """Load everything under `root`, collecting problems instead of raising them."""
    catalog = load_catalog_files(root)
    context = {"vocabulary": catalog.vocabulary}
    relatives = catalog.image_paths
    files = [(catalog.root / r, display_path(catalog.root, r)) for r in relatives]
    for relative, loaded in zip(relatives, load_mappings(files), strict=True):
        image = accept(catalog, relative, loaded, CatalogImage, "CatalogImage", context)
        if image is not None:
            catalog.images.append(image)
    return catalog


def load_catalog_files(root: Path) -> Catalog:
    """Load the vocabulary and the registries, and list the image files without reading them."""
    if not root.is_dir():
        raise UsageError(f"{root}: no such catalog folder (pass --catalog DIR)")
    catalog = Catalog(root=root)
    vocabulary_doc = _load(catalog, VOCABULARY_FILE, VocabularyFile, "Vocabulary")
    if vocabulary_doc is not None:
        catalog.vocabulary_file = vocabulary_doc
        catalog.vocabulary = vocabulary_doc.model.lookups()
    context = {"vocabulary": catalog.vocabulary}
    for relative in _files(catalog, REGISTRIES_DIR, depth=1):
        registry = _load(catalog, relative, Registry, "Registry", context)
        if registry is not None:
            catalog.registries.append(registry)
    catalog.image_paths = _files(catalog, IMAGES_DIR, depth=2)
    return catalog


def _files(catalog: Catalog, folder: str, depth: int) -> list[str]:
    """Paths of the YAML files exactly `depth` below `folder`; misplaced files are problems.

    The files of a folder come before its subfolders, each in name order. The status of each
    file (`os.lstat`) is kept in `catalog.file_stats`: read from the listing, it costs no read
    of the file, and lets a cache of earlier checks know the files that did not change.
    """
    base = catalog.root / folder
    found: list[str] = []
    if base.is_symlink():
        _refuse_link(catalog, folder)
    elif base.is_dir():
        _walk(catalog, str(base), folder, 1, depth, found)
    return found


def _walk(
    catalog: Catalog, path: str, relative: str, level: int, depth: int, found: list[str]
) -> None:
    with os.scandir(path) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    folders = []
    for entry in entries:
        name, inside = entry.name, f"{relative}/{entry.name}"
        # A link is never followed (it may point outside the catalog, at a device or in a
        # circle) and never skipped in silence.
        if entry.is_symlink():
            _refuse_link(catalog, inside)
        elif not _plain_name(name):
            _refuse_name(catalog, inside, name)
        elif name.startswith("."):
            continue
        elif entry.is_dir(follow_symlinks=False):
            folders.append(entry)
        elif level == depth and name.endswith(".yaml"):
            with contextlib.suppress(OSError):  # gone since listed: reported when it is read
                catalog.file_stats[inside] = _status(entry.stat(follow_symlinks=False))
            found.append(inside)
        else:
            expected = "images/NAME/VERSION.yaml" if depth == 2 else "registries/NAME.yaml"
            catalog.problems.append(
                Problem(
                    display_path(catalog.root, inside),
                    f"unexpected file; catalog files live at {expected}",
                    code="layout",
                )
            )
    for entry in folders:
        _walk(catalog, entry.path, f"{relative}/{entry.name}", level + 1, depth, found)


def _status(info: os.stat_result) -> FileStatus:
    """What changes whenever a file's content can have: size, times (ctime cannot be set back)
    and inode (a file replaced by a rename)."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


# File and folder names become names, versions, paths and URLs: ASCII only, so that a look-alike
# letter (Cyrillic U+0435 for 'e'), an invisible one or a line break cannot hide in one.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _plain_name(name: str) -> bool:
    return _PLAIN_NAME.fullmatch(name) is not None


def _refuse_name(catalog: Catalog, relative: str, name: str) -> None:
    odd = next(ch for ch in name if not _PLAIN_NAME.fullmatch(ch))
    catalog.problems.append(
        Problem(
            display_path(catalog.root, relative),
            f"the name {name!a} holds U+{ord(odd):04X} ({unicodedata.name(odd, 'unnamed')}); "
            "file and folder names are ASCII letters, digits, '.', '_' and '-'",
            code="layout",
        )
    )


def _refuse_link(catalog: Catalog, relative: str) -> None:
    catalog.problems.append(
        Problem(
            display_path(catalog.root, relative),
            link_message(catalog.root / relative),
            code="layout",
        )
    )


def _load(
    catalog: Catalog,
    relative: str,
    model: type[M],
    kind: str,
    context: dict[str, Any] | None = None,
) -> Loaded[M] | None:
    try:
        data: dict[str, Any] | LoadError = load_mapping(
            catalog.root / relative, display_path(catalog.root, relative)
        )
    except LoadError as exc:
        data = exc
    return accept(catalog, relative, data, model, kind, context)


def accept(
    catalog: Catalog,
    relative: str,
    data: dict[str, Any] | LoadError,
    model: type[M],
    kind: str,
    context: dict[str, Any] | None,
) -> Loaded[M] | None:
    """Validate one loaded file against its kind's model, or record why it cannot be used.

    `data` is what reading the file gave (`LoadError` when it could not be read or parsed); the
    problems go to `catalog.problems`, and the file counts in `catalog.files_read`.
    """
    source = catalog.root / relative
    shown = display_path(catalog.root, relative)
    catalog.files_read += 1
    if isinstance(data, LoadError):
        position = data.position
        line, column = (position.line, position.column) if position else (None, None)
        catalog.problems.append(Problem(shown, data.message, data.path, line, column, code="yaml"))
        return None
    found = data.get("kind")
    if found != kind:
        message = (
            "required field is missing"
            if found is None
            else f"{found!r} is the wrong kind here: files at this place are {kind}"
        )
        catalog.problems.append(Problem(shown, message, ("kind",), code="kind", source=source))
        return None
    try:
        validated = model.model_validate(data, context=context)
    except ValidationError as exc:
        catalog.problems.extend(from_validation_error(exc, shown, data, source))
        return None
    return Loaded(validated, shown, source, data)
