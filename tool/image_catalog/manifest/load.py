"""The one place that reads YAML (writing is `dump.py`, positions of fields `locate.py`).

Reading takes the fast path: plain block YAML, which is what catalog files hold, is read line by
line (`fastyaml`); anything else goes to PyYAML's C parser with a constructor that refuses
duplicate keys, anchors and aliases (so an alias bomb stops at its first alias) and non-string
keys. Line numbers are only needed for files that have problems, so `locate.Locator` parses those
again with ruamel.yaml's round-trip loader, which keeps positions; writing also goes through
round-trip so output stays stable and readable.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from image_catalog.errors import CatalogError
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.dump import dump_document, dump_plain
from image_catalog.manifest.fastyaml import parse_block_mapping
from image_catalog.manifest.fieldpath import FieldPath, format_path
from image_catalog.manifest.workers import start_worker
from image_catalog.manifest.yamltags import BOOL_TAG, INT_TAG, STR_TAG, TIMESTAMP_TAG, yaml11_tag

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64  # far beyond any catalog file; keeps a hostile file from exhausting the stack

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml: slower, same results
    from yaml.parser import Parser as _Parser  # type: ignore[assignment]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a text file."""

    line: int
    column: int


class LoadError(CatalogError):
    """A file that cannot be read as one YAML mapping; carries where the problem is."""

    def __init__(
        self,
        file: str,
        message: str,
        position: Position | None = None,
        path: FieldPath = (),
    ) -> None:
        self.file = file
        self.message = message
        self.position = position
        self.path = path
        where = f"{file}:{position.line}:{position.column}" if position else file
        field = f" {format_path(path)}:" if path else ""
        super().__init__(f"{where}:{field} {message}")

    def __reduce__(
        self,
    ) -> tuple[type[LoadError], tuple[str, str, Position | None, FieldPath]]:
        # Travels back from the worker processes of load_mappings.
        return (LoadError, (self.file, self.message, self.position, self.path))


_SCALARS = {
    "tag:yaml.org,2002:null": yaml.constructor.SafeConstructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": yaml.constructor.SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": yaml.constructor.SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": yaml.constructor.SafeConstructor.construct_yaml_float,
}


class _Composer(_Parser, yaml.resolver.Resolver):
    """The C parser and composer with the standard YAML 1.1 tag resolution."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.resolver.Resolver.__init__(self)

    # The composer calls these three for every node; catalogs have tens of thousands of files.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers are registered: nothing to track

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return plain_tag(value)  # plain scalars, keys above all, repeat across files
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=65536)
def plain_tag(value: str) -> str:
    """The tag of a plain scalar as catalog files are read: YAML 1.1's, except that what editors
    (YAML 1.2) and JSON read otherwise is neither a number nor a boolean for the readers here."""
    tag = yaml11_tag(value)
    if tag == STR_TAG and _YAML12_INT.fullmatch(value):
        return INT_TAG  # 0o17 and 0x1f are numbers to editors: refuse them as numbers
    if tag == BOOL_TAG and value.lower() not in ("true", "false"):
        # YAML 1.1 reads yes/no/on/off as booleans, editors (YAML 1.2) and JSON as text; text it
        # is, so `verified: no` is refused rather than read one way here and another there.
        return STR_TAG
    return tag


# Numbers in catalog files are sizes and counts: plain decimal, at most 19 digits (int64). YAML 1.1
# also reads 0x1F, 017 (octal), 1_000 and 1:20 (base 60) as integers; JSON and editors do not.
_YAML12_INT = re.compile(r"[-+]?(0o[0-7]+|0x[0-9a-fA-F]+)")
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]{0,18})")


class _Refused(yaml.constructor.ConstructorError):
    """Something a catalog file must not hold, with the field path where it was met."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(None, None, message, node.start_mark)
        self.field_path: FieldPath = ()

    def inside(self, part: str | int) -> _Refused:
        """The same refusal, one level further from the top of the document."""
        self.field_path = (part, *self.field_path)
        return self


def _refuse(message: str, node: yaml.Node) -> _Refused:
    return _Refused(message, node)


