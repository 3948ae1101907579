"""One reporter per result type (validate, review, audit, publish), each with the same forms:
text for people, json for programs, github for workflow annotations. A reporter writes to the
streams it is given; the command picks the form by name (`FORMATS`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

from image_catalog.catalog.problems import Problem
from image_catalog.errors import UsageError
from image_catalog.text import printable

if TYPE_CHECKING:  # each command loads only what its own results are made of
    from image_catalog.catalog.audit import AuditEvent, AuditLog
    from image_catalog.catalog.git import Person
    from image_catalog.catalog.review import ChangeSet
    from image_catalog.catalog.validate import ValidationReport
    from image_catalog.commands.publish import PublishResult

R = TypeVar("R")


class Reporter(Generic[R]):
    """Renders one type of result. `out` takes the result; `err` the remarks around it; the
    github form may append a summary to `step_summary` ($GITHUB_STEP_SUMMARY), when given."""

    def __init__(self, out: TextIO, err: TextIO, step_summary: str | None = None) -> None:
        self.out = out
        self.err = err
        self.step_summary = step_summary

    def report(self, form: str, result: R) -> None:
        forms: dict[str, Callable[[R], None]] = {
            "text": self.text,
            "json": self.json,
            "github": self.github,
        }
        forms[form](result)

    def text(self, result: R) -> None:
        raise NotImplementedError

    def json(self, result: R) -> None:
        raise NotImplementedError

    def github(self, result: R) -> None:
        raise NotImplementedError

    def _dump(self, document: object) -> None:
        self.out.write(json.dumps(document, indent=2) + "\n")

    def _append_step_summary(self, markdown: str) -> None:
        if not self.step_summary:
            return
        try:
            with open(self.step_summary, "a", encoding="utf-8") as stream:
                stream.write(markdown)
        except OSError as exc:
            raise UsageError(f"$GITHUB_STEP_SUMMARY ({self.step_summary}): {exc.strerror}") from exc


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub reads it.

    Line breaks stay line breaks (%0A); every other character a terminal or a log viewer would not
    show as itself (escape sequences, bidi overrides, zero-width characters) is written as an
    escape first, as in the text form, so catalog text cannot rewrite the log around it.
    """
    return "%0A".join(printable(line).replace("%", "%25") for line in text.split("\n"))


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, **properties: object) -> str:
    """`::level file=...,line=...::message`, the line GitHub shows as an annotation."""
    props = [
        f"{name}={escape_property(str(value))}"
        for name, value in properties.items()
        if value is not None
    ]
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def problem_annotation(problem: Problem, level: str | None = None) -> str:
    """The annotation of one problem, on its file, line and column (its severity by default)."""
    return annotation(
        level or problem.severity,
        problem.message,
        file=problem.file,
        line=problem.line,
        col=problem.column,
        title=problem.field if problem.path else None,
    )


@contextmanager
def refusals_annotated(form: str, out: TextIO) -> Iterator[None]:
    """In the github form, a command refused because the catalog is invalid also writes one
    error annotation per problem, before the refusal goes on to its message and exit code."""
    from image_catalog.catalog.report import InvalidCatalog

    try:
        yield
    except InvalidCatalog as exc:
        if form == "github":
            out.write("".join(problem_annotation(p) + "\n" for p in exc.report.errors))
        raise


# --- review: what a change did against its base -------------------------------------------------

_SECTIONS = ("added", "deprecated", "changed", "removed")


def _sections(changes: ChangeSet) -> Iterator[tuple[str, list[str]]]:
    for name in _SECTIONS:
        yield name, getattr(changes, name)


