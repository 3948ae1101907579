"""Which commands need the authoring extra, and what stands in for them in a reader install.

`pip install image-catalog` installs the reader alone (msgspec): `query`, `show`, `pull` and the
Python client. Every other command reads or writes the catalog and needs `image-catalog[author]`
(pydantic, ruamel.yaml, PyYAML, pygit2, jinja2). When one of those libraries cannot be found, an
authoring command is still listed by `--help`, marked, and running it (with any arguments,
`--help` included) is a usage error, exit 2, that says what to install. The extra is one unit:
a command is offered only when all of it is there, so what works does not depend on which part of
the extra happens to be installed. The reader's commands never look for it.
"""

from __future__ import annotations

import argparse

from image_catalog.errors import UsageError

READER_COMMANDS = frozenset({"query", "show", "pull"})
AUTHOR_EXTRA = "image-catalog[author]"
# The `author` extra of pyproject.toml: the module each distribution is imported as.
AUTHOR_LIBRARIES = {
    "pydantic": "pydantic",
    "ruamel.yaml": "ruamel.yaml",
    "PyYAML": "yaml",
    "pygit2": "pygit2",
    "jinja2": "jinja2",
}
UNAVAILABLE_SUMMARY = f"needs the authoring extra: pip install '{AUTHOR_EXTRA}'"


class ExtraMissing(UsageError):
    """An authoring command run where the authoring extra is not installed."""


def missing_libraries() -> list[str]:
    """The distributions of the authoring extra whose module cannot be found (not imported)."""
    import importlib.util  # not on the reader's path: only help and authoring commands ask

    missing = []
    for distribution, module in AUTHOR_LIBRARIES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # ruamel.yaml's namespace package `ruamel` is missing
            found = False
        if not found:
            missing.append(distribution)
    return missing


def add_unavailable_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    missing: list[str],
) -> None:
    """`name` as a command that takes any arguments and fails saying what to install."""
    message = (
        f"'image-catalog {name}' needs the authoring extra: pip install '{AUTHOR_EXTRA}' "
        f"(missing: {', '.join(missing)})"
    )
    # Its options are unknown here, and argparse would refuse them before the message could be
    # given: with NUL, which no argument can hold, as the only option prefix, every argument
    # (`--help` too) is an operand.
    parser = subparsers.add_parser(
        name, help=UNAVAILABLE_SUMMARY, add_help=False, prefix_chars="\0"
    )
    parser.add_argument("arguments", nargs="*")

    def run(_: argparse.Namespace) -> int:
        raise ExtraMissing(message)

    parser.set_defaults(run=run)
