"""Command-line arguments of the commands that talk to registries (`validate --online`, `check`):
how many entries at once, and how long and how often to try each registry call."""

from __future__ import annotations

import argparse

DEFAULT_WORKERS = 8
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3


def add_registry_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--workers, --timeout and --retries."""
    parser.add_argument(
        "--workers",
        type=positive,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"entries checked at the same time (default: {DEFAULT_WORKERS}; each registry's "
        "spec.maxConcurrency still applies)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per registry call (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--retries",
        type=int,
        choices=range(11),
        default=DEFAULT_RETRIES,
        metavar="N",
        help="retries of a call that found the registry unreachable or failing (default: "
        f"{DEFAULT_RETRIES})",
    )


def seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds from 0 to 3600")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value
