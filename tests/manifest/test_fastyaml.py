"""The line reader for plain block YAML gives exactly what the full reader gives, or declines.

Every file of the shipped catalog, the example corpora and a generated catalog is read both ways;
generated documents (the tool's own writers, hand-written-looking YAML and random edits of real
files) check the same on text nobody wrote down. Equal means equal types too (True is not 1) and the
same key order. The reader must take the files the tool writes (else these checks would hold
trivially), and it never raises: anything it is not sure of is declined.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_catalog.manifest.fastyaml import parse_block_mapping
from image_catalog.manifest.load import (
    LoadError,
    dump_document,
    dump_plain,
    parse_full,
    parse_mapping,
    plain_tag,
)
from support.examples import read_example
from support.paths import EXAMPLES, REPO, SHIPPED_CATALOG

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types, mappings with their keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _agrees(text: str) -> bool:
    """True when the line reader read `text`, False when it declined; fails on a difference."""
    quick = parse_block_mapping(text, plain_tag)
    if quick is None:
        return False
    try:
        full: Any = parse_full(text, "f.yaml")
    except LoadError as exc:
        pytest.fail(f"the line reader read text the full reader refuses ({exc}):\n{text}")
    assert _same(quick, full), f"{quick!r}\n!=\n{full!r}\nfor:\n{text}"
    assert parse_mapping(text, "f.yaml") is not quick  # a new result each time
    return True


def _texts(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.rglob("*.yaml")):
        try:
            out.append((str(path.relative_to(REPO)), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # the encoding examples: refused before any parsing
    return out


def _synthetic() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic", REPO / "benchmarks/synthetic.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_catalog_reads_the_same_and_quickly() -> None:
    texts = _texts(SHIPPED_CATALOG)
    read = {name for name, text in texts if _agrees(text)}
    assert len(texts) > 10
    # Only the vocabulary is written with flow collections (`[amd64]`, `{name: ...}`).
    assert {name for name, _ in texts} - read == {"catalog/vocabulary.yaml"}


def test_the_examples_and_fixtures_read_the_same() -> None:
    texts = _texts(EXAMPLES) + _texts(REPO / "tests" / "fixtures")
    bodies = [
        (path.name, read_example(path).body.decode("utf-8", "replace"))
        for path in sorted(EXAMPLES.rglob("*.yaml"))
    ]
    read = [name for name, text in texts + bodies if _agrees(text)]
    assert len(texts) >= 120
    valid = {p.name for p in (EXAMPLES / "valid").glob("*.yaml")}
    assert valid <= set(read)  # as installed, without the example's own header lines


def test_a_generated_catalog_reads_the_same_and_quickly() -> None:
    synthetic = _synthetic()
    rng = random.Random(7)
    for i in range(40):
        name, _, spec = synthetic.entry(i, rng)
        doc = {"apiVersion": "v", "kind": "CatalogImage", "metadata": {"name": name}, "spec": spec}
        header = "# yaml-language-server: $schema=x.json"
        assert _agrees(dump_document(doc, header))
        assert _agrees(dump_plain(doc, header))


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("a: 1\nb: x y  # note\n", True),
        ("a:\n  - x\n  - k: v\n    l: w\n  -\n    - 1\nb: {}\nc: []\n", True),
        ("a:\n- x\n- y\nb:\n", True),  # a sequence at its key's indent; an empty value
        ("---\n# c\na: 'it''s' # c\nb: \"caf\\u00e9\\n\"\n", True),
        ("a: yes\nb: True\nc: ~\nd: 2026-01-01\ne: 1.0.0\nf: -x\n", True),
        ("a: 1\n  b: 2\n", False),  # a continuation line
        ("a: x\n  y\n", False),
        ("a: 0x1F\n", False),
        ("a: 007\n", False),
        ("a: 1.5\n", False),
        ("a: -1\n", False),
        ("a: " + "9" * 19 + "\n", False),
        ("a: &x 1\nb: *x\n", False),
        ("a: [x]\n", False),
        ("a: |\n  x\n", False),
        ("a: !!str 1\n", False),
        ("a: 1\na: 2\n", False),
        ("true: 1\n", False),
        ('"a": 1\n', False),
        ("a: 1\n---\nb: 2\n", False),
        ("a:\tx\n", False),
        ("a: x\r\n", False),
        ("a: 'x\n  y'\n", False),
        ('a: "\\x41"\n', False),
        ("- a\n", False),
        ("a: b: c\n", False),
        ("a" * 200 + ": 1\n", False),
    ],
)
def test_what_the_line_reader_reads_and_declines(text: str, read: bool) -> None:
    assert _agrees(text) is read


# --- generated documents ------------------------------------------------------------------------

WORDS = [
    "",
    " ",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "0",
    "00",
    "007",
    "08",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30",
    "1.0",
    "1.0.0",
    "1e3",
    "6.8523015e+5",
    ".5",
    ".inf",
    "-.inf",
    ".NaN",
    "-1",
    "+1",
    "-0",
    "9" * 18,
    "9" * 19,
    "9" * 20,
    "2026-01-01",
    "2026-01-01T00:00:00Z",
    "2026-02-30 10:00:00 +1",
    "=",
    "<<",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#x",
    "- x",
    "-x",
    "--x",
    "'q'",
    "it's",
    '"dq"',
    'a"b',
    "x\ny",
    "x\n\ny",
    "  lead",
    "trail  ",
    "tab\tx",
    "caf\u00e9",
    "nb\u00a0sp",
    "line\u2028sep",
    "nel\x85",
    "\ufeffbom",
    "smile\U0001f600",
    "bell\x07",
    "del\x7f",
    "a\\b",
    "a\\nb",
    "[x]",
    "[]",
    "{}",
    "{x: 1}",
    "&a",
    "*a",
    "!t",
    "!!str x",
    "%p",
    "@a",
    "`b",
    "|",
    "|-",
    ">",
    "?",
    "? x",
    ":",
    "-",
    "a:",
    "---",
    "...",
    "http://h/p?q=1&r=2",
    "quay.io/a/b@sha256:" + "0" * 64,
]
PLAIN = ["name", "size", "tags", "a", "Z", "x_y", "a.b/c-d_e", "x86_64", "app.k8s.io/name", "9a"]
TEXT = st.sampled_from(WORDS) | st.text(max_size=12)
# Mostly keys any writer leaves plain, so that a document holds more than one odd thing rarely.
PLAIN_KEYS = st.sampled_from(PLAIN)
KEYS = st.one_of(
    [PLAIN_KEYS] * 12 + [st.sampled_from([*WORDS[:40], "_x", "a:b"]), st.text(max_size=8)]
)
LEAVES = st.one_of(
    st.sampled_from(PLAIN),
    TEXT,
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 10**18, 10**19]),
)


def _tree(
    leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[str] = KEYS
) -> st.SearchStrategy[dict[str, Any]]:
    nodes = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=8,
    )
    return st.dictionaries(keys, nodes, min_size=1, max_size=6)


@SETTINGS
@given(_tree(LEAVES))
def test_what_dump_plain_writes_reads_the_same(data: dict[str, Any]) -> None:
    _agrees(dump_plain(data, "# yaml-language-server: $schema=x.json"))


@SETTINGS
@given(_tree(LEAVES | st.none() | st.floats(allow_nan=False)))
def test_what_dump_document_writes_reads_the_same(data: dict[str, Any]) -> None:
    _agrees(dump_document(data))


@SETTINGS
@given(
    _tree(
        st.text(alphabet="abcdefxyz0123456789 .-/@:", max_size=16) | st.integers(0, 99), PLAIN_KEYS
    )
)
def test_ordinary_documents_are_read_by_the_line_reader(data: dict[str, Any]) -> None:
    # Text of letters, digits and a few punctuation marks: mostly read, never wrongly.
    _agrees(dump_plain(data))
    _agrees(dump_document(data))


def _quoted(text: str, style: str) -> str:
    if style == "'":
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=style == "a")


@st.composite
def _scalar_text(draw: st.DrawFn) -> str:
    """A scalar as someone might type it: plain, quoted, with a comment after it."""
    text = draw(st.one_of([st.sampled_from(PLAIN)] * 3 + [TEXT]))
    style = draw(st.sampled_from(["plain", "plain", "'", '"', "a"]))
    out = text.replace("\n", " ") if style == "plain" else _quoted(text, style)
    return out + draw(st.sampled_from(["", "", "", "", " ", " # note", "  #", "#x"]))


@st.composite
def _block(draw: st.DrawFn, indent: int, depth: int, sequence: bool) -> list[str]:
    """The lines of a block mapping or sequence at `indent`, with blank and comment lines."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["scalar", "scalar", "empty", "mapping", "sequence"]))
        if depth >= 3 and kind in ("mapping", "sequence"):
            kind = "scalar"
        step = draw(st.sampled_from([2, 2, 2, 4, 1, 3]))
        head = " " * indent + (
            "-" if sequence else draw(KEYS.filter(lambda k: "\n" not in k)) + ":"
        )
        if kind == "scalar":
            lines.append(f"{head} {draw(_scalar_text())}")
        elif kind == "empty":
            lines.append(head + draw(st.sampled_from(["", " ", " # nothing"])))
        else:
            inner = kind == "sequence"
            if inner and not sequence and draw(st.booleans()):
                step = 0  # a sequence at its key's indent
            child = draw(_block(indent + step, depth + 1, inner))
            if sequence and step >= 2 and draw(st.booleans()):
                lines.append(" " * indent + "-" + " " * (step - 1) + child[0].lstrip(" "))
                child = child[1:]  # `- key: value` or `- - value`
            else:
                lines.append(head)
            lines += child
        lines += draw(st.sampled_from([[], [], [""], ["# comment"], [" " * indent + "  # c"]]))
    return lines


