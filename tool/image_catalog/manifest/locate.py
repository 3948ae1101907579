"""Where a field sits in a catalog file, for problems that name a field path.

Only files with problems need positions, so the fast readers keep none; such a file is parsed
again here with ruamel.yaml's round-trip loader, which knows the line and column of every key and
item, at most once per file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError as RuamelYAMLError

from image_catalog.manifest.dump import round_trip_yaml
from image_catalog.manifest.fieldpath import FieldPath
from image_catalog.manifest.load import LoadError, Position, read_text


class _PositionsConstructor(RoundTripConstructor):
    """Round-trip reading for positions only: times stay text, as the fast loader keeps them."""


_PositionsConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str
)


def _positions_yaml() -> YAML:
    rt = round_trip_yaml()
    rt.Constructor = _PositionsConstructor
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
        return _positions_yaml().load(text)
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
