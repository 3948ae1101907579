"""The loader turns every kind of unreadable file into a located, explained error."""

from __future__ import annotations

from pathlib import Path

import image_catalog.manifest.load as load_module
import pytest
from image_catalog.manifest.load import (
    MAX_FILE_BYTES,
    LoadError,
    Position,
    dump_document,
    load_mapping,
    load_mappings,
    parse_mapping,
)


def _load_bytes(tmp_path: Path, data: bytes) -> dict[str, object]:
    path = tmp_path / "f.yaml"
    path.write_bytes(data)
    return load_mapping(path, "f.yaml")


def test_plain_mapping(tmp_path: Path) -> None:
    assert _load_bytes(tmp_path, b"a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    assert _load_bytes(tmp_path, b"\xef\xbb\xbfa: 1\n") == {"a": 1}


@pytest.mark.parametrize(
    ("data", "message", "position"),
    [
        (b"", "file is empty; a catalog file holds one YAML mapping", None),
        (b"# only a comment\n---\n", "file is empty; a catalog file holds one YAML mapping", None),
        (b"a: 1\nb: caf\xe9\n", "text is not UTF-8 (byte 0xe9)", Position(2, 7)),
        (b"a: 1\na: 2\n", "duplicate key 'a'", Position(2, 1)),
        (b"a:\n  b: 1\n  b: 1\n", "duplicate key 'b'", Position(3, 3)),
        (
            b"a: 1\n---\na: 2\n",
            "several YAML documents in one file; a catalog file holds exactly one",
            Position(2, 1),
        ),
        (b"- a\n- b\n", "the document is list, not a mapping", Position(1, 1)),
        (b"just text\n", "the document is str, not a mapping", Position(1, 1)),
        (
            b"a: [1, 2\n",
            "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence",
            Position(2, 1),
        ),
        (b"true: 1\n", "key 'true' is not a string; quote it", Position(1, 1)),
        (
            b"size: 0x1F\n",
            "write the number '0x1F' in plain decimal, or quote it if it is text",
            Position(1, 7),
        ),
        (
            b"size: " + b"9" * 5000 + b"\n",
            "the number 999999999999999999999999... has 5000 digits; numbers in catalog files "
            "fit in 63 bits",
            Position(1, 7),
        ),
        (b"a: {x: 1}\n<<: {y: 2}\n", "merge keys ('<<') are not allowed", Position(2, 1)),
        (b"? [a, b]\n: 1\n", "a mapping key must be a plain string", Position(1, 3)),
        (
            b"a: 1\nb: x\x01y\n",
            "character U+0001 is not allowed in YAML (control characters are not allowed)",
            Position(2, 5),
        ),
        (
            b"a: " + b"[" * 100 + b"]" * 100 + b"\n",
            "nested deeper than 64 levels; catalog files are shallow",
            Position(1, 68),
        ),
    ],
)
def test_unreadable_files(
    tmp_path: Path, data: bytes, message: str, position: Position | None
) -> None:
    with pytest.raises(LoadError) as caught:
        _load_bytes(tmp_path, data)
    assert caught.value.message == message
    assert caught.value.position == position


def test_alias_bomb_stops_at_the_first_alias() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 30)]
    with pytest.raises(LoadError) as caught:
        parse_mapping("\n".join(lines) + "\n", "bomb.yaml")
    assert "anchors and aliases are not allowed" in caught.value.message
    assert caught.value.position == Position(1, 5)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        _load_bytes(tmp_path, b"a: " + b"x" * MAX_FILE_BYTES + b"\n")
    assert caught.value.message.startswith(f"file is {MAX_FILE_BYTES + 4} bytes")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        load_mapping(tmp_path / "nope.yaml", "nope.yaml")
    assert caught.value.message.startswith("cannot read file: No such file")


def test_dump_round_trips_and_quotes_ambiguous_strings() -> None:
    text = dump_document(
        {"version": "1.0", "flag": "yes", "ref": "h.io/r@sha256:" + "a" * 64, "n": 3},
        header="# yaml-language-server: $schema=x.json",
    )
    assert text.splitlines()[0] == "# yaml-language-server: $schema=x.json"
    assert parse_mapping(text, "dumped") == {
        "version": "1.0",
        "flag": "yes",
        "ref": "h.io/r@sha256:" + "a" * 64,
        "n": 3,
    }


def test_many_files_load_in_worker_processes_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = []
    for i, text in enumerate([b"a: 1\n", b"a: 1\na: 2\n", b"b: [x]\n", b""]):
        path = tmp_path / f"{i}.yaml"
        path.write_bytes(text)
        files.append((path, f"{i}.yaml"))
    serial = list(load_mappings(files))
    monkeypatch.setattr(load_module, "PARALLEL_FROM", 2)
    parallel = list(load_mappings(files))
    assert [type(r) for r in parallel] == [dict, LoadError, dict, LoadError]
    assert [str(r) for r in parallel] == [str(r) for r in serial]
    assert [getattr(r, "position", None) for r in parallel] == [None, Position(2, 1), None, None]
