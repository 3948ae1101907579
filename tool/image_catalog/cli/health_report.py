"""Renderings of a health status: text for people, JSON for programs, GitHub annotations."""

from __future__ import annotations

import msgspec

from image_catalog.cli.report import _escape_data, _escape_property
from image_catalog.site.status import (
    INVALID_STATES,
    STATES,
    EntryHealth,
    MovedTag,
    StatusDoc,
    VariantHealth,
)


def _time(entry: EntryHealth | VariantHealth) -> str:
    return entry.since.strftime("%Y-%m-%dT%H:%M:%SZ")


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def summary(status: StatusDoc) -> str:
    figures = status.figures
    counts = ", ".join(f"{figures.states[s]} {s}" for s in STATES if figures.states.get(s))
    noun = "entry" if figures.entries == 1 else "entries"
    shard = f" (shard {status.shard.index}/{status.shard.count})" if status.shard else ""
    checked = status.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"checked {figures.entries} {noun}{shard} at {checked}: {counts or 'nothing to check'}; "
        f"available now {_percent(figures.available_now)}, over 24 h "
        f"{_percent(figures.availability_24h)}"
    )


def _headline(entry: EntryHealth) -> str:
    text = f"{entry.id}: {entry.state} since {_time(entry)}"
    if entry.state == "failed":
        text += f" ({entry.consecutive_failures} failed checks in a row, last: {entry.observed})"
    if entry.deprecated:
        text += " (deprecated)"
    return text + (f": {entry.detail}" if entry.detail else "")


def _moves(entry: EntryHealth) -> list[tuple[MovedTag, str]]:
    moves = [(m, entry.id) for m in entry.tag_moved]
    for variant in entry.variants:
        moves += [(m, entry.id) for m in variant.tag_moved]
    return moves


def _move_text(move: MovedTag) -> str:
    now = f"now names {move.digest}" if move.digest else "is gone"
    return f"tag {move.tag} of {move.field} {now}; the pinned digest is what counts"


def render_text(status: StatusDoc) -> str:
    lines = []
    for entry in status.entries:
        if entry.state != "available":
            lines.append(_headline(entry))
            lines += [
                f"  {v.architecture}: {v.state} since {_time(v)}"
                for v in entry.variants
                if v.state != "available"
            ]
        lines += [f"{where}: {_move_text(m)}" for m, where in _moves(entry)]
    lines.append(summary(status))
    return "\n".join(lines) + "\n"


def render_json(status: StatusDoc) -> str:
    return msgspec.json.format(msgspec.json.encode(status).decode(), indent=2) + "\n"


def render_github(status: StatusDoc) -> str:
    lines = []
    for entry in status.entries:
        title = f"title={_escape_property(entry.id)}"
        if entry.state != "available":
            level = "error" if entry.state in INVALID_STATES and not entry.deprecated else "warning"
            lines.append(f"::{level} {title}::{_escape_data(_headline(entry))}")
        lines += [f"::notice {title}::{_escape_data(_move_text(m))}" for m, _ in _moves(entry)]
    lines.append(summary(status))
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "github": render_github}
