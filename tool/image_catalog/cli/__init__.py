"""The `image-catalog` command: argument parsing and printing around the library.

This is the one boundary that turns exceptions into exit codes: 0 done, 1 the catalog or input is
wrong, 2 usage error, 3 unexpected internal error (which writes a crash report, `cli.crash`), 4 a
registry could not be reached (retry), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Command modules are imported only when needed: `image-catalog query ...` imports the query
module alone, so a consumer's query does not load the catalog's authoring side (pydantic, YAML,
git); a bare `image-catalog` or `--help` imports them all to list them. Where the authoring extra
is not installed (a reader install), an authoring command is listed all the same, and running it
says what to install (`cli.authoring`).
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from image_catalog import __version__, collector
from image_catalog.cli.authoring import READER_COMMANDS, add_unavailable_parser, missing_libraries
from image_catalog.cli.common import HelpFormatter, common_parent, examples_help, exit_codes_help
from image_catalog.cli.signals import Terminated, terminate_like_interrupt
from image_catalog.errors import ExitCode, ImageCatalogError
from image_catalog.text import printable_lines

# Command -> the module under image_catalog.cli that adds its parser, in the order of the help.
COMMANDS: dict[str, str] = {
    "validate": "validate_cmd",
    "publish": "publish_cmd",
    "schema": "schema_cmd",
    "audit": "audit_cmd",
    "index": "index_cmd",
    "query": "query_cmd",
    "show": "query_cmd",
    "pull": "pull_cmd",
    "export": "export_cmd",
    "check": "check_cmd",
    "handoff": "handoff_cmd",
}
# What adds one command module's parsers (its `add_parser`), or an unavailable command's.
_AddParser: TypeAlias = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


# The top-level help's examples: the first steps of a catalog's maintainer and of its consumer.
_EXAMPLES = (
    "image-catalog validate --catalog catalog",
    "image-catalog index build --catalog catalog --out site",
    "image-catalog query --index site --arch arm64",
    "image-catalog show autosd10-rpi4 --index site",
)


def _adders(argv: Sequence[str] | None) -> list[_AddParser]:
    """What adds the parsers: the named command's module alone, else every one (for help); an
    authoring command without the authoring extra, a parser that says what to install."""
    word = _command_word(sys.argv[1:] if argv is None else argv)
    names = [word] if word in COMMANDS else list(COMMANDS)
    missing = [] if READER_COMMANDS.issuperset(names) else missing_libraries()
    adders: dict[str, _AddParser] = {}  # by module: one adds query and show
    for name in names:
        if missing and name not in READER_COMMANDS:
            adders[name] = functools.partial(add_unavailable_parser, name=name, missing=missing)
        elif COMMANDS[name] not in adders:
            module = importlib.import_module(f"image_catalog.cli.{COMMANDS[name]}")
            adders[COMMANDS[name]] = module.add_parser
    return list(adders.values())


def _command_word(argv: Sequence[str]) -> str | None:
    """The first argument that is not an option; None when help or the version comes first."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (default: sys.argv): every command, or the one `argv` names."""
    parser = argparse.ArgumentParser(
        prog="image-catalog",
        description="A GitOps catalog of published automotive OS images: validate the manifests, "
        "publish new versions, build and query the static index.",
        epilog=f"{examples_help(_EXAMPLES)}\n{exit_codes_help(['wrong', 'unavailable'])}",
        formatter_class=HelpFormatter,
        parents=[common_parent()],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(debug=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser in _adders(argv):
        add_parser(subparsers)
    return parser


# A command makes up to millions of long-lived objects (the facts of every entry, the site's
# documents) and few reference cycles: with the collector's default threshold (700 allocations)
# it scanned them over and over, seconds of a large index build. It runs a hundred times less
# often here; cycles are still collected.
_COLLECT_EVERY = 100_000

# Commands whose process ends as soon as they return (run as a program, not called with argv): the
# collector's last passes over every module and object at exit cost a query a tenth of its time,
# and the reader leaves no cycles behind to collect, so its objects are frozen out of them.
_FREEZE_AT_EXIT = frozenset({"query", "show"})


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(_COLLECT_EVERY, *gc.get_threshold()[1:])
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.program = argv is None  # the process ends when the command returns
    if args.program:
        collector.freeze_after_pauses()
    try:
        with terminate_like_interrupt():
            return int(args.run(args))
    except ImageCatalogError as exc:
        # A message may quote any file, server or resource: escaped, as all output.
        print(f"error: {printable_lines(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except Terminated:
        print("terminated", file=sys.stderr)
        return int(ExitCode.TERMINATED)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:
        _report_crash(exc, sys.argv[1:] if argv is None else argv, debug=args.debug)
        return int(ExitCode.INTERNAL)
    finally:
        if argv is None and args.command in _FREEZE_AT_EXIT:
            gc.freeze()


def _report_crash(error: Exception, argv: Sequence[str], *, debug: bool) -> None:
    """An unexpected error: a crash report, named on standard error (with --debug, the traceback
    too); when the report cannot be written, the traceback with --debug, else one line."""
    import traceback

    from image_catalog.cli.crash import write_crash_log

    if debug:
        traceback.print_exception(error)
    path = write_crash_log(error, ["image-catalog", *argv])
    said = f"{type(error).__name__}: {printable_lines(str(error))}"
    if path is not None:
        print(
            f"internal error: {said}; a crash report is in {path} "
            "(please attach it to a bug report)",
            file=sys.stderr,
        )
    elif not debug:
        print(
            f"internal error: {said} (run again with --debug for the traceback, and report it)",
            file=sys.stderr,
        )
