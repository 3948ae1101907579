"""Renderings of a validation report: text for people, JSON for programs, GitHub annotations."""

from __future__ import annotations

import json

from image_catalog.catalog.validate import ValidationReport


def summary(report: ValidationReport) -> str:
    checked = f"{report.images} images, {report.registries} registries"
    mode = "online" if report.online else "offline"
    errors = report.errors
    if report.ok and not report.unchecked:
        return f"catalog {report.catalog} is valid ({checked}, {mode} checks)"
    parts = []
    if errors:
        files = len({p.file for p in errors})
        noun = "problem" if len(errors) == 1 else "problems"
        parts.append(f"{len(errors)} {noun} in {files} file{'s' if files != 1 else ''}")
    if report.unchecked:
        count = len(report.unchecked)
        noun = "entry" if count == 1 else "entries"
        parts.append(f"{count} {noun} could not be checked online (retry)")
    return f"catalog {report.catalog}: {'; '.join(parts)} ({checked}, {mode} checks)"


def render_text(report: ValidationReport) -> str:
    lines = [str(p) if p.severity == "error" else f"{p} (warning)" for p in report.problems]
    lines += [f"not checked: {entry}" for entry in report.unchecked]
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def render_json(report: ValidationReport) -> str:
    document = {
        "catalog": report.catalog,
        "valid": report.ok,
        "online": report.online,
        "counts": {
            "images": report.images,
            "registries": report.registries,
            "files": report.files,
            "errors": len(report.errors),
            "warnings": len(report.problems) - len(report.errors),
        },
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "field": p.field or None,
                "message": p.message,
                "code": p.code,
                "severity": p.severity,
            }
            for p in report.problems
        ],
        "unchecked": report.unchecked,
    }
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: ValidationReport) -> str:
    """Workflow commands that GitHub shows as annotations on the pull request's files."""
    lines = []
    for p in report.problems:
        props = [f"file={_escape_property(p.file)}"]
        if p.line is not None:
            props.append(f"line={p.line}")
        if p.column is not None:
            props.append(f"col={p.column}")
        if p.path:
            props.append(f"title={_escape_property(p.field)}")
        lines.append(f"::{p.severity} {','.join(props)}::{_escape_data(p.message)}")
    lines += [f"::warning::{_escape_data('not checked online: ' + e)}" for e in report.unchecked]
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "github": render_github}
