"""The exported JSON Schemas and the tool agree on every example.

Editors (yaml-language-server) and check-jsonschema validate catalog files with `schemas/`; CI
validates them with the tool. Each example goes through both: a valid one passes both, and an
invalid one whose rule concerns its file alone is refused by both. The schema side reads the file
as editors do (YAML 1.2, through `jsonschema`'s Draft 2020-12 validator).

The only exceptions are the rules below, by the problem code the tool gives them: rules that need
other files (the vocabulary, the registries, the other entries, the file's place), the clock, or
the subset of YAML catalog files are written in, which a schema of the data cannot see.
"""

from __future__ import annotations

import datetime
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from image_catalog.catalog.validate import validate_catalog
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from support.examples import Example, examples
from support.paths import EXAMPLES, REPO, SHIPPED_CATALOG

CROSS_FILE_RULES = {
    # The vocabulary (another file) names the architectures, distros and targets.
    "unknown_architecture": "the architecture is not in vocabulary.yaml",
    "unknown_distro": "the distro is not in vocabulary.yaml",
    "unknown_target": "the target is not in vocabulary.yaml",
    "target_architecture": "vocabulary.yaml says the target is not built for the architecture",
    # The registries (other files) are the allow-list of hosts.
    "undeclared_registry": "no file in registries/ declares the host",
    # Other entries.
    "duplicate_digest": "another entry (or this one) already publishes the digest",
    "duplicate": "another file holds the same version or host, or a list repeats a value",
    "lifecycle": "supersededBy names no entry, the entry itself, or goes round a circle",
    # The file's place in the catalog.
    "path": "metadata.name and version must match the file's path",
    "kind": "the kind must be the one of the file's place",
    "layout": "the file is not a regular file in its place (a link, a stray file)",
    # Rules that need more than a schema of the data can hold.
    "time": "publishedAt is in the future (the clock) or before the build's completionTime",
    "index_variant": "checked by the schema too (if/then); listed for the tool's wording",
    # The YAML subset: the schema sees data, not how it was written.
    "yaml": "anchors, merge keys, tags, duplicate keys, non-decimal or oversized numbers, "
    "encodings, depth, several documents: refused when the file is read",
}

# Values the JSON data model cannot tell apart from valid ones.
_PYTHON_DOLLAR = (
    "the jsonschema package matches patterns with Python's re, where `$` also matches before a "
    "final newline; ECMA-262 (editors, check-jsonschema's default) and the tool do not"
)
SCHEMA_BLIND = {
    "size-float": "JSON Schema's integer type accepts 600.0, a number with a zero fraction",
    "name-trailing-newline": _PYTHON_DOLLAR,
    "reference-trailing-newline": _PYTHON_DOLLAR,
}

SCHEMAS = {"images": "catalogimage", "registries": "registry", "vocabulary.yaml": "vocabulary"}


@cache
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "schemas" / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _as_editors_read_it(body: bytes) -> Any:
    """The document as plain JSON data, read as YAML 1.2 like editors do; times stay text."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(io.BytesIO(body))
    return _plain(data)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _schema_refuses(example: Example) -> bool:
    kind = SCHEMAS[example.place.split("/")[0]]
    try:
        data = _as_editors_read_it(example.body)
    except (YAMLError, UnicodeDecodeError, ValueError, RecursionError):
        return True  # an editor marks the file as broken YAML
    return not _validator(kind).is_valid(data)


def _codes(example: Example, catalog: Path) -> set[str]:
    example.install(catalog)
    _, report = validate_catalog(catalog)
    assert report.problems, f"{example.name}: the tool accepts it"
    return {p.code for p in report.problems}


@pytest.mark.parametrize("example", examples(EXAMPLES / "valid"), ids=lambda e: e.name)
def test_valid_examples_pass_the_schema(example: Example) -> None:
    assert not _schema_refuses(example)


@pytest.mark.parametrize(
    "path",
    sorted(SHIPPED_CATALOG.rglob("*.yaml")),
    ids=lambda p: p.relative_to(SHIPPED_CATALOG).as_posix(),
)
def test_shipped_files_pass_the_schema(path: Path) -> None:
    relative = path.relative_to(SHIPPED_CATALOG).as_posix()
    assert not _schema_refuses(Example(path.stem, relative, path.read_bytes(), ()))


@pytest.mark.parametrize("example", examples(EXAMPLES / "invalid"), ids=lambda e: e.name)
def test_single_file_rules_are_refused_by_the_schema_too(
    example: Example, catalog_dir: Path
) -> None:
    if example.link is not None or example.name in SCHEMA_BLIND:
        return  # not file content (a link or a FIFO), or a value JSON cannot tell apart
    codes = _codes(example, catalog_dir)
    single_file = codes - set(CROSS_FILE_RULES)
    if single_file:
        assert _schema_refuses(example), f"the schema accepts what the tool refuses: {codes}"


@pytest.mark.parametrize("name", sorted(SCHEMA_BLIND))
def test_what_the_schema_cannot_see_is_exactly_what_is_listed(name: str) -> None:
    """A listed gap is a real one: the schema accepts the example (the tool refuses it, as
    test_examples checks); when the schema learns to refuse it, the entry must go."""
    example = next(e for e in examples(EXAMPLES / "invalid") if e.name == name)
    assert not _schema_refuses(example)
