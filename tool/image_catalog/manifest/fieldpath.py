"""Where a value sits in a catalog document: the one field-path type, and how it is written."""

from __future__ import annotations

from collections.abc import Sequence

FieldPath = tuple[str | int, ...]
"""Keys and list indexes from the top of a document: `("spec", "variants", 0, "disk")`."""


def format_path(path: Sequence[str | int]) -> str:
    """`spec.variants[0].disk`, as messages name a field."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