class ReviewReporter(Reporter["ChangeSet"]):
    def text(self, result: ChangeSet) -> None:
        self.out.write(self.summary(result))

    def json(self, result: ChangeSet) -> None:
        self._dump(self.document(result))

    def github(self, result: ChangeSet) -> None:
        self.out.write(self.markdown(result))

    @staticmethod
    def summary(changes: ChangeSet) -> str:
        counts = ", ".join(f"{len(ids)} {name}" for name, ids in _sections(changes))
        lines = [f"changes since {changes.base} ({changes.commit[:12]}): {counts}"]
        lines += [f"  {name}: {', '.join(ids)}" for name, ids in _sections(changes) if ids]
        return "\n".join(lines) + "\n"

    @staticmethod
    def markdown(changes: ChangeSet) -> str:
        """For `$GITHUB_STEP_SUMMARY`: one table row per kind of change."""
        base = changes.base.replace("`", "")
        lines = [
            f"### Catalog changes since `{base}` ({changes.commit[:12]})",
            "",
            "| change | entries |",
            "| --- | --- |",
        ]
        for name, ids in _sections(changes):
            listed = ", ".join(f"`{entry}`" for entry in ids) if ids else "none"
            lines.append(f"| {name} ({len(ids)}) | {listed} |")
        return "\n".join(lines) + "\n"

    @staticmethod
    def document(changes: ChangeSet) -> dict[str, Any]:
        document: dict[str, Any] = {"base": changes.base, "commit": changes.commit}
        document.update(_sections(changes))
        return document


# --- validate -------------------------------------------------------------------------------------


class ValidateReporter(Reporter["ValidationReport"]):
    """With a change under review, its summary comes first (text, github) or under "changes"
    (json); the github form also appends it to `step_summary` ($GITHUB_STEP_SUMMARY)."""

    def text(self, result: ValidationReport) -> None:
        # File names, keys and values come from the catalog: a newline or an escape sequence in
        # one must not forge a line or rewrite the terminal, so each line is escaped on its own.
        lines = [str(p) if p.severity == "error" else f"{p} (warning)" for p in result.problems]
        lines += [f"not checked: {entry}" for entry in result.unchecked]
        lines.append(self.summary(result))
        lines += [f"hint: {hint}" for hint in result.hints]
        text = "\n".join(printable(line) for line in lines)
        self.out.write(self._changes(result) + text + "\n")

    def json(self, result: ValidationReport) -> None:
        document: dict[str, Any] = {
            "catalog": result.catalog,
            "valid": result.ok,
            "online": result.online,
            "counts": {
                "images": result.images,
                "registries": result.registries,
                "files": result.files,
                "errors": len(result.errors),
                "warnings": len(result.problems) - len(result.errors),
            },
            "problems": [_problem(p) for p in result.problems],
            "unchecked": result.unchecked,
            "hints": result.hints,
        }
        if result.changes is not None:
            document["changes"] = ReviewReporter.document(result.changes)
        self._dump(document)

    def github(self, result: ValidationReport) -> None:
        lines = [problem_annotation(p) for p in result.problems]
        lines += [annotation("warning", "not checked online: " + e) for e in result.unchecked]
        lines.append(self.summary(result))
        lines += [annotation("notice", hint) for hint in result.hints]
        self.out.write(self._changes(result) + "\n".join(lines) + "\n")
        if result.changes is not None:
            markdown = ReviewReporter.markdown(result.changes)
            self._append_step_summary(f"{markdown}\n{self.summary(result)}\n")

    @staticmethod
    def _changes(result: ValidationReport) -> str:
        return ReviewReporter.summary(result.changes) if result.changes is not None else ""

    @staticmethod
    def summary(report: ValidationReport) -> str:
        images = f"{report.images} image{'s' if report.images != 1 else ''}"
        registries = f"{report.registries} regist{'ries' if report.registries != 1 else 'ry'}"
        checked = f"{images}, {registries}"
        mode = "online" if report.online else "offline"
        errors = report.errors
        if report.ok and not report.unchecked:
            return f"{report.catalog}: the catalog is valid ({checked}, {mode} checks)"
        parts = []
        if errors:
            files = len({p.file for p in errors})
            noun = "problem" if len(errors) == 1 else "problems"
            parts.append(f"{len(errors)} {noun} in {files} file{'s' if files != 1 else ''}")
        if report.unchecked:
            count = len(report.unchecked)
            noun = "entry" if count == 1 else "entries"
            parts.append(f"{count} {noun} could not be checked online (retry)")
        return f"{report.catalog}: {'; '.join(parts)} ({checked}, {mode} checks)"


