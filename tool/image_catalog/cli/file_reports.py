"""The reporters of the commands that write files (index build, export crs, schema, handoff
unpack): the text form is the summary they always printed, the json form one document on `out`
with the same facts, and, where a command offers it, the github form annotations.

Warnings go to `err` in every form, as `warning: ...` lines; the json form also lists them, so a
program reading only standard output misses nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from image_catalog.cli.reporters import Reporter, annotation, problem_annotation
from image_catalog.text import printable_lines

if TYPE_CHECKING:  # each command loads only what its own results are made of
    from image_catalog.commands.build_index import BuildResult
    from image_catalog.commands.export import Export
    from image_catalog.commands.handoff import HandoffResult
    from image_catalog.commands.schema import SchemaResult


def _warn(reporter: Reporter[Any], warnings: list[str] | tuple[str, ...]) -> None:
    for warning in warnings:
        reporter.err.write(f"warning: {printable_lines(warning)}\n")


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


class BuildReporter(Reporter["BuildResult"]):
    """`index build`: what was built, its size, and by which key it is signed."""

    def text(self, result: BuildResult) -> None:
        _warn(self, result.warnings)
        self.out.write("".join(line + "\n" for line in self.lines(result)))

    def json(self, result: BuildResult) -> None:
        _warn(self, result.warnings)
        self._dump(
            {
                "out": str(result.out),
                "commit": result.commit,
                "dirty": result.dirty,
                "images": result.images,
                "versions": result.versions,
                "files": result.files,
                "totalBytes": result.total_bytes,
                "indexBytes": result.index_size,
                "indexGzipBytes": result.index_gzip_size or None,
                "signedBy": result.signed_by,
                "warnings": list(result.warnings),
            }
        )

    def github(self, result: BuildResult) -> None:
        _warn(self, result.warnings)
        lines = [annotation("warning", w) for w in result.warnings]
        lines += [annotation("notice", line) for line in self.lines(result)]
        self.out.write("".join(line + "\n" for line in lines))

    @staticmethod
    def lines(result: BuildResult) -> list[str]:
        commit = result.commit[:12] if result.commit else "no git commit"
        if result.dirty:
            commit += " plus uncommitted changes"
        gzipped = (
            f", {_size(result.index_gzip_size)} gzipped"
            if result.index_gzip_size
            else " (small enough to be served without a .gz)"
        )
        lines = [
            f"{result.out}: index of {result.versions} versions of {result.images} images "
            f"({commit}): {result.files} files, {_size(result.total_bytes)}; index.json "
            f"{_size(result.index_size)}{gzipped}"
        ]
        if result.signed_by is not None:
            lines.append(
                f"{result.out}: SHA256SUMS signed (SHA256SUMS.sig) by ED25519 key "
                f"{result.signed_by}"
            )
        return lines


class ExportReporter(Reporter["Export"]):
    """`export crs`: the resources written, and the entries left out and why (file and line)."""

    def __init__(self, *args: Any, out_dir: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out_dir = out_dir

    def text(self, result: Export) -> None:
        _warn(self, result.warnings)
        _warn(self, [f"not exported: {problem}" for problem in result.skipped])
        self.out.write(self.summary(result) + "\n")

    def json(self, result: Export) -> None:
        _warn(self, result.warnings)
        self._dump(
            {
                "out": self.out_dir,
                "resources": sorted(r.file for r in result.resources),
                "deprecatedLeftOut": result.deprecated_left_out,
                "skipped": [
                    {"file": p.file, "line": p.line, "field": p.field or None, "message": p.message}
                    for p in result.skipped
                ],
                "commit": result.commit,
                "warnings": result.warnings,
            }
        )

    def github(self, result: Export) -> None:
        _warn(self, result.warnings)
        lines = [annotation("warning", w) for w in result.warnings]
        lines += [problem_annotation(p, "warning") for p in result.skipped]
        lines.append(annotation("notice", self.summary(result)))
        self.out.write("".join(line + "\n" for line in lines))

    def summary(self, result: Export) -> str:
        left = result.deprecated_left_out
        left_out = (
            f"; {left} deprecated {'version' if left == 1 else 'versions'} left out" if left else ""
        )
        return (
            f"{self.out_dir}: {len(result.resources)} CatalogImage resources, listed in "
            f"kustomization.yaml{left_out}"
        )


class SchemaReporter(Reporter["SchemaResult"]):
    def text(self, result: SchemaResult) -> None:
        self.out.write(self.summary(result) + "\n")

    def json(self, result: SchemaResult) -> None:
        self._dump(
            {
                "directory": str(result.directory),
                "schemas": result.total,
                "checked": result.checked,
                "written": result.written,
            }
        )

    @staticmethod
    def summary(result: SchemaResult) -> str:
        if result.checked:
            return f"{result.directory}: {result.total} schemas are up to date"
        return f"{result.directory}: wrote {len(result.written)} of {result.total} schemas"


class HandoffReporter(Reporter["HandoffResult"]):
    def text(self, result: HandoffResult) -> None:
        self.out.write("".join(f"{path}\n" for path in result.paths))

    def json(self, result: HandoffResult) -> None:
        self._dump({"catalog": str(result.catalog), "copied": result.paths})