@st.composite
def handwritten(draw: st.DrawFn) -> str:
    lines = draw(_block(draw(st.sampled_from([0, 0, 2])), 0, False))
    header = draw(st.sampled_from([[], ["# yaml-language-server: $schema=x.json"], ["---"]]))
    return "\n".join(header + lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@SETTINGS
@given(handwritten())
def test_hand_written_yaml_reads_the_same(text: str) -> None:
    _agrees(text)


PIECES = st.sampled_from(
    [
        *["- ", "-", "  ", " ", "key", "k2", "a", ":", ": ", "#", " # c", "'", "''", '"', "\\"],
        *["0", "1", "x", "[]", "{}", "[a]", "&a ", "*a", "!x ", "|", ">", "\u00e9", "\u2028", "<<"],
        *["true", "no", "~", "null", "2026-01-01", "1.5", "0x1", "\r", "\t", "---", "..."],
    ]
)


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    """Lines of indentation, dashes, keys, colons, values and comments: near-YAML, often YAML."""
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        indent = " " * draw(st.sampled_from([0, 0, 2, 2, 4, 4, 6, 1, 3]))
        shape = draw(st.sampled_from(["key: value", "key:", "- value", "- key: value", "-", "any"]))
        key = draw(st.sampled_from(["name", "size", "tags", "a", "b", "on", "1", "x y"]))
        value = draw(TEXT.filter(lambda t: "\n" not in t) | PIECES)
        if shape == "any":
            line = "".join(draw(st.lists(PIECES, max_size=5)))
        else:
            line = shape.replace("key", key).replace("value", value)
        lines.append(indent + line)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\n# end\n"]))


@SETTINGS
@given(yamlish())
def test_yaml_like_text_reads_the_same(text: str) -> None:
    _agrees(text)


SHIPPED_TEXT = (SHIPPED_CATALOG / "images" / "autosd10-rpi4" / "20260110.0812.yaml").read_text()


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(SHIPPED_TEXT)), st.integers(0, 3), PIECES | TEXT),
        min_size=1,
        max_size=4,
    )
)
def test_edited_catalog_files_read_the_same(edits: list[tuple[int, int, str]]) -> None:
    text = SHIPPED_TEXT
    for at, removed, inserted in edits:
        text = text[:at] + inserted + text[at + removed :]
    _agrees(text)