def _problem(p: Problem) -> dict[str, Any]:
    return {
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "field": p.field or None,
        "message": p.message,
        "code": p.code,
        "severity": p.severity,
    }


# --- audit ----------------------------------------------------------------------------------------


class AuditReporter(Reporter["AuditLog"]):
    def text(self, result: AuditLog) -> None:
        # Names and messages come from commits, which anyone can write: shown escaped.
        self.out.write("".join(printable(self.line(event)) + "\n" for event in result.events))
        self._nothing(result)

    def json(self, result: AuditLog) -> None:
        self._dump(
            {
                "ref": result.ref,
                "commit": result.commit,
                "images": result.images,
                "events": [self.event(e) for e in result.events],
            }
        )

    def github(self, result: AuditLog) -> None:
        self.out.write(
            "".join(
                annotation("notice", self.line(e), file=e.path, title=e.entry) + "\n"
                for e in result.events
            )
        )
        self._nothing(result)

    def _nothing(self, result: AuditLog) -> None:
        if not result.events:
            self.err.write(f"no changes in {result.images} on {result.ref}\n")

    @staticmethod
    def line(event: AuditEvent) -> str:
        touched = f" ({', '.join(event.aspects)})" if event.aspects else ""
        pull_request = f"  #{event.pull_request}" if event.pull_request is not None else ""
        merged = f", merged by {event.commit.author}" if _merged(event) else ""
        return (
            f"{utc_text(event.time)}  {event.action:<12}  {event.entry}{touched}  "
            f"{event.commit.id[:12]}{pull_request}  by {event.change.author}{merged}"
        )

    @staticmethod
    def event(event: AuditEvent) -> dict[str, Any]:
        return {
            "entry": event.entry,
            "action": event.action,
            "aspects": list(event.aspects),
            "time": utc_text(event.time),
            "path": event.path,
            "commit": event.commit.id,
            "title": event.commit.title,
            "pullRequest": event.pull_request,
            "author": _person(event.change.author),
            "committer": _person(event.change.committer),
            "changeCommit": event.change.id,
            "mergedBy": _person(event.commit.author) if _merged(event) else None,
        }


def utc_text(time: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z, the form every date in the catalog uses."""
    from image_catalog.catalog.rules import rfc3339  # only the audit's report needs it

    return rfc3339(time)


def _person(person: Person) -> dict[str, str]:
    return {"name": person.name, "email": person.email, "time": utc_text(person.time)}


def _merged(event: AuditEvent) -> bool:
    """True when a merge brought in the change: its author and who merged it differ in role."""
    return event.change.id != event.commit.id


# --- publish --------------------------------------------------------------------------------------


class PublishReporter(Reporter["PublishResult"]):
    """The text form prints the manifest (dry run) or the pull request description (with a
    branch) on `out`, and what was done on `err`."""

    def text(self, result: PublishResult) -> None:
        if result.status == "dry-run":
            self.out.write(result.text)
        elif result.commit:
            self.out.write(result.pull_request or "")
        self.err.write(self.summary(result) + "\n")

    def json(self, result: PublishResult) -> None:
        self._dump(
            {
                "status": result.status,
                "id": result.id,
                "path": result.path,
                "existing": result.existing,
                "commit": result.commit,
                "branch": result.branch,
                "pullRequest": result.pull_request,
                "dependencies": result.dependencies,
                "registryCalls": result.registry_calls,
                "manifest": result.text,
            }
        )

    def github(self, result: PublishResult) -> None:
        self.out.write(annotation("notice", self.summary(result), file=result.path) + "\n")

    @staticmethod
    def summary(result: PublishResult) -> str:
        if result.status == "unchanged":
            return f"{result.id} already holds these digests ({result.path}); nothing to publish"
        if result.status == "dry-run":
            return f"dry run: would write {result.path}"
        text = f"published {result.id} to {result.path}"
        if result.commit:
            if result.dependencies:
                text += "\nwith the uncommitted catalog files it needs: " + ", ".join(
                    result.dependencies
                )
            text += (
                f"\ncommitted {result.commit[:12]} on branch {result.branch}, which is now "
                "checked out ('git switch -' goes back)"
            )
        return text
