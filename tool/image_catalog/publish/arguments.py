"""What the person publishing typed, checked before the registry is asked anything.

A name like `../escape` or a version with a newline would fail validation at the end anyway, but
only after registry calls (or as "registry unreachable" when it is down). Every argument is
checked against the type its manifest field has, and all bad ones are reported at once.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from image_catalog.errors import UsageError
from image_catalog.manifest.model import Line, Name, Text, Token, Version, Word

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "name": TypeAdapter(Name),
    "version": TypeAdapter(Version),
    "word": TypeAdapter(Word),
    "token": TypeAdapter(Token),
    "line": TypeAdapter(Line),
    "text": TypeAdapter(Text),
}
_WHAT = {
    "name": "a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)",
    "version": "a version token (letters, digits, '.', '_' and '-', starting with a letter or "
    "digit, at most 64 characters)",
    "word": "a vocabulary word (lowercase letters, digits, '.', '_' and '-')",
    "token": "a token (letters, digits, '_', '.', '+' and '-')",
    "line": "one line of text (at most 200 characters, no control or bidi characters)",
    "text": "text without control or bidi characters (at most 4000 characters)",
}
# What git accepts as a branch, minus what would read as an option or hide in a terminal.
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")


def check_arguments(arguments: list[tuple[str, str | None, str]]) -> None:
    """(option as typed, value or None, kind) for each argument; a `UsageError` naming every bad
    one, or nothing. Kinds: name, version, word, token, line, text, branch."""
    bad = []
    for option, value, kind in arguments:
        if value is None:
            continue
        if kind == "branch":
            fine = _BRANCH.fullmatch(value) is not None and ".." not in value
            fine = fine and not value.endswith((".lock", "/", ".")) and "//" not in value
            what = "a branch name (letters, digits, '.', '_', '-' and '/', not starting with '-')"
        else:
            try:
                _ADAPTERS[kind].validate_python(value, strict=True)
                fine = True
            except ValidationError:
                fine = False
            what = _WHAT[kind]
        if not fine:
            shown = value if len(value) <= 80 else value[:77] + "..."
            bad.append(f"{option} {shown!r} is not {what}")
    if bad:
        raise UsageError("; ".join(bad))
