"""Problems found in the catalog, located as `file:line:column: field.path: message`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from image_catalog.manifest.fieldpath import FieldPath, format_path
from image_catalog.manifest.locate import Locator, data_path
from image_catalog.manifest.reference import PINNED_PATTERN
from image_catalog.manifest.types import (
    MAX_SIZE,
    Host,
    HttpUrl,
    LabelKey,
    LabelValue,
    Name,
    Version,
)
from image_catalog.text import FREE_TEXT_PATTERN, LINE_PATTERN, SAFE_PATH_PATTERN


@dataclass
class Problem:
    """One thing wrong with one file. `line` is filled in from `path` before reporting."""

    file: str
    message: str
    path: FieldPath = ()
    line: int | None = None
    column: int | None = None
    code: str = "invalid"
    severity: Literal["error", "warning"] = "error"
    source: Path | None = field(default=None, repr=False, compare=False)

    @property
    def field(self) -> str:
        return format_path(self.path)

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        field_part = f" {self.field}:" if self.path else ""
        return f"{self.location()}:{field_part} {self.message}"


def locate_all(problems: Iterable[Problem], texts: Mapping[Path, str] | None = None) -> None:
    """Fill in line and column from each problem's field path (one parse per file); `texts`
    hold the text of files that are not written yet."""
    locator = Locator(texts)
    for problem in problems:
        if problem.line is None and problem.source is not None:
            position = locator.position(problem.source, problem.path)
            if position is not None:
                problem.line, problem.column = position.line, position.column


def _pattern(annotated: Any) -> str:
    return str(annotated.__metadata__[0].pattern)


_PATTERN_WORDS: dict[str, str] = {
    _pattern(Name): "is not a DNS-1123 label (lowercase letters, digits and '-', starting and "
    "ending with a letter or digit, at most 63 characters)",
    _pattern(Version): "is not a version token (letters, digits, '.', '_' and '-', starting with "
    "a letter or digit)",
    LINE_PATTERN: "holds a control character or a bidi control; write plain text on one line",
    FREE_TEXT_PATTERN: "holds a control character or a bidi control; write plain text",
    SAFE_PATH_PATTERN: "is not a plain path (no control, bidi or invisible characters, no "
    "leading space or '-')",
    _pattern(Host): "is not a host name (DNS labels separated by '.') with an optional port from "
    "1 to 65535",
    _pattern(HttpUrl): "is not a plain http:// or https:// URL (no user name, spaces, quotes or "
    "angle brackets)",
    _pattern(LabelKey): "is not a label key (an optional DNS prefix and '/', then at most 63 "
    "letters, digits, '-', '_' and '.', starting and ending with a letter or digit)",
    _pattern(LabelValue): "is not a label value (at most 63 letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit)",
    PINNED_PATTERN: "is not a digest-pinned reference HOST/REPOSITORY@sha256:<64 hex digits> "
    "(the HOST has a '.' or a port, or is localhost)",
    r"^sha256:[0-9a-f]{64}$": "is not a digest sha256:<64 lowercase hex digits>",
    r"^[0-9a-f]{64}$": "is not a sha256 checksum (64 lowercase hex digits)",
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        key = error["loc"][-1] if error["loc"] else ""
        if isinstance(key, str) and "_" in key and to_camel(key) != key:
            return f"unknown field; files use camelCase names: {to_camel(key)!r}"
        return "unknown field (check its spelling and indentation)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{value!r} is not a mapping (write KEY: VALUE lines under it)"
    if kind == "list_type":
        return f"{value!r} is not a list (write '- ITEM' lines under it)"
    if kind == "bool_type":
        return f"{value!r} is not a boolean; write true or false"
    if kind == "int_type":
        return _not_an_integer(value)
    if kind == "less_than_equal" and isinstance(value, int) and ctx.get("le") == MAX_SIZE:
        return f"{value} is larger than any size can be (at most 2**63 - 1 bytes)"
    if kind == "string_pattern_mismatch":
        words = _PATTERN_WORDS.get(str(ctx.get("pattern")))
        if words is None:
            words = "contains characters that are not allowed here (no whitespace, path "
            words += "separators, control characters or leading '-')"
        return f"{value!r} {words}{_first_hidden(value)}"
    if kind == "string_type" and isinstance(value, int | float | bool):
        read_as = "true/false" if isinstance(value, bool) else "a number"
        return f"{value!r} is read as {read_as}, not text; quote it"
    if kind == "literal_error":
        return f"{value!r} is not allowed: {error['msg'].removeprefix('Input should be ')}"
    if kind in ("datetime_parsing", "datetime_from_date_parsing", "date_parsing"):
        noun = "date" if kind == "date_parsing" else "time"
        return f"{value!r} is not a valid {noun} ({ctx.get('error', 'unreadable')})"
    if kind == "timezone_aware":
        return f"{value} has no time zone; write it in UTC with a trailing Z"
    message = error["msg"].removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else kind


def _first_hidden(value: Any) -> str:
    """Names the first character a reader cannot see, which is often the whole problem."""
    if not isinstance(value, str):
        return ""
    for i, ch in enumerate(value):
        if not ch.isprintable() and ch != " ":
            return f" (U+{ord(ch):04X} at character {i + 1})"
    return ""


def _not_an_integer(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} is a boolean, not a number"
    if isinstance(value, str):
        return f"{value!r} is text, not a number; write it without quotes"
    if isinstance(value, float) and value.is_integer():
        return f"{value!r} is not a whole number; write {int(value)}"
    return f"{value!r} is not a whole number"


def from_validation_error(
    exc: ValidationError, file: str, data: Any, source: Path | None
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        path = data_path(error["loc"], data)
        problems.append(Problem(file, _message(error), path, code=error["type"], source=source))
    return problems


def sort_key(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file, problem.line or 0, problem.column or 0, problem.message)


def count_files(problems: Sequence[Problem]) -> int:
    return len({p.file for p in problems})
