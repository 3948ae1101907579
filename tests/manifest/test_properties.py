"""Property tests: no input makes the loader, the validator or the ImageBuild reader crash.

Inputs are valid documents with one random mutation (a value replaced by any JSON-like value,
huge numbers, hostile strings and wrong types among them; a key removed or added), and raw text.
Each run is bounded (few examples, no deadline) so the suite stays fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_catalog.cli import main
from image_catalog.manifest.load import LoadError, decode_text, parse_mapping
from image_catalog.publish.imagebuild import BuildInfo, BuildNotPublishable, parse_imagebuild
from support.examples import read_example
from support.paths import EXAMPLES, SHIPPED_CATALOG

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "yes",
        "no",
        "0x1F",
        "1_000",
        "2026-02-30T00:00:00Z",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "1767225600",
        "../../etc/passwd",
        "--privileged",
        "a\nb",
        "x\u202ey",
        "\x1b[2J",
        "a\u200bb",
        "\x85",
        "quay.io/a/b@sha256:" + "1" * 64 + "\n",
        "QUAY.IO",
        "localhost:0",
    ]
)
LEAVES = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from([0, -1, 2**63, 10**30, 600.0, float("inf"), True, None]),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=30),
)
# Written into the YAML text as they stand (unquoted), where the loader reads them.
RAW_TOKENS = st.sampled_from(
    [
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-01-01",
        "9" * 5000,
        "0x1F",
        "0o17",
        "017",
        "1_000",
        "1:20",
        "yes",
        "~",
        ".nan",
        "-.inf",
        "!!binary aGVsbG8=",
        "!!python/name:os.system",
        "&a x",
        "*a",
        "[",
        "{a: 1, a: 2}",
        r'"\u202e"',
        r'"\e[2J"',
        r'"\x85"',
        "|<NL>  two<NL>  lines",
    ]
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """`document` with one value replaced, one key removed, or one key added somewhere."""
    doc = yaml.safe_load(yaml.safe_dump(document))  # a deep copy
    paths = _paths(doc)[1:]
    leaves = [p for p in paths if not isinstance(_at(doc, p), dict | list)]
    path = draw(st.sampled_from(leaves) | st.sampled_from(paths))
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(VALUES)
    elif action == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][draw(st.text(max_size=12))] = draw(VALUES)
    else:
        parent[path[-1]] = draw(VALUES)
    return doc


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def retyped(draw: st.DrawFn, text: str) -> str:
    """`text` (a YAML document) with the value of one `key: value` line written as a raw token."""
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if ": " in line and not line.startswith("#")]
    i = draw(st.sampled_from(candidates))
    key = lines[i].split(": ", 1)[0]
    lines[i] = f"{key}: {draw(RAW_TOKENS)}".replace("<NL>", "\n" + " " * len(key))
    return "\n".join(lines) + "\n"


def _document(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(read_example(path).body)
    assert isinstance(data, dict)
    return data


IMAGE = _document(EXAMPLES / "valid" / "disk-partitions.yaml")
REGISTRY = _document(EXAMPLES / "valid" / "registry-local.yaml")
IMAGEBUILD = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "imagebuild" / "nested-bootc-disk.yaml").read_text()
)


# --- the loader ---------------------------------------------------------------------------------


def _loaded_or_located(result: object) -> None:
    if isinstance(result, LoadError):
        assert result.file == "f.yaml"
        assert result.message
        assert str(result).startswith("f.yaml")
    else:
        assert isinstance(result, dict)


@SETTINGS
@given(st.binary(max_size=400))
def test_the_loader_reads_any_bytes_or_says_where_it_stops(data: bytes) -> None:
    try:
        result: object = parse_mapping(decode_text(data, "f.yaml"), "f.yaml")
    except LoadError as exc:
        result = exc
    _loaded_or_located(result)


@SETTINGS
@given(st.text(max_size=400))
def test_the_loader_reads_any_text_or_says_where_it_stops(text: str) -> None:
    try:
        result: object = parse_mapping(text, "f.yaml")
    except LoadError as exc:
        result = exc
    _loaded_or_located(result)


# --- the validator ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("properties") / "catalog"
    shutil.copytree(SHIPPED_CATALOG, root)
    return root


def _validate_one(catalog: Path, place: str, body: bytes) -> None:
    target = catalog / place
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    try:
        out = io.StringIO()
        args = ["validate", "--catalog", str(catalog), "--no-cache", "--format", "json"]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(args)
        assert code in (0, 1), out.getvalue()  # never 3: no traceback, whatever the input
        for problem in json.loads(out.getvalue())["problems"]:
            assert problem["file"], problem
            if problem["code"] in ("yaml", "layout"):
                continue  # the file is not YAML data: no field to name
            assert problem["field"], f"no field named: {problem}"
            if problem["file"].endswith(place):
                assert problem["line"] is not None, f"no line: {problem}"
    finally:
        target.unlink()


@SETTINGS
@given(mutated(IMAGE))
def test_no_image_manifest_crashes_validation(scratch_catalog: Path, doc: dict[str, Any]) -> None:
    body = yaml.safe_dump(doc, allow_unicode=True).encode()
    _validate_one(scratch_catalog, "images/autosd10-ridesx4/20260201.0100.yaml", body)


@SETTINGS
@given(mutated(REGISTRY))
def test_no_registry_file_crashes_validation(scratch_catalog: Path, doc: dict[str, Any]) -> None:
    body = yaml.safe_dump(doc, allow_unicode=True).encode()
    _validate_one(scratch_catalog, "registries/local.yaml", body)


@SETTINGS
@given(retyped(read_example(EXAMPLES / "valid" / "disk-partitions.yaml").body.decode()))
def test_no_raw_value_crashes_validation(scratch_catalog: Path, text: str) -> None:
    _validate_one(scratch_catalog, "images/autosd10-ridesx4/20260201.0100.yaml", text.encode())


@SETTINGS
@given(st.text(max_size=300))
def test_no_text_crashes_validation(scratch_catalog: Path, text: str) -> None:
    _validate_one(scratch_catalog, "images/autosd10-ridesx4/20260201.0100.yaml", text.encode())


# --- the ImageBuild reader ----------------------------------------------------------------------


@SETTINGS
@given(mutated(IMAGEBUILD))
def test_the_imagebuild_reader_refuses_with_the_file_named(doc: dict[str, Any]) -> None:
    try:
        result: object = parse_imagebuild(doc, "b.yaml")
    except BuildNotPublishable as exc:
        result = exc
    if isinstance(result, BuildNotPublishable):
        assert str(result).startswith("b.yaml: "), str(result)
    else:
        assert isinstance(result, BuildInfo)
        assert result.container_ref or result.disk_ref