class _Builder:
    """Turns composed nodes into plain data, refusing what a catalog file must not hold.

    Lean on purpose: PyYAML's generic constructor is most of the load time, and catalog files need
    only mappings with string keys, sequences and plain scalars. An alias is the same node object
    met twice, so a document with aliases (an alias bomb among them) stops at the first one.
    """

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        # No field path is kept on the way down (this runs for every node of every file); a
        # refusal collects its path on the way back up instead (`_Refused.inside`).
        if depth > MAX_DEPTH:
            raise _refuse(f"nested deeper than {MAX_DEPTH} levels; catalog files are shallow", node)
        if id(node) in self._seen:
            raise _refuse(
                "anchors and aliases are not allowed in catalog files; write the value out", node
            )
        self._seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag in (STR_TAG, TIMESTAMP_TAG):
                # A time stays text, as in JSON and for editors; the model parses it (YAML 1.1's
                # own reading crashes on 2026-02-30 and drops nothing else of use).
                return node.value
            if node.tag == INT_TAG:
                value = node.value
                if value.isdigit() and len(value) <= 18 and (value[0] != "0" or value == "0"):
                    return int(value)  # the common case, without a regular expression
                if _DECIMAL.fullmatch(value) is None:
                    raise _refuse(_number_problem(value), node)
                return int(value)
            construct = _SCALARS.get(node.tag)
            if construct is None:
                raise _refuse(f"the tag {node.tag!r} is not allowed in catalog files", node)
            return construct(self._scalars, node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _refuse(f"the tag {node.tag!r} is not allowed in catalog files", node)
            items = []
            for i, item in enumerate(node.value):
                try:
                    items.append(self.build(item, depth + 1))
                except _Refused as exc:
                    raise exc.inside(i) from None
            return items
        if isinstance(node, yaml.MappingNode) and node.tag == "tag:yaml.org,2002:map":
            return self._mapping(node, depth)
        raise _refuse(f"the tag {node.tag!r} is not allowed in catalog files", node)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _refuse("merge keys ('<<') are not allowed", key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _refuse("a mapping key must be a plain string", key_node)
            if key_node.tag != STR_TAG:
                raise _refuse(f"key {key_node.value!r} is not a string; quote it", key_node)
            key = key_node.value
            if key in out:
                raise _refuse(f"duplicate key {key!r}", key_node).inside(key)
            try:
                out[key] = self.build(value_node, depth + 1)
            except _Refused as exc:
                raise exc.inside(key) from None
        return out


def _number_problem(value: str) -> str:
    digits = value.lstrip("+-")
    if digits.isdigit() and len(digits) > 19:
        return (
            f"the number {value[:24]}{'...' if len(value) > 24 else ''} has {len(digits)} digits; "
            "numbers in catalog files fit in 63 bits"
        )
    return f"write the number {value!r} in plain decimal, or quote it if it is text"


def read_text(path: Path, display: str | None = None) -> str:
    """Read a catalog file as UTF-8 text, refusing empty, oversized and undecodable files."""
    shown = display or str(path)
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except NotAFile as exc:
        raise LoadError(shown, exc.message) from exc
    except OSError as exc:
        raise LoadError(shown, f"cannot read file: {exc.strerror or exc}") from exc
    return decode_text(data, shown)


def decode_text(data: bytes, display: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(
            display, f"input is {len(data)} bytes; catalog files are limited to {MAX_FILE_BYTES}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(
            display, f"text is not UTF-8 (byte 0x{data[exc.start]:02x})", Position(line, column)
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if not _has_content(text):
        raise LoadError(display, "file is empty; a catalog file holds one YAML mapping")
    return text


def _has_content(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped not in ("---", "..."):
            return True
    return False


def parse_mapping(text: str, display: str) -> dict[str, Any]:
    """Parse one YAML document that must be a mapping, with the fast loader."""
    # Plain block YAML, what catalog files hold, is read line by line; anything else (and every
    # file with a problem) goes through the C parser, which also says where the problem is.
    quick = parse_block_mapping(text, plain_tag)
    if quick is not None:
        return quick
    return parse_full(text, display)


def parse_full(text: str, display: str) -> dict[str, Any]:
    """Parse one YAML document that must be a mapping with the full reader (PyYAML's C parser):
    any YAML, and a located error for what a catalog file must not hold."""
    composer = _Composer(text)
    try:
        node = composer.get_single_node()
        data = None if node is None else _Builder().build(node)
    except yaml.MarkedYAMLError as exc:
        raise _load_error(display, exc) from exc
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        position = Position(before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML ({exc.reason})"
        raise LoadError(display, message, position) from exc
    except yaml.YAMLError as exc:
        raise LoadError(display, f"YAML error: {exc}") from exc
    finally:
        composer.dispose()
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        raise LoadError(display, f"the document is {kind}, not a mapping", Position(1, 1))
    return data


def _load_error(display: str, exc: yaml.MarkedYAMLError) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark else None
    problem = exc.problem or "invalid YAML"
    if isinstance(exc, yaml.composer.ComposerError) and "single document" in (exc.context or ""):
        return LoadError(
            display,
            "several YAML documents in one file; a catalog file holds exactly one",
            position,
        )
    if isinstance(exc, _Refused):
        return LoadError(display, problem, position, exc.field_path)
    if isinstance(exc, yaml.constructor.ConstructorError):
        return LoadError(display, problem, position)
    context = f" {exc.context}" if exc.context else ""
    return LoadError(display, f"YAML syntax error: {problem}{context}", position)


def load_mapping(path: Path, display: str | None = None) -> dict[str, Any]:
    shown = display or str(path)
    return parse_mapping(read_text(path, shown), shown)


# Below this many files, starting worker processes costs more than the second core saves.
PARALLEL_FROM = 2000


def load_mappings(files: Sequence[tuple[Path, str]]) -> Iterator[dict[str, Any] | LoadError]:
    """Load many files (path, display name), each as a mapping or the error that stopped it.

    Parsing is CPU-bound Python, so a large catalog is spread over the machine's cores; results
    come in order as they are ready, so the caller validates while the workers still parse.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_FROM or workers < 2:
        yield from (_load_or_error(f) for f in files)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(), gc.get_threshold()),
    ) as pool:
        yield from pool.map(_load_or_error, files, chunksize=max(64, len(files) // workers // 16))


def _load_or_error(file: tuple[Path, str]) -> dict[str, Any] | LoadError:
    try:
        return load_mapping(*file)
    except LoadError as exc:
        return exc


# Writing is `dump.py`'s; its two functions are still found here by the modules that import them.
__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "PARALLEL_FROM",
    "LoadError",
    "Position",
    "decode_text",
    "dump_document",
    "dump_plain",
    "load_mapping",
    "load_mappings",
    "parse_full",
    "parse_mapping",
    "plain_tag",
    "read_text",
]
