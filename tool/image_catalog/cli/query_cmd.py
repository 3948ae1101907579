"""`image-catalog query` and `image-catalog show`: read a published index, locally or over HTTP."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from image_catalog.cli.common import add_format_option, add_subcommand, warn
from image_catalog.collector import paused
from image_catalog.commands.query import QuerySettings, ShowSettings, query, show
from image_catalog.errors import ExitCode
from image_catalog.reader.client import QueryResult, ShowResult
from image_catalog.site import contract
from image_catalog.site.contract import Source, TargetRef, VariantDetail, VariantRef, VersionDoc
from image_catalog.text import BIDI, printable


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    query_parser = add_subcommand(
        subparsers,
        "query",
        "list images from the index",
        "List the newest version of every image that matches all the filters (an image's newest "
        "version is chosen first, deprecated ones skipped, then filtered), newest first. "
        "Architecture and distro aliases are accepted (arm64 = aarch64, amd64 = x86_64). Over "
        "HTTP an unreachable server falls back to the cached copy, with a warning.",
        examples=[
            "image-catalog query --index site --arch arm64",
            "image-catalog query --index https://images.example.com/catalog/ --target rpi4 --json",
        ],
        exits=["untrusted", "index"],
    )
    QuerySettings.register_argparse_arguments(query_parser)
    add_format_option(query_parser, "json")
    query_parser.set_defaults(run=run_query)

    show_parser = add_subcommand(
        subparsers,
        "show",
        "show one image version in full",
        "Show an image's latest version (or NAME@VERSION): every architecture variant with its "
        "digest-pinned reference, and every artifact with its download URL and sha256.",
        examples=[
            "image-catalog show autosd10-rpi4 --index site",
            "image-catalog show autosd10-rpi4@10.0.1 --index site --json",
        ],
        exits=["untrusted", "index"],
    )
    ShowSettings.register_argparse_arguments(show_parser)
    add_format_option(show_parser, "json")
    show_parser.set_defaults(run=run_show)


def run_query(args: argparse.Namespace) -> int:
    with paused():  # reading an index makes many objects, in no cycle
        result = query(QuerySettings.from_argparse(args))
        warn(result.warnings)
        if args.format == "json":
            rows = result.encoded_images()
            _print_rows(result.source, rows)
        else:
            rows = []
            _print_table(result)
        if getattr(args, "program", False):
            _keep_to_the_end(result, rows)
        return int(ExitCode.OK)


def run_show(args: argparse.Namespace) -> int:
    with paused():  # reading an index makes many objects, in no cycle
        result = show(ShowSettings.from_argparse(args))
        warn(result.warnings)
        if args.format == "json":
            _print_json(result.version)
        else:
            sys.stdout.write(render_show(result))
        return int(ExitCode.OK)


def _print_json(document: Any) -> None:
    """JSON with sorted keys, in the site's field names (UTF-8, not escaped).

    Indented for a terminal; compact for a program (a pipe or a file), which reads it faster and
    gets it faster: indenting costs as much as the whole query over a large index.
    """
    data = contract.encode(document)
    if sys.stdout.isatty():
        data = terminal_json(msgspec.json.format(data, indent=2))
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        sys.stdout.write(data.decode("utf-8") + "\n")
        return
    sys.stdout.flush()
    stream.write(data)
    stream.write(b"\n")


# What the JSON encoder writes as it is but a terminal would act on or reorder: DEL, C1 controls
# and bidi controls (C0 controls are escaped by the encoder already).
_TERMINAL_UNSAFE = re.compile(f"[\x7f-\x9f{BIDI}]")


def terminal_json(data: bytes) -> bytes:
    """JSON for a terminal: every character it would act on written as a \\uXXXX escape.

    The same JSON value, since such characters only occur inside strings; a program reading a
    pipe gets the bytes as published.
    """
    text = data.decode("utf-8")
    if _TERMINAL_UNSAFE.search(text) is None:
        return data
    escaped = _TERMINAL_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return escaped.encode("utf-8")


def _print_rows(source: str, rows: list[msgspec.Raw]) -> None:
    """`_print_json({"source": source, "images": rows})`, the same bytes, written faster.

    For a program (a pipe or a file) the rows are written as they are, straight from the file
    they were read from: the document around them is never assembled, a copy of the whole index.
    """
    stream = getattr(sys.stdout, "buffer", None)
    writev = getattr(os, "writev", None)
    if stream is None or writev is None or sys.stdout.isatty():
        _print_json({"source": source, "images": rows})
        return
    # What the encoder writes for that dict: keys sorted, compact, each Raw as it is.
    parts: list[bytes | memoryview] = [b","] * (2 * len(rows) - 1) if rows else []
    parts[::2] = rows
    parts.insert(0, b'{"images":[')
    parts.append(b'],"source":' + contract.encode(source) + b"}\n")
    sys.stdout.flush()
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # a stream in memory (io.UnsupportedOperation)
        stream.write(b"".join(parts))
        return
    write_all(writev, fd, parts)


_IOV_MAX = 1024  # buffers per writev: what POSIX systems allow at least


def write_all(
    writev: Callable[[int, Sequence[bytes | memoryview]], int],
    fd: int,
    parts: list[bytes | memoryview],
) -> None:
    """Every byte of `parts` to `fd`, in order, a thousand buffers per system call.

    `writev` is `os.writev` (a test passes one that writes less than asked): a short write is
    continued from the byte it stopped at. `parts` is changed in place.
    """
    start = 0
    while start < len(parts):
        batch = parts[start : start + _IOV_MAX]
        written = writev(fd, batch)
        if written == sum(map(len, batch)):
            start += len(batch)
            continue
        while start < len(parts) and written >= len(parts[start]):
            written -= len(parts[start])
            start += 1
        if written:  # a short write ended inside this part: its rest goes next
            parts[start] = memoryview(parts[start])[written:]


class _Kept(msgspec.Struct, gc=False):
    """What `_keep_to_the_end` keeps: it refers to itself, unseen by the garbage collector."""

    held: tuple[object, ...]
    itself: object = None


def _keep_to_the_end(*things: object) -> None:
    """Never free `things` (and what they hold): for a command that is the process's program.

    Freeing a large index's documents one object at a time costs a query over 20,000 versions a
    tenth of its time, at exit, for nothing: the system takes the process's memory back at once.
    Python's exit frees what modules hold; a cycle the collector cannot see is never freed.
    """
    kept = _Kept(things)
    kept.itself = kept


# --- text ---------------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], headers: Sequence[str] = (), indent: str = "") -> str:
    """Columns padded to their widest cell; the last column is not padded.

    Cells come from the index, which anyone who can publish to the catalog writes into: anything
    a terminal would act on (escape sequences, line breaks, bidi controls) is shown escaped.
    """
    rows = [[printable(cell) for cell in row] for row in rows]
    every = [headers, *rows] if headers else list(rows)
    widths = [max(len(r[i]) for r in every) for i in range(len(every[0]))]
    lines = []
    for row in every:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append(indent + "  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def _targets(targets: Sequence[TargetRef]) -> str:
    return ",".join(t.name + ("*" if t.verified else "") for t in targets)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def kind(variants: Sequence[VariantRef]) -> str:
    """What a version holds, from its variants' kinds: disk, container, or both (a container
    image and a disk image, for one architecture or between them)."""
    kinds = {v.kind for v in variants}
    if len(kinds) > 1:
        return "both"
    return kinds.pop() if kinds else "-"


def _print_table(result: QueryResult) -> None:
    if not result.images:
        print(f"no image matches ({result.source})", file=sys.stderr)
        return
    headers = ["NAME", "VERSION", "DISTRO", "ARCH", "KIND", "TARGETS", "TAGS", "PUBLISHED"]
    deprecated = any(s.deprecated for s in result.images)
    checked = any(s.health is not None for s in result.images)
    if checked:
        headers.append("HEALTH")
    if deprecated:
        headers.append("STATUS")
    rows = []
    for s in result.images:
        row = [s.name, s.version, s.distro, ",".join(s.architectures), kind(s.variants)]
        row.append(_targets(s.targets))
        row += [",".join(s.tags) or "-", _when(s.published_at)]
        if checked:
            row.append(s.health or "-")
        if deprecated:
            row.append("deprecated" if s.deprecated else "")
        rows.append(row)
    sys.stdout.write(table(rows, headers))
    if any(t.verified for s in result.images for t in s.targets):
        sys.stdout.write("(* verified on the board)\n")


def _status(result: ShowResult) -> str:
    doc = result.version
    if doc.deprecation is not None:
        text = f"deprecated on {doc.deprecation.date}: {doc.deprecation.reason.rstrip('.')}"
    elif doc.deprecated:
        text = "deprecated"
    elif result.latest is not None and result.latest == doc.version:
        text = "current (the latest version)"
    else:
        text = "current"
    if doc.superseded_by:
        text += f"; superseded by {doc.superseded_by}"
    return text


def _source(source: Source) -> str:
    if source.image_build is not None:
        built = source.image_build
        origin = (
            f"ImageBuild {built.namespace}/{built.name}, completed {_iso(built.completion_time)}"
        )
        if built.schedule:
            origin += f", by schedule {built.schedule}"
        return origin
    # Neither is an index no catalog builds; said as the other unknowns are.
    return f"prebuilt: {source.prebuilt.origin}" if source.prebuilt else "-"


def _built_with(doc: VersionDoc) -> str:
    """What an ImageBuild was built with: its AIB manifest, AIB and builder images."""
    facts: list[str] = []
    built = doc.source.image_build
    if built is not None:
        if built.manifest:
            config_map = f" (ConfigMap {built.manifest_config_map})"
            facts.append(
                f"manifest {built.manifest}" + (config_map if built.manifest_config_map else "")
            )
        facts += [f"AIB {built.aib_image}"] if built.aib_image else []
        facts += [f"builder {built.builder_image}"] if built.builder_image else []
    return ", ".join(facts)


def _summary_lines(result: ShowResult) -> list[tuple[str, str]]:
    doc = result.version
    distro = doc.distro + (f" (written {doc.distro_as_written})" if doc.distro_as_written else "")
    if doc.distro_version:
        distro += f", version {doc.distro_version}"
    targets = ", ".join(t.name + (" (verified)" if t.verified else "") for t in doc.targets)
    lines = [
        ("description", doc.description or "-"),
        ("distro", distro),
        ("targets", targets),
        ("architectures", ", ".join(doc.architectures)),
        ("tags", ", ".join(doc.tags) or "-"),
    ]
    build = ", ".join(x for x in (doc.build_mode, doc.export_format) if x)
    if build:  # else the source line says where it came from
        lines.append(("build", build))
    lines += [("published", _iso(doc.published_at)), ("status", _status(result))]
    lines.append(("source", _source(doc.source)))
    built_with = _built_with(doc)
    if built_with:
        lines.append(("built with", built_with))
    if doc.health is not None:
        since = f" since {_iso(doc.health_since)}" if doc.health_since else ""
        lines.append(("health", f"{doc.health}{since}"))
    if result.versions:
        shown = [v + (" (latest)" if v == result.latest else "") for v in result.versions]
        lines.append(("versions", ", ".join(shown)))
    if doc.index is not None:
        lines.append(("image index", doc.index.ref))
    return lines


def _architecture(variant: VariantDetail) -> str:
    return variant.architecture + (
        f"/{variant.platform_variant}" if variant.platform_variant else ""
    )


# Which tool takes which of a variant's two references. skopeo reads `oci:` as an image layout
# folder on the local disk, never a registry: it is given the plain one, as `docker://REF`.
PULL_LABEL = "pull:"
FLASH_LABEL = "flash (oci://):"
REFERENCES_NOTE = (
    "  pull: podman pull REF (a container), oras pull REF, skopeo copy docker://REF (to skopeo\n"
    "  oci: is a local folder); flash (oci://): j storage flash oci://REF (Jumpstarter)\n"
)


def _variant_rows(variants: Sequence[VariantDetail]) -> tuple[list[str], list[list[str]]]:
    """Two rows a variant: its plain reference (pull:), then its oci:// one (flash)."""
    health = any(v.health is not None for v in variants)
    # The state before the references, whose width varies.
    headers = ["ARCH", "KIND", *(["HEALTH"] if health else []), "REFERENCE", ""]
    rows = []
    for v in variants:
        # The CPU variant, when the image says one, as OCI platforms write it (aarch64/v8).
        first = [_architecture(v), v.kind]
        if health:
            since = f" since {_iso(v.health_since)}" if v.health_since else ""
            first.append(f"{v.health}{since}" if v.health else "-")
        rows.append([*first, PULL_LABEL, v.ref])
        rows.append([""] * len(first) + [FLASH_LABEL, v.oci])
    return headers, rows


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if count >= 1024**power:
            return f"{count / 1024**power:.1f} {unit}"
    raise AssertionError("unreachable")


def render_show(result: ShowResult) -> str:
    doc = result.version
    out = [printable(f"{doc.name} {doc.version}: {doc.display_name}") + "\n"]
    out.append(table(_summary_lines(result), indent="  "))
    out.append("\nvariants\n")
    headers, rows = _variant_rows(doc.variants)
    out.append(table(rows, headers, indent="  "))
    out.append(REFERENCES_NOTE)
    artifacts = [(v, a) for v in doc.variants for a in v.artifacts]
    if artifacts:
        out.append("\nartifacts\n")
    for variant, artifact in artifacts:
        facts = [f"partition {artifact.partition}" if artifact.partition else "whole disk"]
        facts += [x for x in (artifact.format, artifact.compression) if x]
        size = _size(artifact.size)
        if artifact.decompressed_size is not None:
            size += f", {_size(artifact.decompressed_size)} decompressed"
        line = f"  {variant.architecture}  {artifact.title}  ({', '.join(facts)}; {size})"
        out.append(printable(line) + "\n")
        out.append(printable(f"    sha256  {artifact.sha256}") + "\n")
        out.append(printable(f"    url     {artifact.url}") + "\n")
    return "".join(out)
