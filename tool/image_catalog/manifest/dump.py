"""Writing catalog files: round-trip YAML for what people edit, plain block YAML for the rest.

Both write only what the readers (`load.py`, whose fast path is `fastyaml`) read back as the same
data: a string YAML 1.1 would take for something else is quoted. Same data, same text.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from image_catalog.manifest.yamltags import STR_TAG, yaml11_tag


def round_trip_yaml() -> YAML:
    """ruamel.yaml's round-trip reader and writer, set as catalog files are written."""
    rt = YAML(typ="rt")
    rt.allow_duplicate_keys = False
    rt.width = 4096  # never fold a long reference over two lines
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.preserve_quotes = True
    return rt


def dump_document(data: Mapping[str, Any], header: str | None = None) -> str:
    """Render a mapping as round-trip YAML, with an optional first comment line."""
    stream = io.StringIO()
    if header:
        stream.write(header.rstrip("\n") + "\n")
    round_trip_yaml().dump(_to_commented(data), stream)
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
    if isinstance(value, str) and yaml11_tag(value) != STR_TAG:
        # ruamel writes YAML 1.2, where `yes` and `on` are text; the fast YAML 1.1 reader would
        # read them as booleans, so quote every string that 1.1 would not read back as a string.
        return SingleQuotedScalarString(value)
    return value
