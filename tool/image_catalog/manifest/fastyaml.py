"""A quick reader for the plain block YAML that catalog files are written in.

Catalog files are block mappings and block sequences of one-line scalars: what `dump_document` and
`dump_plain` write and what people write by hand. This reader goes through such a text line by line
and builds the same data the full reader (PyYAML's C parser and the lean builder in `load`) would,
several times faster. It is sure of a small subset only and declines everything else by returning
None: flow collections other than `[]` and `{}`, anchors, aliases, tags, block scalars, multi-line
scalars, directives, document markers other than a first `---`, tabs and control characters,
quoted keys, duplicate keys, deep nesting, escapes it does not know and every plain scalar whose
YAML 1.1 reading is not plain text, a decimal integer, true/false or null. The caller then reads
the text with the full reader, which gives the same data or the located error. This reader never
reports an error itself.

Plain scalars are resolved by the same function the full reader uses (`plain_tag`), so the two
agree on what is a number, a boolean, a time or text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from image_catalog.manifest.yamltags import BOOL_TAG, INT_TAG, NULL_TAG, STR_TAG, TIMESTAMP_TAG

MAX_NESTING = 32  # the full reader refuses beyond 64; anything near that is its business
MAX_KEY = 128  # YAML caps implicit keys at 1024 characters; real keys are short

# Characters this reader is sure of: printable ASCII and printable non-ASCII of the Basic
# Multilingual Plane, without the no-break space, YAML's line breaks (U+0085, U+2028, U+2029), the
# byte order mark and the non-characters U+FFFE and U+FFFF. No tab, no carriage return.
_ASCII = bytes([0x0A, *range(0x20, 0x7F)])
_ODD_CHAR = re.compile(r"[^\n\x20-\x7e\xa1-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")

# Every line: its indent, a sequence dash, a key with its colon, and the rest.
_LINE = re.compile(r"^( *)(-(?= |$) *)?(?:([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +|$))?(.*)$", re.M)
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'(?: +#.*| *)$")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(?: +#.*| *)$')
_EMPTY_COLLECTION = re.compile(r"(\[\]|\{\})(?: +#.*| *)$")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|(.))")
_ESCAPED = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}

# First characters of plain scalars that YAML 1.1 may read as something other than text (the
# first characters PyYAML's resolver looks up); a plain scalar starting otherwise is text.
_MAYBE_NOT_TEXT = frozenset("yYnNtTfFoO-+0123456789.<~=")
# Characters that cannot start a plain scalar (or this reader does not take them there).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_MAYBE_NOT_PLAIN_TEXT = _MAYBE_NOT_TEXT | _INDICATORS
_NONZERO_DIGITS = frozenset("123456789")


class _Declined(Exception):
    """The text is outside what this reader is sure of."""


def parse_block_mapping(text: str, plain_tag: Callable[[str], str]) -> dict[str, Any] | None:
    """The mapping in `text`, or None when this reader is not sure of the text.

    `plain_tag` resolves a plain scalar to its YAML tag, as the full reader does.
    """
    if text.isascii():
        if text.encode("ascii").translate(None, _ASCII):  # what is left is a control character
            return None
    elif _ODD_CHAR.search(text):
        return None
    try:
        found = _read(text, plain_tag)
    except _Declined:
        return None
    return found if type(found) is dict else None  # nothing, or a list: not for this reader


def _read(text: str, plain_tag: Callable[[str], str]) -> Any:
    """The document in `text` (any YAML value), when this reader is sure of every line."""
    top: list[Any] = [None]  # holds the document
    # The collection being filled, its indent and whether it is a sequence at its key's indent;
    # the collections around it, innermost last.
    node: Any
    node, indent_of_node, indentless = top, -1, False
    stack: list[tuple[Any, int, bool]] = []
    # A key or item whose value starts on a later line: (container, key or index, its indent).
    pending: tuple[Any, Any, int] | None = (top, 0, -1)
    started = False  # met `---`
    for spaces, dash, key, rest in _LINE.findall(text):
        if not dash and not key:
            if not rest or rest[0] == "#":
                continue  # a blank line or a comment
            if rest == "---" and not spaces and top[0] is None and not started:
                started = True  # the start of the document, before it
                continue
            raise _Declined  # a scalar on a line of its own, a quoted key, `---`, `? `, ...
        indent = len(spaces)
        opened = False
        if pending is not None:
            (parent, slot, parent_indent), pending = pending, None
            # A sequence that is a mapping's value may start at the key's own indent.
            flush = indent == parent_indent and dash and type(parent) is dict
            if indent > parent_indent or flush:  # else the value was empty: its null stays
                child: Any = [] if dash else {}
                parent[slot] = child
                stack.append((node, indent_of_node, indentless))
                node, indent_of_node, indentless = child, indent, flush
                if len(stack) > MAX_NESTING:
                    raise _Declined
                opened = True
        if not opened and (indent != indent_of_node or (indentless and not dash)):
            while indent < indent_of_node or (indentless and indent == indent_of_node and not dash):
                node, indent_of_node, indentless = stack.pop()
            if indent != indent_of_node:
                raise _Declined  # a continuation line, or indentation that matches no level
        if dash:
            if type(node) is not list:
                raise _Declined
            while True:  # `- value`, `- key: value`, `- - value`
                column = indent + len(dash)
                if key:
                    child = {}
                elif not rest or rest[0] == "#":
                    node.append(None)
                    pending = (node, len(node) - 1, indent)
                    break
                elif rest[0] == "-" and (len(rest) == 1 or rest[1] == " "):
                    child = []
                else:
                    node.append(_scalar(rest, plain_tag))
                    break
                node.append(child)
                stack.append((node, indent_of_node, indentless))
                node, indent_of_node, indentless = child, column, False
                if len(stack) > MAX_NESTING:
                    raise _Declined
                if key:
                    break
                match = _LINE.match(rest)
                assert match is not None  # the pattern matches any line
                indent, dash, key, rest = column, match[2], match[3] or "", match[4]
            if not key:
                continue
        elif type(node) is not dict:
            raise _Declined
        if key in node or len(key) > MAX_KEY:
            raise _Declined
        if key[0] in _MAYBE_NOT_TEXT and plain_tag(key) != STR_TAG:
            raise _Declined
        if not rest or rest[0] == "#":
            node[key] = None
            pending = (node, key, indent_of_node)
        elif rest[0] in _MAYBE_NOT_PLAIN_TEXT or " #" in rest or ": " in rest or rest[-1] in " :":
            node[key] = _scalar(rest, plain_tag)
        else:
            node[key] = rest  # the common case: plain text
    return top[0]


def _scalar(text: str, plain_tag: Callable[[str], str]) -> Any:
    """The value of a one-line scalar (`text` starts at its first character)."""
    first = text[0]
    if first == "'":
        match = _SINGLE_QUOTED.match(text)
        if match is None:
            raise _Declined
        return match[1].replace("''", "'")
    if first == '"':
        match = _DOUBLE_QUOTED.match(text)
        if match is None:
            raise _Declined
        value = match[1]
        return _ESCAPE.sub(_unescape, value) if "\\" in value else value
    if first in _INDICATORS and not (first in "-?:" and len(text) > 1 and text[1] != " "):
        match = _EMPTY_COLLECTION.match(text)  # `[]` and `{}` are the only flow collections read
        if match is None:
            raise _Declined
        return [] if first == "[" else {}
    cut = text.find(" #")
    value = (text if cut < 0 else text[:cut]).rstrip(" ")
    if ": " in value or value[-1] == ":":
        raise _Declined  # an error to YAML
    if first not in _MAYBE_NOT_TEXT:
        return value
    if first in _NONZERO_DIGITS and len(value) <= 18 and value.isdigit() and value.isascii():
        return int(value)  # sizes: YAML 1.1 reads only [1-9][0-9]* of these patterns, as int
    tag = plain_tag(value)
    if tag in (STR_TAG, TIMESTAMP_TAG):
        return value  # times stay text, as the full reader keeps them
    if tag == INT_TAG:
        if value.isdigit() and value.isascii() and len(value) <= 18 and value[0] != "0":
            return int(value)
        if value == "0":
            return 0
        raise _Declined  # signs, leading zeros, hex, octal, 1_000, base 60, long numbers
    if tag == BOOL_TAG:
        return value.lower() == "true"  # plain_tag leaves only true and false as booleans
    if tag == NULL_TAG:
        return None
    raise _Declined  # floats, merge keys, `=`


def _unescape(match: re.Match[str]) -> str:
    if match[1] is not None:
        code = int(match[1], 16)
        if 0xD800 <= code <= 0xDFFF:
            raise _Declined  # a surrogate: an error to YAML
        return chr(code)
    escaped = _ESCAPED.get(match[2])
    if escaped is None:
        raise _Declined
    return escaped