LINE_EDITS = st.tuples(
    st.sampled_from(["indent", "dedent", "copy", "drop", "swap", "comment", "blank", "value"]),
    st.integers(0, 60),
    st.integers(1, 4),
    st.sampled_from(WORDS),
)


@SETTINGS
@given(st.lists(LINE_EDITS, min_size=1, max_size=3))
def test_catalog_files_with_lines_moved_read_the_same(
    edits: list[tuple[str, int, int, str]],
) -> None:
    lines = SHIPPED_TEXT.splitlines()
    for action, at, count, word in edits:
        i = at % len(lines)
        if action == "indent":
            lines[i] = " " * count + lines[i]
        elif action == "dedent":
            lines[i] = lines[i][min(count, len(lines[i]) - len(lines[i].lstrip(" "))) :]
        elif action == "copy":
            lines.insert(i, lines[i])
        elif action == "drop":
            del lines[i]
        elif action == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif action in ("comment", "blank"):
            lines.insert(i, " " * count + ("# x" if action == "comment" else ""))
        elif ":" in lines[i]:
            lines[i] = lines[i].split(":", 1)[0] + ": " + word.replace("\n", " ")
    _agrees("\n".join(lines) + "\n")


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_reads_the_same_or_is_declined(text: str) -> None:
    _agrees(text)
