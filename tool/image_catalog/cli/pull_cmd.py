"""`image-catalog pull`: parse, draw the progress, render the result.

Progress goes to standard error: on a terminal one line redrawn at most every `REDRAW` seconds
(bytes, rate and time left, overall and for each file in flight: `progress_line`), cut to the
terminal's width; otherwise one quiet line when a file starts and one when it is done. The
result goes to standard output: a summary, or with --json the folder's pull.json document.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import msgspec

from image_catalog.cli.common import add_format_option, add_subcommand
from image_catalog.commands.pull import PullResult, PullSettings, pull
from image_catalog.errors import ExitCode
from image_catalog.text import printable

REDRAW = 0.25


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers,
        "pull",
        "download a version's disk image for a board, verified",
        "Download the disk image of NAME (its latest version, or NAME@VERSION) for a board into "
        "a folder: each file fetched by digest from its registry with your own credentials "
        "(podman's and docker's auth files), checked against the index's size and sha256 before "
        "it takes its name, with SHA256SUMS and pull.json beside them. A re-run continues "
        "interrupted files and skips the ones in place.",
        examples=[
            "image-catalog pull autosd10-qemu --target qemu --arch aarch64 --out bench",
            "image-catalog pull autosd10-rpi4@10.0.1 --target rpi4 --index site --json",
        ],
        exits=["unverified", "pull"],
    )
    PullSettings.register_argparse_arguments(parser)
    add_format_option(parser, "json")
    parser.set_defaults(run=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    settings = PullSettings.from_argparse(args)
    drawing = Drawing(sys.stderr) if sys.stderr.isatty() else Lines(sys.stderr)
    try:
        result = pull(settings, drawing)
    finally:
        drawing.close()
    for warning in result.warnings:
        print(f"warning: {printable(warning)}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(msgspec.json.encode(result.layout).decode() + "\n")
    else:
        sys.stdout.write(render(result))
    return int(ExitCode.OK)


def render(result: PullResult) -> str:
    layout = result.layout
    if result.container is not None:
        image = f"oci:{result.container}:{layout.version}"
        return (
            f"copied the container image of {layout.name} {layout.version} "
            f"({layout.architecture}) for {layout.target} into {result.container} "
            f"(an OCI image layout): {image}\n  from {layout.ref}\n"
        )
    reused = sum(1 for f in result.fetched if f.reused)
    known = sum(1 for f in result.fetched if f.by_status)
    whose = "its" if known == 1 else "their"
    lines = [
        f"pulled {layout.name} {layout.version} ({layout.architecture}) for {layout.target} "
        f"into {result.out}: {len(layout.files)} file(s), {result.transferred} bytes transferred"
        + (f", {reused} already in place" if reused else "")
        + (f" ({known} verified by {whose} recorded status)" if known else ""),
    ]
    if result.hashed:
        lines.append(f"  {result.hashed} bytes already on disk read again to verify them")
    for file in layout.files:
        part = f"{file.partition}: " if file.partition else "whole disk: "
        lines.append(f"  {part}{file.file} ({file.size} bytes, sha256:{file.sha256})")
    lines.append(f"verify again with: (cd {result.out} && sha256sum -c SHA256SUMS)")
    return "\n".join(lines) + "\n"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class Lines:
    """Progress for a log: a line when a file starts and when it is done."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def started(self, title: str, total: int, present: int) -> None:
        resumed = f", resuming at {present}" if 0 < present < total else ""
        with self.lock:
            print(f"{printable(title)}: {total} bytes{resumed}", file=self.stream, flush=True)

    def advanced(self, title: str, count: int) -> None:
        pass

    def finished(self, title: str, transferred: int, reused: bool) -> None:
        said = (
            "already in place, verified" if reused else f"verified, {transferred} bytes transferred"
        )
        with self.lock:
            print(f"{printable(title)}: {said}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


@dataclass
class Meter:
    """One file's progress: its size, the bytes in place, and those moved since `began`."""

    title: str
    total: int
    done: int
    began: float
    moved: int = 0
    active: bool = True


def _rate_and_left(moved: int, seconds: float, left: int) -> str:
    rate = moved / max(seconds, 1e-3)
    when = f"{left / rate:.0f} s left" if rate > 0 else "-- left"
    return f"{_size(rate)}/s, {when}"


def progress_line(meters: Sequence[Meter], began: float, now: float) -> str:
    """Overall bytes, rate and time left, then the same for each file in flight."""
    total = sum(m.total for m in meters)
    done = sum(m.done for m in meters)
    moved = sum(m.moved for m in meters)
    parts = [f"{_size(done)} of {_size(total)}, {_rate_and_left(moved, now - began, total - done)}"]
    for meter in sorted((m for m in meters if m.active), key=lambda m: m.title):
        percent = 100 * meter.done // max(meter.total, 1)
        speed = _rate_and_left(meter.moved, now - meter.began, meter.total - meter.done)
        parts.append(
            f"{printable(meter.title)[:24]} {_size(meter.done)} of {_size(meter.total)} "
            f"{percent}%, {speed}"
        )
    return " | ".join(parts)


class Drawing(Lines):
    """Progress on a terminal: one line, redrawn, with rate and time left."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.meters: dict[str, Meter] = {}
        self.began = time.monotonic()
        self.drawn = 0.0
        self.width = shutil.get_terminal_size((200, 24)).columns - 1

    def started(self, title: str, total: int, present: int) -> None:
        with self.lock:
            self.meters[title] = Meter(title, total, present, time.monotonic())

    def advanced(self, title: str, count: int) -> None:
        with self.lock:
            meter = self.meters.setdefault(title, Meter(title, 0, 0, time.monotonic()))
            meter.done += count
            meter.moved += count
            now = time.monotonic()
            if now - self.drawn >= REDRAW:
                self.drawn = now
                line = progress_line(list(self.meters.values()), self.began, now)
                self.stream.write("\r\x1b[K" + line[: max(self.width, 20)])
                self.stream.flush()

    def finished(self, title: str, transferred: int, reused: bool) -> None:
        with self.lock:
            meter = self.meters.get(title)
            if meter is not None:
                meter.active = False
                meter.done = meter.total

    def close(self) -> None:
        with self.lock:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
