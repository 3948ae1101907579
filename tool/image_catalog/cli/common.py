"""Pieces shared by the subcommands' parsers: options, the help's layout, terminal progress.

Only parsing and terminal output live here: what a value means, and whether it is acceptable, is
decided by the command's settings (`commands/`) or the core, where a library caller gets the same
answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from image_catalog.errors import ExitCode
from image_catalog.text import printable_lines

# What each exit code means, one line per meaning: a command's help lists the lines of the codes
# it can return (`exit_codes_help`), which its errors' classes decide (`errors.py`). A usage error,
# an internal error and a signal can end any command, so every help lists them.
EXIT_CODES: dict[str, tuple[ExitCode, str]] = {
    "done": (ExitCode.OK, "done"),
    "valid": (ExitCode.OK, "the catalog is valid (with --online: every reference was checked)"),
    "published": (ExitCode.OK, "the manifest is written (or the same digests were already)"),
    "available": (ExitCode.OK, "every entry is available"),
    "wrong": (ExitCode.INVALID, "an input is wrong (messages name file, line and field)"),
    "invalid": (
        ExitCode.INVALID,
        "the catalog is invalid: every problem is listed (file, line, field)",
    ),
    "refused": (ExitCode.INVALID, "an input is wrong, or the registry's answer does not match it"),
    "unbuilt": (
        ExitCode.INVALID,
        "the catalog is invalid (every problem is listed), or --out cannot be written",
    ),
    "unexported": (
        ExitCode.INVALID,
        "the catalog is invalid, an entry cannot be expressed, or --out cannot be written",
    ),
    "stale": (ExitCode.INVALID, "with --check: a schema file is missing or out of date"),
    "untrusted": (ExitCode.INVALID, "an input is wrong, or the index failed its checks (--trust)"),
    "unverified": (
        ExitCode.INVALID,
        "an input is wrong, or a file failed its size or sha256 check",
    ),
    "unhealthy": (
        ExitCode.INVALID,
        "some entries are missing, changed or failed, or an input is wrong",
    ),
    "usage": (ExitCode.USAGE, "usage error"),
    "internal": (
        ExitCode.INTERNAL,
        "unexpected internal error: a crash report is written (--debug shows the traceback)",
    ),
    "unavailable": (
        ExitCode.UNAVAILABLE,
        "a server could not be reached or refused the credentials: retry",
    ),
    "registry": (
        ExitCode.UNAVAILABLE,
        "a registry could not be reached or refused the credentials: retry",
    ),
    "index": (ExitCode.UNAVAILABLE, "the index could not be reached and no copy is cached: retry"),
    "pull": (
        ExitCode.UNAVAILABLE,
        "the index or a registry could not be reached, or refused: retry",
    ),
    "unchecked": (ExitCode.UNAVAILABLE, "some entries could not be checked: retry"),
    "check": (
        ExitCode.UNAVAILABLE,
        "some entries could not be checked, or --previous could not be read: retry",
    ),
    "status": (ExitCode.UNAVAILABLE, "with --status URL: the status could not be fetched: retry"),
    "interrupted": (ExitCode.INTERRUPTED, "interrupted (Ctrl-C); what was begun is cleaned up"),
    "terminated": (ExitCode.TERMINATED, "terminated (SIGTERM); what was begun is cleaned up"),
}

# The outcomes any command can have, beside those it names.
EVERY_COMMAND = ("usage", "internal", "interrupted", "terminated")


def exit_codes_help(outcomes: Iterable[str]) -> str:
    """The `exit codes:` section of a help: the lines of `outcomes` and of EVERY_COMMAND, by code.

    Without a line for 0 of its own, a command says `0  done`.
    """
    chosen = [*outcomes, *EVERY_COMMAND]
    if all(EXIT_CODES[name][0] != ExitCode.OK for name in chosen):
        chosen.insert(0, "done")
    lines = sorted((EXIT_CODES[name] for name in dict.fromkeys(chosen)), key=lambda line: line[0])
    return "exit codes:\n" + "".join(f"  {int(code):<4} {text}\n" for code, text in lines)


def examples_help(examples: Iterable[str]) -> str:
    """The `examples:` section of a help: command lines to run as they are."""
    return "examples:\n" + "".join(f"  {example}\n" for example in examples)


DEFAULT_CATALOG = Path("catalog")

# Every output form any command has, and what each is for: a command offers those it can render.
FORM_PURPOSES = {
    "text": "text for people",
    "json": "json for programs",
    "github": "github for workflow annotations",
}


def warn(warnings: Iterable[str]) -> None:
    """Each warning on standard error, escaped: it may quote any file or server."""
    for warning in warnings:
        print(f"warning: {printable_lines(warning)}", file=sys.stderr)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, with the terminal's width found as shutil finds it but without loading shutil
    (argparse makes a formatter for every option it adds; a query prints no help).

    A description or epilog is paragraphs separated by blank lines: prose is wrapped to the
    width; a paragraph with indented lines (examples, exit codes) is kept as written, so an
    example stays one line that can be pasted.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.strip("\n").split("\n\n"):
            if any(line.startswith(" ") for line in paragraph.splitlines()):
                paragraphs.append(textwrap.indent(paragraph, indent))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs) + "\n"


def _columns() -> int:
    """$COLUMNS, else the width of the terminal on standard output, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class Progress:
    """`checking: 12/200 entries` on one terminal line, rewritten in place; nothing when
    standard error is not a terminal (`Progress.on_terminal`)."""

    def __init__(self, label: str) -> None:
        self.label = label

    @classmethod
    def on_terminal(cls, label: str) -> Progress | None:
        return cls(label) if sys.stderr.isatty() else None

    def __call__(self, done: int, total: int) -> None:
        sys.stderr.write(f"\r{self.label}: {done}/{total} entries")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    parent.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an unexpected error",
    )
    return parent


