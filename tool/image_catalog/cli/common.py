"""Pieces shared by the subcommands' parsers: options, the help's layout, terminal progress.

Only parsing and terminal output live here: what a value means, and whether it is acceptable, is
decided by the command's settings (`commands/`) or the core, where a library caller gets the same
answer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from image_catalog.text import printable_lines

COMMANDS_HELP = """exit codes:
  0  done, or the catalog is valid
  1  the catalog or an input is wrong (messages name file, line and field)
  2  usage error, or an authoring command without image-catalog[author] installed
  3  unexpected internal error: a crash report is written (--debug shows the traceback)
  4  a registry could not be reached or refused the credentials: checks are incomplete, retry
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM); either way cleaned up
"""

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
    (argparse makes a formatter for every option it adds; a query prints no help)."""

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
) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=COMMANDS_HELP,
        formatter_class=HelpFormatter,
        parents=[common_parent()],
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
