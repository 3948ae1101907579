"""Every command's --help, pinned: tests/cli/help/<command>[_<subcommand>].txt holds the help of
each command and subcommand (image-catalog.txt the top level's), rendered 100 columns wide.

After a change to an option or a help text, rewrite the files with

    IMAGE_CATALOG_UPDATE_HELP=1 python -m pytest -q -p no:cacheprovider tests/cli/test_help.py

and review the diff: it is what a user will read. Beside the files, each help must say what the
command does in one line, show an example that parses, and list only exit codes the table in
`cli/common.py` (EXIT_CODES) knows.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_catalog.cli import build_parser
from image_catalog.cli.common import EVERY_COMMAND, EXIT_CODES
from image_catalog.errors import ExitCode

HELP_DIR = Path(__file__).parent / "help"
UPDATE = os.environ.get("IMAGE_CATALOG_UPDATE_HELP") == "1"


def commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """(the command's words, its parser, its line in its parent's list) for the top level and
    every command and subcommand below it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                line = listed.get(name, action.help)
                yield (*words, name), sub, line
                yield from commands(sub, (*words, name))


Helps = dict[str, tuple[str, str | None]]


@pytest.fixture(scope="module")
def helps() -> Helps:
    """File name -> (the help as printed, the command's line in its parent's list)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("COLUMNS", "100")
        top = build_parser([])
        found = {"image-catalog.txt": (top.format_help(), None)}
        for words, parser, line in commands(top):
            found["_".join(words) + ".txt"] = (parser.format_help(), line)
    return found


def sections(text: str) -> dict[str, list[str]]:
    """The lines of each `NAME:` section at the end of a help (examples, exit codes)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if re.fullmatch(r"[a-z ]+:", line):
            current = found.setdefault(line[:-1], [])
        elif not line.strip():
            current = None
        elif current is not None:
            current.append(line)
    return found


def test_every_help_is_pinned(helps: Helps) -> None:
    if UPDATE:
        HELP_DIR.mkdir(exist_ok=True)
        for stale in {p.name for p in HELP_DIR.glob("*.txt")} - set(helps):
            (HELP_DIR / stale).unlink()
        for name, (text, _) in helps.items():
            (HELP_DIR / name).write_text(text, encoding="utf-8")
    pinned = {p.name for p in HELP_DIR.glob("*.txt")}
    assert pinned == set(helps), "regenerate with IMAGE_CATALOG_UPDATE_HELP=1 (see the top)"
    changed = [n for n, (text, _) in helps.items() if (HELP_DIR / n).read_text() != text]
    assert changed == [], "regenerate with IMAGE_CATALOG_UPDATE_HELP=1 (see the top)"


def test_every_command_says_what_it_does_in_one_line(helps: Helps) -> None:
    for name, (text, line) in helps.items():
        assert "--debug" in text, name
        if line is None:
            continue
        # Its line in the parent's list of commands opens its own help.
        assert "\n" not in line, name
        assert len(line) < 80, name
        description = text.split("\n\n")[1]
        assert description == f"{line[0].upper()}{line[1:]}.", name


def test_every_example_parses_as_its_command(helps: Helps) -> None:
    for name, (text, _) in helps.items():
        examples = sections(text).get("examples", [])
        assert examples, f"{name}: no example"
        words = [] if name == "image-catalog.txt" else name.removesuffix(".txt").split("_")
        command = " ".join(["image-catalog", *words])
        for example in examples:
            words = shlex.split(example)
            assert " ".join(words).startswith(command), f"{name}: {example}"
            parsed = build_parser(words[1:]).parse_args(words[1:])
            assert callable(parsed.run), f"{name}: {example}"


def test_every_help_lists_only_the_codes_of_the_table(helps: Helps) -> None:
    known = set(EXIT_CODES.values())
    always = {EXIT_CODES[name][0] for name in EVERY_COMMAND} | {ExitCode.OK}
    for name, (text, _) in helps.items():
        lines = sections(text).get("exit codes", [])
        listed = []
        for line in lines:
            code, _, meaning = line.strip().partition(" ")
            listed.append((ExitCode(int(code)), meaning.strip()))
        assert set(listed) <= known, name
        codes = [code for code, _ in listed]
        assert len(codes) == len(set(codes)), name
        assert codes == sorted(codes), name
        assert always <= set(codes), name


def test_every_line_of_the_table_is_in_some_help(helps: Helps) -> None:
    listed = set()
    for text, _ in helps.values():
        for line in sections(text).get("exit codes", []):
            code, _, meaning = line.strip().partition(" ")
            listed.add((ExitCode(int(code)), meaning.strip()))
    assert listed == set(EXIT_CODES.values())


def test_a_query_cannot_say_the_catalog_is_valid(helps: Helps) -> None:
    assert "the catalog is valid" not in helps["query.txt"][0]
    assert "the catalog is valid" in helps["validate.txt"][0]
    assert "  4 " not in helps["export_crs.txt"][0]
    assert "  4 " not in helps["handoff_unpack.txt"][0]


def test_check_merge_is_a_subcommand_of_check(helps: Helps) -> None:
    text = helps["check.txt"][0]
    usage = text.split("\n\n")[0]
    assert usage == (
        "usage: image-catalog check [options]\n"
        "       image-catalog check merge FILE [FILE ...] --out FILE [options]"
    )
    assert "[merge]" not in text
    assert "\nsubcommand:\n  merge " in text