def add_catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        type=Path,
        default=Path(os.environ.get("IMAGE_CATALOG_DIR", DEFAULT_CATALOG)),
        metavar="DIR",
        help="the catalog folder (default: $IMAGE_CATALOG_DIR or ./catalog)",
    )


def add_subcommand(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    *,
    examples: Sequence[str],
    exits: Sequence[str],
    listed: bool = True,
) -> argparse.ArgumentParser:
    """The parser of a command: `summary` is its line in the list of commands and the first line
    of its help; `exits` names its outcomes in EXIT_CODES (not those of EVERY_COMMAND);
    `listed=False` leaves it out of the list (its parent lists it in its own words)."""
    # argparse lists a subcommand when it is given a help, even None.
    listing: dict[str, Any] = {"help": summary} if listed else {}
    return subparsers.add_parser(
        name,
        description=f"{summary[0].upper()}{summary[1:]}.\n\n{description}",
        epilog=f"{examples_help(examples)}\n{exit_codes_help(exits)}",
        formatter_class=HelpFormatter,
        parents=[common_parent()],
        **listing,
    )


def add_format_option(parser: argparse.ArgumentParser, *forms: str) -> None:
    """`--format FORM` (text, the default, and `forms`), with `--json` the same as
    `--format json`: every command spells its output choice so, with the same help.

    A form the command does not have is a usage error (exit 2) that lists the ones it has.
    """
    choices = ("text", *forms)
    purposes = ", ".join(FORM_PURPOSES[form] for form in choices)
    parser.add_argument(
        "--format", choices=choices, default="text", help=f"{purposes} (default: text)"
    )
    if "json" in choices:
        parser.add_argument(
            "--json",
            action="store_const",
            const="json",
            dest="format",
            help="the same as --format json",
        )


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="check every file afresh, without reading or writing the cache of earlier checks "
        "(.cache/image-catalog/ at the top of the git work tree)",
    )
