"""The reporter of a health status: text for people, JSON for programs, GitHub annotations."""

from __future__ import annotations

import datetime as dt

import msgspec

from image_catalog.cli.reporters import Reporter, annotation
from image_catalog.site.contract import EntryHealth, MovedTag, StatusDoc, VariantHealth
from image_catalog.site.status import INVALID_STATES, STATES, encode_status
from image_catalog.text import printable


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def _since(item: EntryHealth | VariantHealth) -> str:
    return f"{item.state} since {_iso(item.since)}"


class HealthReporter(Reporter[StatusDoc]):
    """Entries that are not available, moved tags, then the catalog-wide figures.

    The github form also appends the figures to `step_summary` ($GITHUB_STEP_SUMMARY).
    """

    def text(self, result: StatusDoc) -> None:
        lines = []
        for entry in result.entries:
            if entry.state != "available":
                lines.append(self.headline(entry))
                lines += [
                    f"  {v.architecture}: {_since(v)}"
                    for v in entry.variants
                    if v.state != "available"
                ]
            lines += [f"{entry.id}: {self.moved(m)}" for m in _moves(entry)]
        lines.append(self.summary(result))
        # Details quote what registries answered: nothing in them may rewrite the terminal.
        self.out.write("\n".join(printable(line) for line in lines) + "\n")

    def json(self, result: StatusDoc) -> None:
        # The document `--out` writes (status.json, compact), indented: one format to read.
        self.out.write(msgspec.json.format(encode_status(result).decode(), indent=2) + "\n")

    def github(self, result: StatusDoc) -> None:
        lines = []
        for entry in result.entries:
            if entry.state != "available":
                failing = entry.state in INVALID_STATES and not entry.deprecated
                level = "error" if failing else "warning"
                headline = printable(self.headline(entry))
                lines.append(annotation(level, headline, title=entry.id))
            lines += [annotation("notice", self.moved(m), title=entry.id) for m in _moves(entry)]
        lines.append(self.summary(result))
        self.out.write("\n".join(lines) + "\n")
        self._append_step_summary(self.markdown(result))

    @staticmethod
    def summary(status: StatusDoc) -> str:
        figures = status.figures
        counts = ", ".join(f"{figures.states[s]} {s}" for s in STATES if figures.states.get(s))
        noun = "entry" if figures.entries == 1 else "entries"
        shard = f" (shard {status.shard.index}/{status.shard.count})" if status.shard else ""
        return (
            f"checked {figures.entries} {noun}{shard} at {_iso(status.checked_at)}: "
            f"{counts or 'nothing to check'}; available now {_percent(figures.available_now)}, "
            f"over 24 h {_percent(figures.availability_24h)}"
        )

    @staticmethod
    def markdown(status: StatusDoc) -> str:
        figures = status.figures
        lines = [
            f"### Catalog health at {_iso(status.checked_at)}",
            "",
            "| state | entries |",
            "| --- | --- |",
        ]
        lines += [f"| {s} | {figures.states.get(s, 0)} |" for s in STATES]
        lines += [
            "",
            f"Available now: {_percent(figures.available_now)}; over 24 hours: "
            f"{_percent(figures.availability_24h)}.",
        ]
        return "\n".join(lines) + "\n"

    @staticmethod
    def headline(entry: EntryHealth) -> str:
        text = f"{entry.id}: {_since(entry)}"
        if entry.state == "failed":
            failures = entry.consecutive_failures
            text += f" ({failures} failed checks in a row, last: {entry.observed})"
        if entry.deprecated:
            text += " (deprecated)"
        return text + (f": {entry.detail}" if entry.detail else "")

    @staticmethod
    def moved(move: MovedTag) -> str:
        now = f"now names {move.digest}" if move.digest else "is gone"
        return f"tag {move.tag} of {move.field} {now}; the pinned digest is what counts"


def _moves(entry: EntryHealth) -> list[MovedTag]:
    moves = list(entry.tag_moved)
    for variant in entry.variants:
        moves += variant.tag_moved
    return moves
