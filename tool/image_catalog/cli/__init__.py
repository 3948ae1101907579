"""The `image-catalog` command: argument parsing and printing around the library.

This is the one boundary that turns exceptions into exit codes: 0 done, 1 the catalog or input is
wrong, 2 usage error, 3 unexpected internal error, 4 a registry could not be reached (retry), 130
interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from image_catalog import __version__
from image_catalog.cli import (
    audit_cmd,
    check_cmd,
    export_cmd,
    handoff_cmd,
    index_cmd,
    publish_cmd,
    query_cmd,
    schema_cmd,
    validate_cmd,
)
from image_catalog.cli.common import COMMANDS_HELP, common_parent
from image_catalog.cli.signals import Terminated, terminate_like_interrupt
from image_catalog.errors import ExitCode, ImageCatalogError

COMMANDS = [
    validate_cmd,
    publish_cmd,
    schema_cmd,
    audit_cmd,
    index_cmd,
    query_cmd,
    export_cmd,
    check_cmd,
    handoff_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image-catalog",
        description="A GitOps catalog of published automotive OS images: validate the manifests, "
        "publish new versions, build and query the static index.",
        epilog=COMMANDS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_parent()],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(debug=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_like_interrupt():
            return int(args.run(args))
    except ImageCatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the "
                "traceback, and report it)",
                file=sys.stderr,
            )
        return int(ExitCode.INTERNAL)
