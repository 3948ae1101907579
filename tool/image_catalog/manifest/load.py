"""The one place that reads and writes YAML.

Reading takes the fast path: plain block YAML, which is what catalog files hold, is read line by
line (`fastyaml`); anything else goes to PyYAML's C parser with a constructor that refuses
duplicate keys, anchors and aliases (so an alias bomb stops at its first alias) and non-string
keys. Line numbers are only needed for files that have problems, so `Locator` parses those again
with ruamel.yaml's round-trip loader, which keeps positions; writing also goes through round-trip
so output stays stable and readable.
"""

from __future__ import annotations

import functools
import gc
import io
import json
import multiprocessing
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from image_catalog.errors import CatalogError
from image_catalog.fsutil import NotAFile, read_regular_file
from image_catalog.manifest.fastyaml import parse_block_mapping
from image_catalog.manifest.fieldpath import FieldPath, format_path
from image_catalog.manifest.workers import start_worker

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


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
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
            return _plain_tag(value)  # plain scalars, keys above all, repeat across files
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=65536)
def _plain_tag(value: str) -> str:
    tag = str(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]
    if tag == _STR and _YAML12_INT.fullmatch(value):
        return _INT  # 0o17 and 0x1f are numbers to editors: refuse them as numbers
    if tag == _BOOL and value.lower() not in ("true", "false"):
        # YAML 1.1 reads yes/no/on/off as booleans, editors (YAML 1.2) and JSON as text; text it
        # is, so `verified: no` is refused rather than read one way here and another there.
        return _STR
    return tag


_BOOL = "tag:yaml.org,2002:bool"
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
            if node.tag in (_STR, _TIMESTAMP):
                # A time stays text, as in JSON and for editors; the model parses it (YAML 1.1's
                # own reading crashes on 2026-02-30 and drops nothing else of use).
                return node.value
            if node.tag == _INT:
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
            if key_node.tag != _STR:
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
    quick = parse_block_mapping(text, _plain_tag)
    if quick is not None:
        return quick
    return _parse_full(text, display)


def _parse_full(text: str, display: str) -> dict[str, Any]:
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


# --- round trip: positions and writing -------------------------------------------------------


class _PositionsConstructor(RoundTripConstructor):
    """Round-trip reading for positions only: times stay text, as the fast loader keeps them."""


_PositionsConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str
)


def _round_trip(positions: bool = False) -> YAML:
    rt = YAML(typ="rt")
    if positions:
        rt.Constructor = _PositionsConstructor
    rt.allow_duplicate_keys = False
    rt.width = 4096  # never fold a long reference over two lines
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.preserve_quotes = True
    return rt


class Locator:
    """Finds where a field path sits in a file; parses each file at most once."""

    def __init__(self, texts: Mapping[Path, str] | None = None) -> None:
        """`texts` stand in for files not written yet (a manifest about to be published)."""
        self._trees: dict[str, Any] = {}
        for file, text in (texts or {}).items():
            self._trees[str(file)] = _positions(text)

    def position(self, file: Path, path: Sequence[str | int]) -> Position | None:
        key = str(file)
        if key not in self._trees:
            try:
                text = read_text(file)
            except LoadError:  # the problem itself was reported when the file was loaded
                self._trees[key] = None
            else:
                self._trees[key] = _positions(text)
        return locate(self._trees[key], path)


def _positions(text: str) -> Any:
    """A round-trip tree of the text, which knows where each key and item sits; None when the
    text is not YAML a catalog file may hold."""
    try:
        return _round_trip(positions=True).load(text)
    except (ValueError, RecursionError, RuamelYAMLError):
        return None


def locate(tree: Any, path: Sequence[str | int]) -> Position | None:
    """The position of the deepest part of `path` that exists in a round-trip tree."""
    if not isinstance(tree, CommentedMap | CommentedSeq):
        return None
    best = Position(1, 1)
    node: Any = tree
    for part in path:
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            line, column = node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, column = node.lc.item(part)
            node = node[part]
        else:
            break
        best = Position(line + 1, column + 1)
    return best


def data_path(loc: Sequence[str | int], data: Any) -> FieldPath:
    """Drop the parts of a validation location that are not in the data (union member names)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if part == "[key]":  # pydantic's marker for "the key itself" in a dict of constrained keys
            continue
        found, child = _child(node, part)
        if not found and i + 1 < len(loc) and _child(node, loc[i + 1])[0]:
            continue
        out.append(part)
        node = child
    return tuple(out)


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, Mapping) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def dump_document(data: Mapping[str, Any], header: str | None = None) -> str:
    """Render a mapping as round-trip YAML, with an optional first comment line."""
    stream = io.StringIO()
    if header:
        stream.write(header.rstrip("\n") + "\n")
    _round_trip().dump(_to_commented(data), stream)
    return stream.getvalue()


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def dump_plain(data: Mapping[str, Any], header: str | None = None) -> str:
    """Render generated data nobody edits (e.g. Kubernetes resources) as block YAML, fast.

    Keys keep their order. Every string is written double-quoted, JSON style, so no YAML reader
    (1.1 or 1.2) takes `true`, `1.0` or `0755` for anything but text; a plain word as a key stays
    plain. Mappings, lists, strings, booleans and integers only. Same data, same text.
    """
    lines = [header.rstrip()] if header else []
    _plain_mapping(data, "", lines)
    return "\n".join(lines) + "\n"


def _plain_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as plain YAML")


def _plain_key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _plain_mapping(data: Mapping[str, Any], indent: str, lines: list[str]) -> None:
    for key, value in data.items():
        _plain_item(f"{indent}{_plain_key(key)}:", value, indent + "  ", lines)


def _plain_item(prefix: str, value: Any, indent: str, lines: list[str]) -> None:
    """`prefix` (a key with its colon, or a list dash) followed by `value`."""
    if isinstance(value, Mapping) and value:
        lines.append(prefix)
        _plain_mapping(value, indent, lines)
    elif isinstance(value, list | tuple) and value:
        lines.append(prefix)
        for item in value:
            if isinstance(item, Mapping) and item:
                first, *rest = item.items()
                _plain_item(f"{indent}- {_plain_key(first[0])}:", first[1], indent + "    ", lines)
                _plain_mapping(dict(rest), indent + "  ", lines)
            else:
                _plain_item(f"{indent}-", item, indent + "  ", lines)
    elif isinstance(value, Mapping):
        lines.append(f"{prefix} {{}}")
    elif isinstance(value, list | tuple):
        lines.append(f"{prefix} []")
    else:
        lines.append(f"{prefix} {_plain_scalar(value)}")


def _to_commented(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _to_commented(v)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(_to_commented(v) for v in value)
    if isinstance(value, str) and _resolves_to(value) != _STR:
        # ruamel writes YAML 1.2, where `yes` and `on` are text; the fast YAML 1.1 reader would
        # read them as booleans, so quote every string that 1.1 would not read back as a string.
        return SingleQuotedScalarString(value)
    return value


_RESOLVER = yaml.resolver.Resolver()


def _resolves_to(text: str) -> str:
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]
